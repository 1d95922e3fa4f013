//! `brushwork weights import FILE`: safetensors, PyTorch .pth or ONNX, detected by content, turned
//! into the contract's file inside the store.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::convert::{check_finite, from_conv_list, is_feature_tensor, plan};
use super::format::{write_weights_file, NamedTensor, ShapedData, WeightsMeta};
use super::layout::{Arch, Preprocess};
use super::st_header::{read_header, read_tensor_f32};
use super::store::{sanitize_name, Entry, Store};
use super::{onnx, pth, WeightsError};

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Overrides the file's metadata and the per-format default.
    pub preprocess: Option<Preprocess>,
    /// The entry name; default: the file's stem (prefixed with the arch if it lacks it).
    pub name: Option<String>,
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Safetensors,
    Pth,
    Onnx,
}

/// Detects the format by content (the extension only breaks a tie for ONNX).
pub fn detect(path: &Path) -> Result<FileKind, WeightsError> {
    let mut head = [0u8; 16];
    let mut file = File::open(path).map_err(|e| WeightsError::io(path, e))?;
    let n = file.read(&mut head).map_err(|e| WeightsError::io(path, e))?;
    let len = file.metadata().map_err(|e| WeightsError::io(path, e))?.len();
    if n >= 4 && (head[..4] == *b"PK\x03\x04" || (n == 16 && head[..15] == pth::LEGACY_MAGIC)) {
        return Ok(FileKind::Pth);
    }
    if n >= 9 {
        let hlen = u64::from_le_bytes([head[0], head[1], head[2], head[3], head[4], head[5], head[6], head[7]]);
        if hlen >= 2 && hlen.saturating_add(8) <= len && head[8] == b'{' {
            return Ok(FileKind::Safetensors);
        }
    }
    // ModelProto starts with ir_version (field 1, varint: tag 0x08) in every exporter we know.
    let onnx_ext = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if (n >= 1 && head[0] == 0x08) || onnx_ext {
        return Ok(FileKind::Onnx);
    }
    Err(WeightsError::UnknownFormat { path: path.to_path_buf() })
}

/// Imports a weights file into `store`; see the module docs. The first entry becomes the default.
pub fn import_file(store: &Store, path: &Path, opts: &ImportOptions) -> Result<Entry, WeightsError> {
    let (arch, tensors, file_preprocess) = match detect(path)? {
        FileKind::Safetensors => read_safetensors(path)?,
        FileKind::Pth => {
            let (arch, tensors) = named_to_contract(pth::read_feature_tensors(path)?, path)?;
            (arch, tensors, Preprocess::Torchvision)
        }
        FileKind::Onnx => {
            let (arch, tensors) = from_conv_list(onnx::read_conv_layers(path)?, path)?;
            (arch, tensors, Preprocess::Caffe)
        }
    };
    let preprocess = opts.preprocess.unwrap_or(file_preprocess);
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let meta = WeightsMeta { arch, preprocess, source: format!("file:{}", abs.display()) };
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => default_name(path, arch),
    };
    install(store, &name, &meta, &tensors)
}

/// Writes `tensors` as a contract file into the store under `name`.
pub(crate) fn install(
    store: &Store,
    name: &str,
    meta: &WeightsMeta,
    tensors: &[NamedTensor],
) -> Result<Entry, WeightsError> {
    let staging = store.staging_path(&sanitize_name(name));
    write_weights_file(&staging, meta, tensors)?;
    let entry = store.install(name, &staging, meta);
    if entry.is_err() {
        let _ = std::fs::remove_file(&staging);
    }
    entry
}

fn default_name(path: &Path, arch: Arch) -> String {
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let stem = sanitize_name(&stem);
    if stem.contains(arch.as_str()) {
        stem
    } else {
        format!("{arch}-{stem}")
    }
}

/// Reads only the `features.*` tensors of a (possibly large) safetensors file.
fn read_safetensors(path: &Path) -> Result<(Arch, Vec<NamedTensor>, Preprocess), WeightsError> {
    let header = read_header(path)?;
    let infos: BTreeMap<&str, _> =
        header.tensors.iter().filter(|t| is_feature_tensor(&t.name)).map(|t| (t.name.as_str(), t)).collect();
    let shapes = infos.iter().map(|(n, t)| (n.to_string(), t.shape.clone())).collect();
    let (arch, names) = plan(&shapes, path)?;
    let mut file = File::open(path).map_err(|e| WeightsError::io(path, e))?;
    let mut tensors = Vec::new();
    for name in names {
        let t = infos[name.as_str()];
        let data = read_tensor_f32(&mut file, &header, t, path)?;
        check_finite(&name, &data, path)?;
        tensors.push((name, t.shape.clone(), data));
    }
    let preprocess = match header.metadata.get("preprocess") {
        Some(p) => p.parse().map_err(|e: String| WeightsError::format(path, e))?,
        None => Preprocess::Torchvision,
    };
    Ok((arch, tensors, preprocess))
}

/// `features.*` tensors by name → the contract's tensors in network order.
pub(crate) fn named_to_contract(
    mut named: BTreeMap<String, ShapedData>,
    path: &Path,
) -> Result<(Arch, Vec<NamedTensor>), WeightsError> {
    let shapes = named.iter().map(|(n, (s, _))| (n.clone(), s.clone())).collect();
    let (arch, names) = plan(&shapes, path)?;
    let mut tensors = Vec::new();
    for name in names {
        let Some((shape, data)) = named.remove(&name) else {
            return Err(WeightsError::MissingTensor { path: path.to_path_buf(), tensor: name });
        };
        check_finite(&name, &data, path)?;
        tensors.push((name, shape, data));
    }
    Ok((arch, tensors))
}

/// `.pth` files torch.hub has already downloaded: `$TORCH_HOME/hub/checkpoints` (else
/// `~/.cache/torch/hub/checkpoints`), files named `vgg16-*.pth` / `vgg19-*.pth`, sorted.
pub fn torch_hub_candidates() -> Vec<PathBuf> {
    use crate::util::dirs::{cache_home, env_path};
    let Some(torch_home) = env_path("TORCH_HOME").or_else(|| cache_home().map(|c| c.join("torch"))) else {
        return Vec::new();
    };
    let dir = torch_home.join("hub").join("checkpoints");
    let Ok(read) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut found: Vec<PathBuf> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            (name.starts_with("vgg16-") || name.starts_with("vgg19-")) && name.ends_with(".pth") && p.is_file()
        })
        .collect();
    found.sort();
    found
}
