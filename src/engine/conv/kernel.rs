//! A convolution kernel read to the host once, shared by the CPU convolutions.

use std::sync::Arc;

use candle_core::{DType, Device, Result, Tensor};

/// A 3x3 kernel `[Cout, Cin, 3, 3]` (row-major) and its bias `[Cout]`, read to the host in f32.
pub struct HostKernel {
    pub cout: usize,
    pub cin: usize,
    pub weights: Vec<f32>,
    pub bias: Option<Arc<Vec<f32>>>,
}

impl HostKernel {
    pub fn read(kernel: &Tensor, bias: Option<&Tensor>) -> Result<Self> {
        let (cout, cin, kh, kw) = kernel.dims4()?;
        if (kh, kw) != (3, 3) {
            candle_core::bail!("a 3x3 kernel is needed, got {kh}x{kw}");
        }
        let weights = kernel.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?;
        let bias = match bias {
            Some(b) => Some(Arc::new(b.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?)),
            None => None,
        };
        Ok(Self { cout, cin, weights, bias })
    }
}
