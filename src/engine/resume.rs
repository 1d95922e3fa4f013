//! Everything needed to continue a stylisation exactly where it stopped: the image being
//! optimised, the optimiser's full state, the position in the scale schedule and the RNG.
//!
//! Stored as one safetensors file (so one rename makes it atomic): tensors `image`, `adam.m`,
//! `adam.v`, `lbfgs.{i}.s`, `lbfgs.{i}.y` in their own dtype, and the scalars as JSON in the
//! metadata key `resume`. Resuming re-evaluates the loss at the stored image, which is
//! deterministic, so a resumed run follows the same path as an uninterrupted one.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use safetensors::tensor::{Dtype, Metadata};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct ResumeState {
    /// 0-based index of the scale in progress.
    pub scale: u32,
    /// Iterations finished at that scale.
    pub done_in_scale: u32,
    /// Iterations finished over all scales.
    pub iteration: u32,
    /// Seconds spent before the checkpoint (the clock continues from here).
    pub seconds: f64,
    /// The image at the scale's size, `(1, 3, h, w)` in [0, 1].
    pub image: Tensor,
    pub adam_step: u32,
    pub adam_m: Option<Tensor>,
    pub adam_v: Option<Tensor>,
    /// L-BFGS curvature pairs `(s, y, 1/yᵀs)`, oldest first.
    pub lbfgs: Vec<(Tensor, Tensor, f64)>,
    pub rng: u64,
}

#[derive(Serialize, Deserialize)]
struct Scalars {
    version: u32,
    scale: u32,
    done_in_scale: u32,
    iteration: u32,
    seconds: f64,
    adam_step: u32,
    lbfgs_rho: Vec<f64>,
    rng: u64,
}

const META_KEY: &str = "resume";

