//! The safetensors header: an 8-byte little-endian length, then JSON naming each tensor's dtype,
//! shape and byte range. Shared by reading files, importing and ranged downloads.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::WeightsError;

/// Headers larger than this are refused (real ones are a few KB).
pub const MAX_HEADER_LEN: u64 = 100 << 20;

/// One tensor as the header describes it; offsets are relative to the start of the data.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
    pub start: u64,
    pub end: u64,
}

#[derive(Debug, Clone)]
pub struct Header {
    /// Length of the JSON part; the data starts at `8 + json_len`.
    pub json_len: u64,
    pub metadata: BTreeMap<String, String>,
    /// In the order of their data offsets.
    pub tensors: Vec<TensorInfo>,
}

impl Header {
    pub fn data_start(&self) -> u64 {
        8 + self.json_len
    }
}

/// Bytes per element of a safetensors dtype.
pub fn dtype_size(dtype: &str) -> Option<usize> {
    Some(match dtype {
        "F64" | "I64" | "U64" => 8,
        "F32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "BOOL" | "F8_E4M3" | "F8_E5M2" => 1,
        _ => return None,
    })
}

/// Decodes the first 8 bytes into the JSON header length, refusing absurd values.
pub fn parse_len(first8: [u8; 8], path: &Path) -> Result<u64, WeightsError> {
    let n = u64::from_le_bytes(first8);
    if !(2..=MAX_HEADER_LEN).contains(&n) {
        return Err(WeightsError::format(path, format!("not a safetensors file (header length {n})")));
    }
    Ok(n)
}

/// Parses the JSON header (`json.len()` must be the header length).
pub fn parse_json(json: &[u8], path: &Path) -> Result<Header, WeightsError> {
    let bad = |msg: String| WeightsError::format(path, format!("bad safetensors header: {msg}"));
    let value: serde_json::Value = serde_json::from_slice(json).map_err(|e| bad(e.to_string()))?;
    let obj = value.as_object().ok_or_else(|| bad("not a JSON object".into()))?;
    let mut metadata = BTreeMap::new();
    let mut tensors = Vec::new();
    for (name, v) in obj {
        if name == "__metadata__" {
            let m = v.as_object().ok_or_else(|| bad("__metadata__ is not an object".into()))?;
            for (k, v) in m {
                if let Some(s) = v.as_str() {
                    metadata.insert(k.clone(), s.to_string());
                }
            }
            continue;
        }
        let bad_t = |what: &str| bad(format!("tensor `{name}`: {what}"));
        let dtype = v.get("dtype").and_then(|d| d.as_str()).ok_or_else(|| bad_t("no dtype"))?;
        let shape = v
            .get("shape")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect::<Option<Vec<_>>>())
            .ok_or_else(|| bad_t("bad shape"))?;
        let offsets = v
            .get("data_offsets")
            .and_then(|s| s.as_array())
            .and_then(|a| a.iter().map(|d| d.as_u64()).collect::<Option<Vec<_>>>())
            .filter(|a| a.len() == 2)
            .ok_or_else(|| bad_t("bad data_offsets"))?;
        let (start, end) = (offsets[0], offsets[1]);
        let elems: u64 = shape.iter().map(|&d| d as u64).product();
        let size = dtype_size(dtype).map(|s| s as u64 * elems);
        if end < start || size.is_some_and(|s| s != end - start) {
            return Err(bad_t("data_offsets do not match dtype and shape"));
        }
        tensors.push(TensorInfo { name: name.clone(), dtype: dtype.to_string(), shape, start, end });
    }
    tensors.sort_by_key(|t| (t.start, t.end));
    Ok(Header { json_len: json.len() as u64, metadata, tensors })
}

/// Reads only the header of a safetensors file and checks the file is long enough for its data.
pub fn read_header(path: &Path) -> Result<Header, WeightsError> {
    let mut file = File::open(path).map_err(|e| WeightsError::io(path, e))?;
    let file_len = file.metadata().map_err(|e| WeightsError::io(path, e))?.len();
    let mut first8 = [0u8; 8];
    file.read_exact(&mut first8)
        .map_err(|_| WeightsError::format(path, "not a safetensors file (shorter than 8 bytes)"))?;
    let n = parse_len(first8, path)?;
    if 8 + n > file_len {
        return Err(WeightsError::format(path, "not a safetensors file (truncated header)"));
    }
    let mut json = vec![0u8; n as usize];
    file.read_exact(&mut json).map_err(|e| WeightsError::io(path, e))?;
    let header = parse_json(&json, path)?;
    let data_len = header.tensors.iter().map(|t| t.end).max().unwrap_or(0);
    if header.data_start() + data_len > file_len {
        return Err(WeightsError::format(path, "truncated safetensors file (data ends early)"));
    }
    Ok(header)
}

/// Reads one tensor's bytes from an open safetensors file and converts them to f32.
pub fn read_tensor_f32(
    file: &mut std::fs::File,
    header: &Header,
    t: &TensorInfo,
    path: &Path,
) -> Result<Vec<f32>, WeightsError> {
    use std::io::{Read, Seek, SeekFrom};
    let mut bytes = vec![0u8; (t.end - t.start) as usize];
    file.seek(SeekFrom::Start(header.data_start() + t.start))
        .and_then(|_| file.read_exact(&mut bytes))
        .map_err(|e| WeightsError::io(path, e))?;
    super::decode::to_f32(&t.dtype, &bytes).map_err(|msg| WeightsError::BadTensor {
        path: path.to_path_buf(),
        tensor: t.name.clone(),
        msg,
    })
}
