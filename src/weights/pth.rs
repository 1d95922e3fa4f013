//! PyTorch `.pth` state dicts: the zip format (torch ≥ 1.6, read with `candle_core::pickle`) and the
//! legacy format (one stream of pickles then raw storages, as torchvision's 2017 VGG files use).

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use candle_core::pickle::{Object, PthTensors, Stack};
use candle_core::DType;

use super::convert::is_feature_tensor;
use super::format::ShapedData;
use super::WeightsError;

/// The first pickle of a legacy torch file: the magic number 0x1950a86a20f9469cfc6c (protocol 2).
pub const LEGACY_MAGIC: [u8; 15] =
    [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];

/// Shape and f32 values of each `features.N.weight|bias` tensor of a `.pth` file (zip or legacy).
pub fn read_feature_tensors(path: &Path) -> Result<BTreeMap<String, ShapedData>, WeightsError> {
    let mut head = [0u8; 15];
    let n = File::open(path).and_then(|mut f| f.read(&mut head)).map_err(|e| WeightsError::io(path, e))?;
    // candle's pickle reader may panic on malformed input; a bad file must be an error, not a crash.
    let result = catch_unwind(AssertUnwindSafe(|| {
        if n == 15 && head == LEGACY_MAGIC {
            read_legacy(path)
        } else {
            read_zip(path)
        }
    }));
    result.unwrap_or_else(|_| Err(WeightsError::format(path, "malformed PyTorch pickle")))
}

fn candle_err(path: &Path, e: candle_core::Error) -> WeightsError {
    WeightsError::format(path, format!("not a readable PyTorch state dict: {e}"))
}

fn read_zip(path: &Path) -> Result<BTreeMap<String, ShapedData>, WeightsError> {
    // A bare state dict, or one stored under a common key of a checkpoint dict.
    let mut last_err = None;
    for key in [None, Some("state_dict"), Some("model")] {
        let pth = match PthTensors::new(path, key) {
            Ok(p) => p,
            Err(e) => {
                last_err.get_or_insert(e);
                continue;
            }
        };
        let names: Vec<String> = pth.tensor_infos().keys().filter(|n| is_feature_tensor(n)).cloned().collect();
        if names.is_empty() {
            continue;
        }
        let mut out = BTreeMap::new();
        for name in names {
            let t = pth
                .get(&name)
                .map_err(|e| candle_err(path, e))?
                .ok_or_else(|| WeightsError::MissingTensor { path: path.to_path_buf(), tensor: name.clone() })?;
            let shape = t.dims().to_vec();
            let data = t
                .to_dtype(DType::F32)
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(|e| candle_err(path, e))?;
            out.insert(name, (shape, data));
        }
        return Ok(out);
    }
    match last_err {
        Some(e) if !is_zip(path) => Err(WeightsError::format(path, format!("not a PyTorch zip or legacy file ({e})"))),
        _ => Err(WeightsError::MissingTensor { path: path.to_path_buf(), tensor: "features.0.weight".into() }),
    }
}

fn is_zip(path: &Path) -> bool {
    let mut head = [0u8; 4];
    File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && head == *b"PK\x03\x04"
}

/// A tensor of a legacy file: which storage, where in it, what shape.
struct TensorRef {
    key: String,
    dtype: DType,
    offset: usize,
    shape: Vec<usize>,
    stride: Vec<usize>,
}