impl ResumeState {
    /// The state as safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.write_to(&mut out).map_err(|e| Error::Internal(format!("checkpoint: {e}")))?;
        Ok(out)
    }

    /// Writes the checkpoint in the safetensors format to `w`, one tensor at a time: only one
    /// tensor's bytes are ever held besides the state itself (at 4096x3072 an L-BFGS state is
    /// 1.6 GB, which serialising into one buffer held twice over).
    pub fn write_to(&self, w: &mut dyn std::io::Write) -> std::io::Result<()> {
        let io = |e: Error| std::io::Error::other(e.to_string());
        let mut named: Vec<(String, &Tensor)> = vec![("image".into(), &self.image)];
        if let Some(m) = &self.adam_m {
            named.push(("adam.m".into(), m));
        }
        if let Some(v) = &self.adam_v {
            named.push(("adam.v".into(), v));
        }
        for (i, (s, y, _)) in self.lbfgs.iter().enumerate() {
            named.push((format!("lbfgs.{i}.s"), s));
            named.push((format!("lbfgs.{i}.y"), y));
        }
        let scalars = Scalars {
            version: 1,
            scale: self.scale,
            done_in_scale: self.done_in_scale,
            iteration: self.iteration,
            seconds: self.seconds,
            adam_step: self.adam_step,
            lbfgs_rho: self.lbfgs.iter().map(|p| p.2).collect(),
            rng: self.rng,
        };
        // The header: each tensor's dtype, shape and byte range, in the order the data follows,
        // and the scalars as metadata; padded with spaces to a multiple of 8 bytes.
        let mut header = serde_json::Map::new();
        header.insert("__metadata__".into(), serde_json::json!({ META_KEY: json(&scalars).map_err(io)? }));
        let mut offset = 0usize;
        for (name, t) in &named {
            let (dtype, size) = match t.dtype() {
                DType::F64 => ("F64", 8),
                DType::BF16 => ("BF16", 2),
                _ => ("F32", 4),
            };
            let len = t.elem_count() * size;
            header.insert(
                name.clone(),
                serde_json::json!({"dtype": dtype, "shape": t.dims(), "data_offsets": [offset, offset + len]}),
            );
            offset += len;
        }
        let mut text = serde_json::to_string(&header).map_err(std::io::Error::other)?;
        while text.len() % 8 != 0 {
            text.push(' ');
        }
        w.write_all(&(text.len() as u64).to_le_bytes())?;
        w.write_all(text.as_bytes())?;
        for (_, t) in &named {
            let (_, bytes) = tensor_bytes(t).map_err(io)?;
            w.write_all(&bytes)?;
        }
        Ok(())
    }

    /// Reads what [`ResumeState::to_bytes`] wrote; `what` names the file in errors.
    pub fn from_bytes(bytes: &[u8], device: &Device, what: &Path) -> Result<Self> {
        Self::read_from(&mut &bytes[..], bytes.len() as u64, device, what)
    }

    /// Reads a checkpoint of `len` bytes as [`ResumeState::write_to`] wrote it, one tensor at a
    /// time: the file is never held whole besides the state (at 4096x3072 an L-BFGS state is
    /// 1.6 GB). The header is checked (offsets contiguous, sizes matching shapes, the file's length
    /// the header's) before any tensor is allocated. `what` names the file in errors.
    pub fn read_from(r: &mut dyn Read, len: u64, device: &Device, what: &Path) -> Result<Self> {
        let bad = |m: String| Error::input(what, format!("damaged checkpoint: {m}"));
        let mut n = [0u8; 8];
        r.read_exact(&mut n).map_err(|e| bad(format!("no header ({e})")))?;
        let n = u64::from_le_bytes(n);
        if n > MAX_HEADER_BYTES || n + 8 > len {
            return Err(bad(format!("a header of {n} bytes in a file of {len}")));
        }
        let mut header = vec![0u8; n as usize];
        r.read_exact(&mut header).map_err(|e| bad(format!("header: {e}")))?;
        let header = std::str::from_utf8(&header).map_err(|e| bad(e.to_string()))?;
        let layout: Metadata = serde_json::from_str(header).map_err(|e| bad(e.to_string()))?;
        if 8 + n + layout.data_len() as u64 != len {
            return Err(bad(format!("{len} bytes where its header says {}", 8 + n + layout.data_len() as u64)));
        }
        let meta = layout.metadata().as_ref().and_then(|m| m.get(META_KEY)).ok_or_else(|| bad("no state".into()))?;
        let s: Scalars = serde_json::from_str(meta).map_err(|e| bad(e.to_string()))?;
        // In file order (the header is sorted by offset and checked contiguous from 0).
        let mut tensors = HashMap::new();
        for name in layout.offset_keys() {
            let info = layout.info(&name).ok_or_else(|| bad(format!("no {name}")))?;
            let (start, end) = info.data_offsets;
            let mut bytes = vec![0u8; end - start];
            r.read_exact(&mut bytes).map_err(|e| bad(format!("{name}: {e}")))?;
            let shape = info.shape.clone();
            let t = match info.dtype {
                Dtype::F32 => Tensor::from_vec(le_f32(&bytes), shape, device)?,
                Dtype::F64 => Tensor::from_vec(le_f64(&bytes), shape, device)?,
                // A compact L-BFGS history's pairs; widened exactly to f32 on the way.
                Dtype::BF16 => Tensor::from_vec(le_bf16(&bytes), shape, device)?.to_dtype(DType::BF16)?,
                other => return Err(bad(format!("{name} has dtype {other:?}"))),
            };
            tensors.insert(name, t);
        }
        let mut get = |name: &str| tensors.remove(name);
        let image = get("image").ok_or_else(|| bad("no image".into()))?;
        let mut lbfgs = Vec::with_capacity(s.lbfgs_rho.len());
        for (i, rho) in s.lbfgs_rho.iter().enumerate() {
            let sv = get(&format!("lbfgs.{i}.s")).ok_or_else(|| bad(format!("no lbfgs.{i}.s")))?;
            let yv = get(&format!("lbfgs.{i}.y")).ok_or_else(|| bad(format!("no lbfgs.{i}.y")))?;
            lbfgs.push((sv, yv, *rho));
        }
        Ok(Self {
            scale: s.scale,
            done_in_scale: s.done_in_scale,
            iteration: s.iteration,
            seconds: s.seconds,
            image,
            adam_step: s.adam_step,
            adam_m: get("adam.m"),
            adam_v: get("adam.v"),
            lbfgs,
            rng: s.rng,
        })
    }
}

/// A checkpoint's header is a few hundred bytes; anything near this is not one.
const MAX_HEADER_BYTES: u64 = 1 << 20;

fn json<T: Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| Error::Internal(format!("checkpoint: {e}")))
}

