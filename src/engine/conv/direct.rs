//! A CPU 3x3, stride-1, pad-1 convolution as nine shifted matrix products, with bias and ReLU
//! fused; no im2col buffer.
//!
//! The input is copied once into a zero-padded plane per channel, `(H+2)·(W+2) + 2` floats long. In
//! that layout the output row-major over `H × (W+2)` positions is, for each tap `(dy, dx)`, one
//! matrix product `K_tap[Cout, Cin] · X[Cin, H·(W+2)]` where `X` is the padded input read from offset
//! `dy·(W+2) + dx`: a plain strided view, so the nine products accumulate into one buffer. The two
//! extra columns per row are discarded when the result is cropped (and bias and ReLU applied). The
//! two spare floats per plane keep the last tap's reads in bounds.

use std::sync::Arc;

use candle_core::{Result, Tensor};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;

use super::kernel::HostKernel;

/// A 3x3 convolution with its kernel laid out per tap: `taps[t][co][ci]`, `t = 3·dy + dx`.
#[derive(Debug, Clone)]
pub struct TapConv {
    taps: Arc<Vec<f32>>,
    bias: Option<Arc<Vec<f32>>>,
    cin: usize,
    cout: usize,
    relu: bool,
}

impl TapConv {
    /// `kernel` is `[Cout, Cin, 3, 3]`; `bias` is `[Cout]`.
    pub fn new(kernel: &Tensor, bias: Option<&Tensor>, relu: bool) -> Result<Self> {
        let HostKernel { cout, cin, weights: k, bias } = HostKernel::read(kernel, bias)?;
        let mut taps = vec![0f32; 9 * cout * cin];
        for co in 0..cout {
            for ci in 0..cin {
                for t in 0..9 {
                    taps[(t * cout + co) * cin + ci] = k[(co * cin + ci) * 9 + t];
                }
            }
        }
        Ok(Self { taps: Arc::new(taps), bias, cin, cout, relu })
    }

    pub fn cin(&self) -> usize {
        self.cin
    }

    pub fn cout(&self) -> usize {
        self.cout
    }

    /// One image: `x` is `[Cin, H, W]`, the result `[Cout, H, W]`. With `mask`, also `[Cin, H, W]`,
    /// the input is `x · (mask > 0)`: a ReLU's backward pass fused into the copy.
    pub fn run(&self, x: &[f32], mask: Option<&[f32]>, h: usize, w: usize) -> Vec<f32> {
        let (cin, cout) = (self.cin, self.cout);
        let wp = w + 2;
        let plane = (h + 2) * wp + 2;
        let mut padded = vec![0f32; cin * plane];
        padded.par_chunks_mut(plane).enumerate().for_each(|(ci, dst)| {
            let src = &x[ci * h * w..(ci + 1) * h * w];
            for y in 0..h {
                let at = (y + 1) * wp + 1;
                let row = &src[y * w..(y + 1) * w];
                match mask {
                    None => dst[at..at + w].copy_from_slice(row),
                    Some(m) => {
                        let m = &m[ci * h * w + y * w..ci * h * w + (y + 1) * w];
                        for ((d, &v), &a) in dst[at..at + w].iter_mut().zip(row).zip(m) {
                            *d = if a > 0.0 { v } else { 0.0 };
                        }
                    }
                }
            }
        });
        let n = h * wp;
        let mut wide = vec![0f32; cout * n];
        let threads = candle_core::utils::get_num_threads();
        let parallelism = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
        for t in 0..9 {
            let offset = (t / 3) * wp + t % 3;
            // SAFETY: dst is cout×n (row stride n) inside `wide`; lhs is tap t's cout×cin block of
            // `taps`; rhs reads padded[offset + ci·plane + j] for ci < cin, j < n, whose largest
            // index is (2·wp + 2) + (cin−1)·plane + h·wp − 1 = cin·plane − 1, inside `padded`.
            unsafe {
                gemm(
                    cout,
                    n,
                    cin,
                    wide.as_mut_ptr(),
                    1,
                    n as isize,
                    t > 0,
                    self.taps.as_ptr().add(t * cout * cin),
                    1,
                    cin as isize,
                    padded.as_ptr().add(offset),
                    1,
                    plane as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    parallelism,
                );
            }
        }
        let mut out = vec![0f32; cout * h * w];
        out.par_chunks_mut(h * w).zip(wide.par_chunks(n)).enumerate().for_each(|(co, (dst, src))| {
            let b = self.bias.as_ref().map_or(0.0, |b| b[co]);
            for y in 0..h {
                for x in 0..w {
                    let v = src[y * wp + x] + b;
                    dst[y * w + x] = if self.relu { v.max(0.0) } else { v };
                }
            }
        });
        out
    }
}
