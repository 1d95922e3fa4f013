//! A CPU 3x3, stride-1, pad-1 convolution by Winograd's minimal filtering F(2x2, 3x3) (Lavin &
//! Gray 2015), with bias, ReLU and a ReLU's backward mask fused in.
//!
//! Each 2x2 output tile is `Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A` for its 4x4 input patch `d`, so across
//! channels it is 16 independent matrix products `M_e = U_e · V_e` (`U_e` `[Cout, Cin]` from the
//! kernel, `V_e` `[Cin, tiles]` from the input), 16 multiplies per tile and channel pair where the
//! direct convolution needs 36: 2.25x fewer. The tiles are processed in blocks of tile rows small
//! enough that a block's transformed input and output stay in a core's cache, one block per task.
//!
//! Transforms (`Bᵀ`, `G`, `Aᵀ` as in the paper):
//! `Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`, `G = [[1,0,0],[½,½,½],[½,-½,½],[0,0,1]]`,
//! `Aᵀ = [[1,1,1,0],[0,1,-1,-1]]`.

use std::sync::Arc;

use candle_core::{DType, Device, Result, Tensor};
use gemm::{gemm, Parallelism};
use rayon::prelude::*;

/// Bytes of transformed input and output one block may hold (a core's L2 is 1 MiB here).
const BLOCK_BYTES: usize = 1 << 20;

/// A 3x3 convolution with its kernel pre-transformed: `u[e][co][ci]`, `e = 4·i + j`.
#[derive(Debug, Clone)]
pub struct WinogradConv {
    u: Arc<Vec<f32>>,
    bias: Option<Arc<Vec<f32>>>,
    cin: usize,
    cout: usize,
    relu: bool,
}

/// Per-task buffers, reused across the blocks one task handles.
#[derive(Default)]
struct Scratch {
    v: Vec<f32>,
    m: Vec<f32>,
    rows: Vec<f32>,
}

/// One task's share of a convolution: tile rows `t0..t1` of one image.
struct Block<'a> {
    x: &'a [f32],
    mask: Option<&'a [f32]>,
    h: usize,
    w: usize,
    t0: usize,
    t1: usize,
    out: OutPtr,
}