fn read_legacy(path: &Path) -> Result<BTreeMap<String, ShapedData>, WeightsError> {
    let bad = |msg: String| WeightsError::format(path, format!("legacy PyTorch file: {msg}"));
    let file = File::open(path).map_err(|e| WeightsError::io(path, e))?;
    let mut r = BufReader::new(file);
    let mut magic = [0u8; 15];
    r.read_exact(&mut magic).map_err(|e| WeightsError::io(path, e))?;
    let _protocol = read_pickle(&mut r).map_err(|e| bad(e.to_string()))?;
    let _sys_info = read_pickle(&mut r).map_err(|e| bad(e.to_string()))?;
    let obj = read_pickle(&mut r).map_err(|e| bad(e.to_string()))?;
    let Object::Dict(items) = obj else { return Err(bad("the top-level object is not a state dict".into())) };
    let mut refs = Vec::new();
    for (k, v) in items {
        let Object::Unicode(name) = k else { continue };
        if !is_feature_tensor(&name) {
            continue;
        }
        let t = tensor_ref(v).ok_or_else(|| bad(format!("`{name}` is not a tensor")))?;
        refs.push((name, t));
    }
    let keys = match read_pickle(&mut r).map_err(|e| bad(e.to_string()))? {
        Object::List(keys) => keys.into_iter().filter_map(|k| k.unicode().ok()).collect::<Vec<_>>(),
        _ => return Err(bad("no storage key list".into())),
    };
    let wanted: HashMap<&str, DType> = refs.iter().map(|(_, t)| (t.key.as_str(), t.dtype)).collect();
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for key in keys {
        let mut n = [0u8; 8];
        r.read_exact(&mut n).map_err(|_| bad("truncated storage data".into()))?;
        let numel = u64::from_le_bytes(n);
        let size = wanted.get(key.as_str()).map(|d| d.size_in_bytes()).unwrap_or(4) as u64;
        let len = numel.checked_mul(size).ok_or_else(|| bad("storage size overflows".into()))?;
        if wanted.contains_key(key.as_str()) {
            let mut buf = Vec::new();
            (&mut r).take(len).read_to_end(&mut buf).map_err(|e| WeightsError::io(path, e))?;
            if buf.len() as u64 != len {
                return Err(bad("truncated storage data".into()));
            }
            storages.insert(key, buf);
        } else {
            let skipped =
                std::io::copy(&mut (&mut r).take(len), &mut std::io::sink()).map_err(|e| WeightsError::io(path, e))?;
            if skipped != len {
                return Err(bad("truncated storage data".into()));
            }
        }
    }
    let mut out = BTreeMap::new();
    for (name, t) in refs {
        let data = slice_storage(&storages, &t).map_err(|msg| WeightsError::BadTensor {
            path: path.to_path_buf(),
            tensor: name.clone(),
            msg,
        })?;
        out.insert(name, (t.shape, data));
    }
    Ok(out)
}

fn read_pickle<R: BufRead>(r: &mut R) -> candle_core::Result<Object> {
    let mut stack = Stack::empty();
    stack.read_loop(r)?;
    stack.finalize()
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, ...)` or the older `_rebuild_tensor(...)`,
/// possibly wrapped in `_rebuild_parameter`.
fn tensor_ref(obj: Object) -> Option<TensorRef> {
    let (callable, args) = obj.reduce().ok()?;
    let (module, class) = callable.class().ok()?;
    let mut args = args.tuple().ok()?;
    if module == "torch._utils" && class == "_rebuild_parameter" {
        return tensor_ref(args.drain(..).next()?);
    }
    if module != "torch._utils" || !(class == "_rebuild_tensor_v2" || class == "_rebuild_tensor") || args.len() < 4 {
        return None;
    }
    let ints = |o: &Object| match o {
        Object::Tuple(v) => {
            v.iter().map(|d| d.clone().int_or_long().ok().map(|d| d as usize)).collect::<Option<Vec<_>>>()
        }
        _ => None,
    };
    let stride = ints(&args[3])?;
    let shape = ints(&args[2])?;
    let offset = args[1].clone().int_or_long().ok()? as usize;
    let mut storage = args.swap_remove(0).persistent_load().ok()?.tuple().ok()?;
    if storage.len() < 3 {
        return None;
    }
    let key = storage.swap_remove(2).unicode().ok()?;
    let (_, storage_class) = storage.swap_remove(1).class().ok()?;
    let dtype = match storage_class.as_str() {
        "FloatStorage" => DType::F32,
        "DoubleStorage" => DType::F64,
        "HalfStorage" => DType::F16,
        "BFloat16Storage" => DType::BF16,
        _ => return None,
    };
    Some(TensorRef { key, dtype, offset, shape, stride })
}

fn slice_storage(storages: &HashMap<String, Vec<u8>>, t: &TensorRef) -> Result<Vec<f32>, String> {
    let bytes = storages.get(&t.key).ok_or("storage missing from the file")?;
    let mut expected = 1;
    for (&dim, &stride) in t.shape.iter().zip(&t.stride).rev() {
        if dim > 1 && stride != expected {
            return Err("non-contiguous tensor".into());
        }
        expected *= dim;
    }
    let elems: usize = t.shape.iter().product();
    let size = t.dtype.size_in_bytes();
    let range = t.offset * size..(t.offset + elems) * size;
    let raw = bytes.get(range).ok_or("tensor runs past its storage")?;
    let name = match t.dtype {
        DType::F64 => "F64",
        DType::F16 => "F16",
        DType::BF16 => "BF16",
        _ => "F32",
    };
    super::decode::to_f32(name, raw)
}
