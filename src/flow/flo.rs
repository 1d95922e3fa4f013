//! Middlebury `.flo` files: the tag "PIEH" (the float 202021.25, little-endian), width and height as i32,
//! then (u, v) f32 pairs row by row, all little-endian.

use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::field::Flow;

const TAG: [u8; 4] = *b"PIEH";
/// Largest accepted side: bigger headers are corrupt or hostile, and are refused before any allocation.
pub const MAX_FLO_SIDE: usize = 16384;
/// The format's convention: components above this magnitude mean "unknown flow".
const UNKNOWN: f32 = 1e9;

#[derive(Debug, thiserror::Error)]
pub enum FlowFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a .flo file (magic {found:02x?}, expected \"PIEH\")")]
    BadMagic { path: PathBuf, found: [u8; 4] },
    #[error("{path}: header too short ({len} bytes, a .flo header is 12)")]
    TruncatedHeader { path: PathBuf, len: u64 },
    #[error("{path}: bad size {width}x{height} (each side must be 1..={max})", max = MAX_FLO_SIDE)]
    BadSize { path: PathBuf, width: i64, height: i64 },
    #[error("{path}: {width}x{height} flow needs {expected} bytes, the file has {actual}")]
    Truncated { path: PathBuf, width: usize, height: usize, expected: u64, actual: u64 },
    #[error("{path}: {extra} bytes after the {width}x{height} flow data")]
    TrailingData { path: PathBuf, width: usize, height: usize, extra: u64 },
}

/// Writes `flow` as a .flo file (not atomically; the caller renames into place if it needs that).
pub fn write_flo(path: &Path, flow: &Flow) -> Result<(), FlowFileError> {
    flow.check();
    let io = |source| FlowFileError::Io { path: path.to_path_buf(), source };
    let too_big = flow.width == 0 || flow.height == 0 || flow.width > MAX_FLO_SIDE || flow.height > MAX_FLO_SIDE;
    if too_big {
        return Err(FlowFileError::BadSize {
            path: path.to_path_buf(),
            width: flow.width as i64,
            height: flow.height as i64,
        });
    }
    let mut buf = Vec::with_capacity(12 + flow.u.len() * 8);
    buf.extend_from_slice(&TAG);
    buf.extend_from_slice(&(flow.width as i32).to_le_bytes());
    buf.extend_from_slice(&(flow.height as i32).to_le_bytes());
    for (u, v) in flow.u.iter().zip(&flow.v) {
        buf.extend_from_slice(&u.to_le_bytes());
        buf.extend_from_slice(&v.to_le_bytes());
    }
    let file = std::fs::File::create(path).map_err(io)?;
    let mut out = BufWriter::new(file);
    out.write_all(&buf).map_err(io)?;
    // No fsync: durability (temp file, sync, rename) is the caller's policy.
    out.flush().map_err(io)
}

/// Reads a .flo file. The header's size is checked against limits and against the file length before
/// anything is allocated. Unknown vectors (a component above 1e9, or NaN/infinite) read as zero; use
/// `read_flo_known` to learn which they were.
pub fn read_flo(path: &Path) -> Result<Flow, FlowFileError> {
    read_flo_known(path).map(|(flow, _)| flow)
}

/// `read_flo` plus a per-pixel mask: `true` where the file gives a known vector.
pub fn read_flo_known(path: &Path) -> Result<(Flow, Vec<bool>), FlowFileError> {
    let p = || path.to_path_buf();
    let io = |source| FlowFileError::Io { path: p(), source };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let mut header = [0u8; 12];
    if len < 12 {
        return Err(FlowFileError::TruncatedHeader { path: p(), len });
    }
    file.read_exact(&mut header).map_err(io)?;
    let found = [header[0], header[1], header[2], header[3]];
    if found != TAG {
        return Err(FlowFileError::BadMagic { path: p(), found });
    }
    let width = i32::from_le_bytes([header[4], header[5], header[6], header[7]]) as i64;
    let height = i32::from_le_bytes([header[8], header[9], header[10], header[11]]) as i64;
    let max = MAX_FLO_SIDE as i64;
    if !(1..=max).contains(&width) || !(1..=max).contains(&height) {
        return Err(FlowFileError::BadSize { path: p(), width, height });
    }
    let (w, h) = (width as usize, height as usize);
    let expected = 12 + w as u64 * h as u64 * 8;
    if len < expected {
        return Err(FlowFileError::Truncated { path: p(), width: w, height: h, expected, actual: len });
    }
    if len > expected {
        return Err(FlowFileError::TrailingData { path: p(), width: w, height: h, extra: len - expected });
    }
    let mut raw = vec![0u8; w * h * 8];
    file.read_exact(&mut raw).map_err(io)?;
    let mut flow = Flow::zeros(w, h);
    let mut known = vec![true; w * h];
    for (i, pair) in raw.chunks_exact(8).enumerate() {
        let u = f32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
        let v = f32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
        // NaN fails both comparisons, so it counts as unknown too.
        if u.abs() < UNKNOWN && v.abs() < UNKNOWN {
            flow.u[i] = u;
            flow.v[i] = v;
        } else {
            known[i] = false;
        }
    }
    Ok((flow, known))
}