/// The output buffer shared by the block tasks; each writes only its own output rows.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint rows (see `transform_output`), and the buffer outlives them.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl WinogradConv {
    /// `kernel` is `[Cout, Cin, 3, 3]`; `bias` is `[Cout]`.
    pub fn new(kernel: &Tensor, bias: Option<&Tensor>, relu: bool) -> Result<Self> {
        let (cout, cin, kh, kw) = kernel.dims4()?;
        if (kh, kw) != (3, 3) {
            candle_core::bail!("WinogradConv needs a 3x3 kernel, got {kh}x{kw}");
        }
        let k: Vec<f64> = kernel.to_device(&Device::Cpu)?.to_dtype(DType::F64)?.flatten_all()?.to_vec1()?;
        let mut u = vec![0f32; 16 * cout * cin];
        for co in 0..cout {
            for ci in 0..cin {
                let g = &k[(co * cin + ci) * 9..][..9];
                for (e, value) in kernel_transform(g).into_iter().enumerate() {
                    u[(e * cout + co) * cin + ci] = value as f32;
                }
            }
        }
        let bias = match bias {
            Some(b) => Some(Arc::new(b.to_device(&Device::Cpu)?.to_dtype(DType::F32)?.flatten_all()?.to_vec1()?)),
            None => None,
        };
        Ok(Self { u: Arc::new(u), bias, cin, cout, relu })
    }

    pub fn cin(&self) -> usize {
        self.cin
    }

    pub fn cout(&self) -> usize {
        self.cout
    }

    /// One image: `x` is `[Cin, H, W]`, the result `[Cout, H, W]`. With `mask`, also `[Cin, H, W]`,
    /// the input is `x · (mask > 0)`.
    pub fn run(&self, x: &[f32], mask: Option<&[f32]>, h: usize, w: usize) -> Vec<f32> {
        self.run_with(x, mask, h, w, true)
    }

    /// [`WinogradConv::run`], with `simd: false` forcing the portable build of the transforms (what
    /// CPUs without AVX2 run) so tests can check it on any machine.
    pub fn run_with(&self, x: &[f32], mask: Option<&[f32]>, h: usize, w: usize, simd: bool) -> Vec<f32> {
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        let mut out = vec![0f32; self.cout * h * w];
        if th == 0 || tw == 0 {
            return out;
        }
        let per_row = 16 * (self.cin + self.cout) * tw * std::mem::size_of::<f32>();
        let threads = rayon::current_num_threads().max(1);
        let rows = (BLOCK_BYTES / per_row).clamp(1, th.div_ceil(2 * threads).max(1));
        let blocks: Vec<(usize, usize)> = (0..th).step_by(rows).map(|t0| (t0, (t0 + rows).min(th))).collect();
        let out_ptr = OutPtr(out.as_mut_ptr());
        #[cfg(not(target_arch = "x86_64"))]
        let _ = simd;
        blocks.par_iter().for_each_init(Scratch::default, |s, &(t0, t1)| {
            let block = Block { x, mask, h, w, t0, t1, out: out_ptr };
            #[cfg(target_arch = "x86_64")]
            if simd && std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU has AVX2, checked just above.
                unsafe { self.process_avx2(&block, s) };
                return;
            }
            self.process(&block, s);
        });
        out
    }

    /// [`WinogradConv::process`] compiled for AVX2, so the transforms run 8 floats wide.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn process_avx2(&self, block: &Block, s: &mut Scratch) {
        self.process(block, s)
    }

    /// One block of tile rows: input transform, the 16 products, output transform.
    #[inline(always)]
    fn process(&self, b: &Block, s: &mut Scratch) {
        let (h, w, t0, t1) = (b.h, b.w, b.t0, b.t1);
        let tw = w.div_ceil(2);
        let nt = (t1 - t0) * tw;
        s.v.resize(16 * self.cin * nt, 0.0);
        s.m.resize(16 * self.cout * nt, 0.0);
        s.rows.resize(24 * tw + 8, 0.0);
        for ci in 0..self.cin {
            let plane = &b.x[ci * h * w..(ci + 1) * h * w];
            let mask = b.mask.map(|m| &m[ci * h * w..(ci + 1) * h * w]);
            for ty in t0..t1 {
                let at = ci * nt + (ty - t0) * tw;
                transform_input_row(plane, mask, h, w, ty, &mut s.rows, &mut s.v, at, self.cin * nt);
            }
        }
        self.multiply(&s.v, &mut s.m, nt);
        // SAFETY: this block writes rows 2·t0 .. min(2·t1, h) of every output channel; blocks
        // have disjoint tile-row ranges, and `out` is `cout·h·w` long and outlives the tasks.
        unsafe { self.transform_output(&s.m, b.out, h, w, t0, t1, &mut s.rows) };
    }

    /// `m[e] = u[e] · v[e]` for the 16 positions `e`; `v[e]` is `[Cin, nt]`, `m[e]` `[Cout, nt]`.
    fn multiply(&self, v: &[f32], m: &mut [f32], nt: usize) {
        let (cin, cout) = (self.cin, self.cout);
        for e in 0..16 {
            let dst = &mut m[e * cout * nt..(e + 1) * cout * nt];
            let lhs = &self.u[e * cout * cin..(e + 1) * cout * cin];
            let rhs = &v[e * cin * nt..(e + 1) * cin * nt];
            // SAFETY: dst is cout×nt (row stride nt), lhs cout×cin (row stride cin) and rhs cin×nt
            // (row stride nt), each exactly the slice it points into.
            unsafe {
                gemm(
                    cout,
                    nt,
                    cin,
                    dst.as_mut_ptr(),
                    1,
                    nt as isize,
                    false,
                    lhs.as_ptr(),
                    1,
                    cin as isize,
                    rhs.as_ptr(),
                    1,
                    nt as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    Parallelism::None,
                );
            }
        }
    }

    /// Turns the 16 products of tile rows `t0..t1` into output rows `2·t0 .. 2·t1` (cropped to
    /// `h`, `w`), adding the bias and applying the ReLU.
    ///
    /// # Safety
    /// `out` must point to `cout·h·w` floats that no other thread touches in those rows.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    unsafe fn transform_output(
        &self,
        m: &[f32],
        out: OutPtr,
        h: usize,
        w: usize,
        t0: usize,
        t1: usize,
        rows: &mut [f32],
    ) {
        let tw = w.div_ceil(2);
        let nt = (t1 - t0) * tw;
        let stride = self.cout * nt;
        let (ys, rest) = rows.split_at_mut(4 * tw);
        let line = &mut rest[..2 * tw];
        let (y00, ys) = ys.split_at_mut(tw);
        let (y01, ys) = ys.split_at_mut(tw);
        let (y10, y11) = ys.split_at_mut(tw);
        for co in 0..self.cout {
            let b = self.bias.as_ref().map_or(0.0, |b| b[co]);
            for ty in t0..t1 {
                let base = co * nt + (ty - t0) * tw;
                let p = |e: usize| &m[e * stride + base..][..tw];
                let (m00, m01, m02, m03) = (p(0), p(1), p(2), p(3));
                let (m10, m11, m12, m13) = (p(4), p(5), p(6), p(7));
                let (m20, m21, m22, m23) = (p(8), p(9), p(10), p(11));
                let (m30, m31, m32, m33) = (p(12), p(13), p(14), p(15));
                for tx in 0..tw {
                    // Aᵀ M A: rows 0+1+2 and 1−2−3, then the same across columns.
                    let r00 = m00[tx] + m10[tx] + m20[tx];
                    let r01 = m01[tx] + m11[tx] + m21[tx];
                    let r02 = m02[tx] + m12[tx] + m22[tx];
                    let r03 = m03[tx] + m13[tx] + m23[tx];
                    let r10 = m10[tx] - m20[tx] - m30[tx];
                    let r11 = m11[tx] - m21[tx] - m31[tx];
                    let r12 = m12[tx] - m22[tx] - m32[tx];
                    let r13 = m13[tx] - m23[tx] - m33[tx];
                    y00[tx] = r00 + r01 + r02 + b;
                    y01[tx] = r01 - r02 - r03 + b;
                    y10[tx] = r10 + r11 + r12 + b;
                    y11[tx] = r11 - r12 - r13 + b;
                }
                for (dy, left, right) in [(0, &*y00, &*y01), (1, &*y10, &*y11)] {
                    let y = 2 * ty + dy;
                    if y >= h {
                        continue;
                    }
                    for ((pair, &l), &r) in line.chunks_exact_mut(2).zip(left).zip(right) {
                        pair[0] = l;
                        pair[1] = r;
                    }
                    // SAFETY: row y of channel co lies inside `out` and belongs to this block.
                    let dst = unsafe { std::slice::from_raw_parts_mut(out.0.add((co * h + y) * w), w) };
                    if self.relu {
                        for (d, &v) in dst.iter_mut().zip(&*line) {
                            *d = v.max(0.0);
                        }
                    } else {
                        dst.copy_from_slice(&line[..w]);
                    }
                }
            }
        }
    }
}

