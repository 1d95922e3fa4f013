//! Reading a CPU tensor's storage in the custom ops (convolutions, pooling).

use candle_core::{CpuStorage, Layout, Result};

/// The f32 data of a contiguous CPU tensor, or an error naming `op`.
pub fn f32_input<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let CpuStorage::F32(data) = s else {
        candle_core::bail!("{op}: f32 input needed");
    };
    let Some((start, end)) = l.contiguous_offsets() else {
        candle_core::bail!("{op}: contiguous input needed");
    };
    Ok(&data[start..end])
}