fn tensor_bytes(t: &Tensor) -> Result<(Dtype, Vec<u8>)> {
    let flat = t.flatten_all()?;
    Ok(match t.dtype() {
        DType::F64 => (Dtype::F64, flat.to_vec1::<f64>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
        // A bf16 is the upper half of the f32 it widens to (exactly).
        DType::BF16 => (
            Dtype::BF16,
            flat.to_dtype(DType::F32)?
                .to_vec1::<f32>()?
                .iter()
                .flat_map(|v| ((v.to_bits() >> 16) as u16).to_le_bytes())
                .collect(),
        ),
        _ => (Dtype::F32, flat.to_dtype(DType::F32)?.to_vec1::<f32>()?.iter().flat_map(|v| v.to_le_bytes()).collect()),
    })
}

fn le_f32(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn le_bf16(b: &[u8]) -> Vec<f32> {
    b.chunks_exact(2).map(|c| f32::from_bits((u16::from_le_bytes([c[0], c[1]]) as u32) << 16)).collect()
}

fn le_f64(b: &[u8]) -> Vec<f64> {
    b.chunks_exact(8).map(|c| f64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_field_bit_for_bit() {
        let d = Device::Cpu;
        let img = Tensor::from_vec(vec![0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6], (1, 3, 1, 2), &d).unwrap();
        let s = Tensor::from_vec(vec![1e-7f32, -2.5, 3.0, 0.0, 1.0, 2.0], (1, 3, 1, 2), &d).unwrap();
        let state = ResumeState {
            scale: 1,
            done_in_scale: 7,
            iteration: 27,
            seconds: 12.345678901234,
            image: img,
            adam_step: 0,
            adam_m: None,
            adam_v: None,
            lbfgs: vec![(s.clone(), (&s * 2.0).unwrap(), 0.1 + 0.2)],
            rng: u64::MAX - 3,
        };
        let bytes = state.to_bytes().unwrap();
        let back = ResumeState::from_bytes(&bytes, &d, std::path::Path::new("x")).unwrap();
        assert_eq!((back.scale, back.done_in_scale, back.iteration, back.rng), (1, 7, 27, u64::MAX - 3));
        assert_eq!(back.seconds, 12.345678901234);
        let pixels: Vec<f32> = back.image.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(pixels, vec![0.1f32, 0.2, 0.3, 0.4, 0.5, 0.6]);
        assert_eq!(back.image.dims(), &[1, 3, 1, 2]);
        assert_eq!(back.lbfgs.len(), 1);
        assert_eq!(back.lbfgs[0].2, 0.1 + 0.2);
        let y: Vec<f32> = back.lbfgs[0].1.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(y, vec![2e-7f32, -5.0, 6.0, 0.0, 2.0, 4.0]);
        assert!(back.adam_m.is_none());
        // A compact history's bf16 pairs come back bf16, bit for bit.
        let bf = |t: &Tensor| t.to_dtype(DType::BF16).unwrap();
        let compact = ResumeState { lbfgs: vec![(bf(&s), bf(&(&s * -3.0).unwrap()), 0.5)], ..state.clone() };
        let back = ResumeState::from_bytes(&compact.to_bytes().unwrap(), &d, std::path::Path::new("x")).unwrap();
        assert_eq!(back.lbfgs[0].0.dtype(), DType::BF16);
        let widen =
            |t: &Tensor| -> Vec<f32> { t.to_dtype(DType::F32).unwrap().flatten_all().unwrap().to_vec1().unwrap() };
        assert_eq!(widen(&back.lbfgs[0].0), widen(&compact.lbfgs[0].0));
        assert_eq!(widen(&back.lbfgs[0].1), widen(&compact.lbfgs[0].1));
        assert!(ResumeState::from_bytes(&bytes[..bytes.len() - 4], &d, std::path::Path::new("x")).is_err());
        // Damaged headers are refused before anything is allocated for them: a length past the
        // file, a tensor's range not matching its shape, bytes after the last tensor.
        let what = std::path::Path::new("ck.safetensors");
        let mut huge = bytes.clone();
        huge[..8].copy_from_slice(&(u64::MAX / 2).to_le_bytes());
        let e = ResumeState::from_bytes(&huge, &d, what).unwrap_err().to_string();
        assert!(e.contains("ck.safetensors") && e.contains("damaged checkpoint: a header of"), "{e}");
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header = &text[8..8 + n];
        let shrunk = header.replacen("[1,3,1,2]", "[1,3,1,1]", 1);
        let mut wrong = bytes[..8].to_vec();
        wrong.extend_from_slice(shrunk.as_bytes());
        wrong.extend_from_slice(&bytes[8 + n..]);
        assert!(ResumeState::from_bytes(&wrong, &d, what).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&[0; 8]);
        let e = ResumeState::from_bytes(&longer, &d, what).unwrap_err().to_string();
        assert!(e.contains("bytes where its header says"), "{e}");
    }
}