/// `G g Gᵀ` for one 3x3 kernel `g` (row-major), as 16 values `e = 4·i + j`; computed in f64.
fn kernel_transform(g: &[f64]) -> [f64; 16] {
    let mut t = [[0f64; 3]; 4]; // G g
    for c in 0..3 {
        let (g0, g1, g2) = (g[c], g[3 + c], g[6 + c]);
        t[0][c] = g0;
        t[1][c] = 0.5 * (g0 + g1 + g2);
        t[2][c] = 0.5 * (g0 - g1 + g2);
        t[3][c] = g2;
    }
    let mut u = [0f64; 16]; // (G g) Gᵀ
    for (i, r) in t.iter().enumerate() {
        u[4 * i] = r[0];
        u[4 * i + 1] = 0.5 * (r[0] + r[1] + r[2]);
        u[4 * i + 2] = 0.5 * (r[0] - r[1] + r[2]);
        u[4 * i + 3] = r[2];
    }
    u
}

/// `Bᵀ d B` for every tile of tile row `ty` of one channel `plane` (`h × w`, masked by `mask > 0`
/// if given), written to `v[e·e_stride + at + tx]`. `rows` is scratch of `20·tw + 4` floats.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn transform_input_row(
    plane: &[f32],
    mask: Option<&[f32]>,
    h: usize,
    w: usize,
    ty: usize,
    rows: &mut [f32],
    v: &mut [f32],
    at: usize,
    e_stride: usize,
) {
    let tw = w.div_ceil(2);
    let (pad, rest) = rows.split_at_mut(2 * tw + 2);
    let (even, rest) = rest.split_at_mut(tw + 1);
    let (odd, rest) = rest.split_at_mut(tw + 1);
    let cols = &mut rest[..16 * tw];
    // cols[(4·r + j)·tw + tx]: input row r of the patch after the column transform `· B`.
    for r in 0..4 {
        let y = (2 * ty + r).wrapping_sub(1); // the patch starts one row above the tile
        let cols = &mut cols[4 * r * tw..4 * (r + 1) * tw];
        if y >= h {
            cols.fill(0.0);
            continue;
        }
        // The row with one zero before it and zeros after, masked if asked.
        let row = &plane[y * w..(y + 1) * w];
        pad[0] = 0.0;
        match mask {
            None => pad[1..=w].copy_from_slice(row),
            Some(m) => {
                for ((d, &v), &a) in pad[1..=w].iter_mut().zip(row).zip(&m[y * w..(y + 1) * w]) {
                    *d = if a > 0.0 { v } else { 0.0 };
                }
            }
        }
        pad[w + 1..].fill(0.0);
        // Padded columns split by parity: tile tx's patch columns are even[tx], odd[tx],
        // even[tx + 1], odd[tx + 1].
        for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(pad.chunks_exact(2)) {
            *e = pair[0];
            *o = pair[1];
        }
        let (c0, c) = cols.split_at_mut(tw);
        let (c1, c) = c.split_at_mut(tw);
        let (c2, c3) = c.split_at_mut(tw);
        let (e0, e1, o0, o1) = (&even[..tw], &even[1..=tw], &odd[..tw], &odd[1..=tw]);
        for tx in 0..tw {
            c0[tx] = e0[tx] - e1[tx];
            c1[tx] = o0[tx] + e1[tx];
            c2[tx] = e1[tx] - o0[tx];
            c3[tx] = o0[tx] - o1[tx];
        }
    }
    for j in 0..4 {
        let r = |i: usize| &cols[(4 * i + j) * tw..(4 * i + j + 1) * tw];
        let (r0, r1, r2, r3) = (r(0), r(1), r(2), r(3));
        let [v0, v1, v2, v3] = split4(v, j, e_stride, at, tw);
        for tx in 0..tw {
            // Bᵀ applied down the patch rows: d0 − d2, d1 + d2, d2 − d1, d1 − d3.
            v0[tx] = r0[tx] - r2[tx];
            v1[tx] = r1[tx] + r2[tx];
            v2[tx] = r2[tx] - r1[tx];
            v3[tx] = r1[tx] - r3[tx];
        }
    }
}

