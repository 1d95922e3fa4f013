//! The style loss's two products as parallel CPU kernels: the Gram matrix `F·Fᵀ/M` and the
//! gradient `α·D·F`, for an activation `F` of `C` channels by `M` pixels.
//!
//! Through candle, `F·Fᵀ` copies the transposed `F` and then runs as one `C×C` product whose
//! inner dimension `M` is the long one, which its matrix product does not split between threads;
//! and the gradient's two scalings are two more passes over a `C×M` tensor. Here the Gram matrix
//! splits `M` into one slice per task and adds the tasks' `C×C` partial products, and the
//! gradient's scale is folded into its product.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape};
use rayon::prelude::*;

use super::host::f32_input;
use super::product::{product, Strided};

/// `[1, C, H, W]` → `[C, C]`: `F·Fᵀ / (H·W)`.
pub struct Gram;

/// Pixels per task below which splitting the Gram matrix's inner dimension further does not pay.
const MIN_PIXELS_PER_TASK: usize = 1024;

impl CustomOp1 for Gram {
    fn name(&self) -> &'static str {
        "gram"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l.shape().dims4()?;
        if b != 1 {
            candle_core::bail!("gram: one image at a time, got {b}");
        }
        let f = f32_input(s, l, self.name())?;
        let m = h * w;
        let threads = rayon::current_num_threads();
        if m < MIN_PIXELS_PER_TASK * threads {
            return Ok((CpuStorage::F32(gram_by_rows(f, c, m, threads)), Shape::from((c, c))));
        }
        let tasks = (2 * threads).min(m / MIN_PIXELS_PER_TASK).max(1);
        let chunk = m.div_ceil(tasks);
        let scale = 1.0 / m.max(1) as f32;
        let partials: Vec<Vec<f32>> = (0..tasks)
            .into_par_iter()
            .map(|t| {
                let k0 = (t * chunk).min(m);
                let k = chunk.min(m - k0);
                let mut g = vec![0f32; c * c];
                if k > 0 && c > 0 {
                    // SAFETY: dst is C×C (row stride C); lhs is rows 0..C, columns k0..k0+k of
                    // F (row stride M); rhs is its transpose, the same memory read with the
                    // strides swapped: all inside `g` and `f`.
                    unsafe {
                        product(
                            (c, c, k),
                            g.as_mut_ptr(),
                            c,
                            Strided::rows(f.as_ptr().add(k0), m),
                            Strided::transposed(f.as_ptr().add(k0), m),
                            scale,
                            1,
                        );
                    }
                }
                g
            })
            .collect();
        let mut g = vec![0f32; c * c];
        for p in partials {
            for (a, b) in g.iter_mut().zip(p) {
                *a += b;
            }
        }
        Ok((CpuStorage::F32(g), Shape::from((c, c))))
    }
}

/// The Gram matrix of a small map (few pixels, many channels: VGG's deep layers at video sizes),
/// split between tasks by its rows: task `t` computes rows `r0..r1` as `F[r0..r1]·Fᵀ / M`.
fn gram_by_rows(f: &[f32], c: usize, m: usize, threads: usize) -> Vec<f32> {
    let mut g = vec![0f32; c * c];
    let rows = c.div_ceil(4 * threads).max(8);
    let scale = 1.0 / m.max(1) as f32;
    if m == 0 {
        return g;
    }
    g.par_chunks_mut(rows * c).enumerate().for_each(|(t, dst)| {
        let r0 = t * rows;
        let n_rows = dst.len() / c;
        // SAFETY: dst is rows r0..r0+n_rows of the C×C result (row stride C); lhs is those rows
        // of F (row stride M); rhs is Fᵀ, F's memory read with the strides swapped.
        unsafe {
            product(
                (n_rows, c, m),
                dst.as_mut_ptr(),
                c,
                Strided::rows(f.as_ptr().add(r0 * m), m),
                Strided::transposed(f.as_ptr(), m),
                scale,
                1,
            );
        }
    });
    g
}

/// `(D [C, C], a [1, C, H, W])` → `α·D·F` shaped as `a`.
pub struct GramGradient {
    pub alpha: f64,
}

impl CustomOp2 for GramGradient {
    fn name(&self) -> &'static str {
        "gram-gradient"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = l2.shape().dims4()?;
        if b != 1 || l1.shape().dims() != [c, c] {
            candle_core::bail!("gram-gradient: {:?} does not fit an activation {:?}", l1.shape(), l2.shape());
        }
        let d = f32_input(s1, l1, self.name())?;
        let f = f32_input(s2, l2, self.name())?;
        let m = h * w;
        let mut out = vec![0f32; c * m];
        if c > 0 && m > 0 {
            // SAFETY: dst is C×M (row stride M), lhs C×C (row stride C), rhs C×M (row stride
            // M), each exactly its slice.
            unsafe {
                product(
                    (c, m, c),
                    out.as_mut_ptr(),
                    m,
                    Strided::rows(d.as_ptr(), c),
                    Strided::rows(f.as_ptr(), m),
                    self.alpha as f32,
                    rayon::current_num_threads(),
                );
            }
        }
        Ok((CpuStorage::F32(out), l2.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;
    use candle_core::{DType, Device, Tensor};

    /// Both kernels against candle's own products in f64 (the reference computed independently
    /// of these kernels), on sizes below and above the split threshold and with odd pixel counts.
    #[test]
    fn kernels_match_candle_in_f64() {
        // The large pixel counts split the pixels between tasks (up to 16 threads for the last),
        // the small ones the rows.
        for (c, h, w) in [(3, 5, 7), (16, 33, 65), (64, 64, 48), (8, 1, 1), (100, 9, 7), (4, 128, 128)] {
            let mut rng = SplitMix64::new((c * h * w) as u64);
            let a = Tensor::from_vec(rng.uniform(c * h * w, 0.0, 2.0), (1, c, h, w), &Device::Cpu).unwrap();
            let d = Tensor::from_vec(rng.uniform(c * c, -1.0, 1.0), (c, c), &Device::Cpu).unwrap();
            let a64 = a.to_dtype(DType::F64).unwrap();
            let f64_features = a64.reshape((c, h * w)).unwrap();
            let want = (f64_features.matmul(&f64_features.t().unwrap()).unwrap() / (h * w) as f64).unwrap();
            let got = a.apply_op1_no_bwd(&Gram).unwrap().to_dtype(DType::F64).unwrap();
            let scale = want.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
            let err = (got - &want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
            assert!(err <= 1e-5 * scale, "gram {c}x{h}x{w}: error {err} against {scale}");

            let alpha = 0.37;
            let want = (d.to_dtype(DType::F64).unwrap().matmul(&f64_features).unwrap() * alpha).unwrap();
            let got = d.apply_op2_no_bwd(&a, &GramGradient { alpha }).unwrap();
            assert_eq!(got.dims(), [1, c, h, w]);
            let got = got.to_dtype(DType::F64).unwrap().reshape((c, h * w)).unwrap();
            let scale = want.abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
            let err = (got - &want).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap();
            assert!(err <= 1e-5 * scale, "gradient {c}x{h}x{w}: error {err} against {scale}");
        }
    }
}