/// The four `tw`-long destinations `v[(4·i + j)·e_stride + at ..]`, `i = 0..4`, as disjoint slices.
fn split4(v: &mut [f32], j: usize, e_stride: usize, at: usize, tw: usize) -> [&mut [f32]; 4] {
    let (_, rest) = v.split_at_mut(j * e_stride + at);
    let (a, rest) = rest.split_at_mut(4 * e_stride);
    let (b, rest) = rest.split_at_mut(4 * e_stride);
    let (c, d) = rest.split_at_mut(4 * e_stride);
    [&mut a[..tw], &mut b[..tw], &mut c[..tw], &mut d[..tw]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::rng::SplitMix64;

    /// The portable transforms give what the AVX2 build gives (and both what candle's conv2d gives,
    /// checked in `cpuconv`), so machines without AVX2 compute the same convolution.
    #[test]
    fn portable_build_matches_simd_build() {
        let (cin, cout, h, w) = (7, 5, 11, 6);
        let mut rng = SplitMix64::new(9);
        let k = Tensor::from_vec(rng.uniform(cout * cin * 9, -1.0, 1.0), (cout, cin, 3, 3), &Device::Cpu).unwrap();
        let bias = Tensor::from_vec(rng.uniform(cout, -1.0, 1.0), cout, &Device::Cpu).unwrap();
        let conv = WinogradConv::new(&k, Some(&bias), true).unwrap();
        let x = rng.uniform(cin * h * w, -1.0, 1.0);
        let mask = rng.uniform(cin * h * w, -1.0, 1.0);
        for m in [None, Some(mask.as_slice())] {
            let fast = conv.run_with(&x, m, h, w, true);
            let portable = conv.run_with(&x, m, h, w, false);
            let err = fast.iter().zip(&portable).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
            assert!(err < 1e-5, "max difference {err}");
            assert!(fast.iter().any(|&v| v > 0.0));
        }
    }
}
