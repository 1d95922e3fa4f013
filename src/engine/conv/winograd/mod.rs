//! A CPU 3x3, stride-1, pad-1 convolution by Winograd's minimal filtering (Lavin & Gray 2015),
//! with bias, ReLU and a ReLU's backward mask fused in.
//!
//! For output tiles of `m x m` pixels and `α = m + 2`, each tile is `Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A`
//! for its `α x α` input patch `d`, so across channels the convolution is `α²` independent matrix
//! products `M_e = U_e · V_e` (`U_e` `[Cout, Cin]` from the kernel, transformed once; `V_e`
//! `[Cin, tiles]` from the input): `α²/m²` multiplies per output and channel pair where the direct
//! convolution needs 9. [`Tile::F2`] (`m = 2`, 4 multiplies) and [`Tile::F4`] (`m = 4`, 2.25) are
//! here, with their transforms in [`f2`] and [`f4`]. The tiles are processed in blocks of tile rows
//! small enough that a block's transformed input and output stay near a core, one block per task.

mod channels;
mod f2;
mod f4;

use std::sync::{Arc, OnceLock};

use candle_core::{Result, Tensor};
use rayon::prelude::*;

use super::kernel::HostKernel;
use crate::engine::bf16::{self, PackedLhs};
use crate::engine::product::{product, Strided};
use crate::engine::profile::{KernelClock, KernelPart};

/// Bytes of transformed input and output one block may hold: a few times a core's L2 (1 MiB here),
/// found best by measurement; larger blocks also leave fewer ragged gemm edges.
const BLOCK_BYTES: usize = 4 << 20;

/// `G g Gᵀ` of one 3x3 kernel for a tile size.
type KernelTransform = fn(&[f64]) -> Vec<f64>;

/// The output tile size of a Winograd convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tile {
    /// F(2x2, 3x3): 2.25x fewer multiplies than the direct convolution; exact up to rounding
    /// like it.
    F2,
    /// F(4x4, 3x3): 4x fewer multiplies; its transforms scale values by up to 8 and 1/24, so
    /// rounding errors are some ten times those of F2 (still about 1e-6 of the output's scale).
    F4,
}

impl Tile {
    /// The output tile side `m`.
    pub fn side(self) -> usize {
        match self {
            Self::F2 => 2,
            Self::F4 => 4,
        }
    }

    /// `α²`, the number of products (`α = m + 2`, the input patch side).
    fn positions(self) -> usize {
        (self.side() + 2).pow(2)
    }

    /// The tile size this module picks for an `h x w` layer from `cin` to `cout` channels: F4 from
    /// 4096 of its tiles (256x256) up, and from 1024 (128x128) where both sides have 128 channels
    /// or more; else F2. Measured with `bench` on VGG-16 at 75, 150, 300 and 512 px against
    /// thresholds of 16 to 4096 tiles: on smaller layers F4's 36 products get too few columns
    /// each, and its 75 px iteration took twice as long as F2's. With AVX-512 products the
    /// transforms weigh more, and at 128x128 F4 paid only with 128 channels (both interleaved in
    /// one run, ms: 128→128 F2 22.8 against F4 20.5; 64→64 F2 8.0 against F4 8.9; 3→64 F2 2.2
    /// against 2.7), at 256x256 also with 64 (64→64 F2 32.3 against F4 26.4).
    pub fn for_layer(h: usize, w: usize, cin: usize, cout: usize) -> Self {
        let tiles = h.div_ceil(4) * w.div_ceil(4);
        if tiles >= 4096 || (tiles >= 1024 && cin.min(cout) >= 128) {
            Self::F4
        } else {
            Self::F2
        }
    }
}

/// How a convolution's work is shared between threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Blocks of tile rows, each transformed, multiplied and transformed back by one task while
    /// it stays in that core's cache: for large maps.
    Rows,
    /// Each phase over the whole layer, split by channels (see [`channels`]): for small maps with
    /// many channels, where a block of tile rows is a few columns against all of the kernel.
    Channels,
}

impl Split {
    /// The split this module picks for an `h x w` layer with `tile` and `cout` output channels:
    /// by channels where the transformed kernel outweighs the layer's transformed input by 4x
    /// or more (`cout ≥ 4·tiles`). Measured per layer shape, both splits interleaved in one run,
    /// F2, 2 threads, AVX-512 products (ms): 512→512 at 8x8 (16 tiles) 9.9 by rows against 4.2 by
    /// channels, 16x16 14.6 against 9.6, 256→512 at 16x16 6.9 against 5.2; at 32x32 rows win
    /// (512→512: 27.4 against 34.3; 256→256: 8.4 against 12.7), and more so above.
    pub fn for_size(h: usize, w: usize, tile: Tile, cout: usize) -> Self {
        if cout >= 4 * h.div_ceil(tile.side()) * w.div_ceil(tile.side()) {
            Self::Channels
        } else {
            Self::Rows
        }
    }
}

/// The number format of a convolution's matrix products (the transforms are f32 either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Products {
    /// f32 products (the `gemm` crate).
    F32,
    /// Operands rounded to BF16, products accumulated in f32, on AMX tiles ([`bf16`]).
    Bf16,
}

impl Products {
    /// BF16 where the CPU multiplies it in hardware ([`bf16::available`]), else f32.
    pub fn best() -> Self {
        if bf16::available() {
            Self::Bf16
        } else {
            Self::F32
        }
    }
}

/// A 3x3 convolution. Its kernel is transformed for a tile size on first use (`u[e][co][ci]`), in
/// the precision in use, so memory holds only the transforms that run.
#[derive(Debug, Clone)]
pub struct WinogradConv {
    kernel: Arc<Vec<f32>>,
    u2: Arc<OnceLock<Vec<f32>>>,
    u4: Arc<OnceLock<Vec<f32>>>,
    /// The same transforms rounded to BF16, one packed `[Cout, Cin]` matrix per position.
    b2: Arc<OnceLock<Vec<PackedLhs>>>,
    b4: Arc<OnceLock<Vec<PackedLhs>>>,
    bias: Option<Arc<Vec<f32>>>,
    cin: usize,
    cout: usize,
    relu: bool,
    /// Whether [`WinogradConv::run`] may use BF16 products where the CPU has them.
    bf16: bool,
}

/// Per-task buffers, reused across the blocks one task handles.
#[derive(Default)]
struct Scratch {
    v: Vec<f32>,
    m: Vec<f32>,
    rows: Vec<f32>,
    /// One position's transformed input packed for the BF16 products.
    packed: Vec<u32>,
}

/// One task's share of a convolution: tile rows `t0..t1` of one image.
struct Block<'a> {
    x: &'a [f32],
    mask: Option<&'a [f32]>,
    h: usize,
    w: usize,
    t0: usize,
    t1: usize,
    tile: Tile,
    precision: Products,
    out: OutPtr,
}

thread_local! {
    /// Each worker thread's buffers, kept between calls so no block allocates or faults in pages.
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::default();
}

/// The output buffer shared by the block tasks; each writes only its own output rows.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks write disjoint rows (see `WinogradConv::process`), and the buffer outlives them.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl WinogradConv {
    /// `kernel` is `[Cout, Cin, 3, 3]`; `bias` is `[Cout]`.
    pub fn new(kernel: &Tensor, bias: Option<&Tensor>, relu: bool) -> Result<Self> {
        let HostKernel { cout, cin, weights: k, bias } = HostKernel::read(kernel, bias)?;
        let (u2, u4, b2, b4) = Default::default();
        Ok(Self { kernel: Arc::new(k), u2, u4, b2, b4, bias, cin, cout, relu, bf16: true })
    }

    /// The same convolution, allowed BF16 products (where the CPU has them) or held to f32.
    pub fn with_bf16(&self, allowed: bool) -> Self {
        Self { bf16: allowed, ..self.clone() }
    }

    /// The kernel transformed for `tile`, computed once.
    fn transformed(&self, tile: Tile) -> &[f32] {
        let cell = match tile {
            Tile::F2 => &self.u2,
            Tile::F4 => &self.u4,
        };
        cell.get_or_init(|| self.transform_kernel(tile))
    }

    /// The kernel transformed for `tile` and packed for the BF16 products, computed once.
    fn transformed_bf16(&self, tile: Tile) -> &[PackedLhs] {
        let cell = match tile {
            Tile::F2 => &self.b2,
            Tile::F4 => &self.b4,
        };
        cell.get_or_init(|| {
            let u = self.transform_kernel(tile);
            let (cin, cout) = (self.cin, self.cout);
            (0..tile.positions())
                .map(|e| PackedLhs::new(Strided::rows(u[e * cout * cin..].as_ptr(), cin), cout, cin))
                .collect()
        })
    }

    /// `u[e][co][ci]`: every kernel transformed for `tile`.
    fn transform_kernel(&self, tile: Tile) -> Vec<f32> {
        let transform: KernelTransform = match tile {
            Tile::F2 => f2::kernel_transform,
            Tile::F4 => f4::kernel_transform,
        };
        let (cin, cout) = (self.cin, self.cout);
        let mut u = vec![0f32; tile.positions() * cout * cin];
        for co in 0..cout {
            for ci in 0..cin {
                let k = &self.kernel[(co * cin + ci) * 9..][..9];
                let g: [f64; 9] = std::array::from_fn(|i| f64::from(k[i]));
                for (e, value) in transform(&g).into_iter().enumerate() {
                    u[(e * cout + co) * cin + ci] = value as f32;
                }
            }
        }
        u
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
        // With fewer than 32 channels on a side (the image's 3 at conv1_1, and its gradient) the
        // BF16 tiles would mostly multiply padding: at 128 px conv1_1 took 3.5 ms forward in BF16
        // against 3.1 in f32, and 3.9 against 3.5 backward.
        let precision = if self.bf16 && self.cin.min(self.cout) >= 32 { Products::best() } else { Products::F32 };
        // BF16 products always take F2 tiles: F4's transforms weigh values by up to 8 before the
        // products and cancel them after, so the operands' rounding costs 2.5 % of the output's
        // RMS in F4 against 0.4 % in F2 (see the tests), and with the products this cheap F4 saves
        // little (interleaved, VGG-19: 256 px 3-5 % of an iteration; 512 px within the noise).
        let tile = match precision {
            Products::Bf16 => Tile::F2,
            Products::F32 => Tile::for_layer(h, w, self.cin, self.cout),
        };
        let plan = (tile, Split::for_size(h, w, tile, self.cout), precision);
        self.run_with(x, mask, h, w, plan, true)
    }

    /// [`WinogradConv::run`] with a chosen tile size, split and precision, and with `simd: false`
    /// forcing the portable build of the transforms (what CPUs without AVX2 run) so tests can
    /// check it on any machine. [`Products::Bf16`] needs [`bf16::available`].
    pub fn run_with(
        &self,
        x: &[f32],
        mask: Option<&[f32]>,
        h: usize,
        w: usize,
        (tile, split, precision): (Tile, Split, Products),
        simd: bool,
    ) -> Vec<f32> {
        let precision = if bf16::available() { precision } else { Products::F32 };
        if split == Split::Channels {
            return self.run_by_channels(x, mask, h, w, (tile, precision), simd);
        }
        let side = tile.side();
        let (th, tw) = (h.div_ceil(side), w.div_ceil(side));
        let len = self.cout * h * w;
        let mut out: Vec<f32> = Vec::with_capacity(len);
        if th == 0 || tw == 0 {
            return out;
        }
        // Bytes one tile row needs in the block's buffers: its α² transformed input values per
        // input channel and its α² products per output channel.
        let per_row = tile.positions() * (self.cin + self.cout) * tw * std::mem::size_of::<f32>();
        let threads = rayon::current_num_threads().max(1);
        // As many tile rows as fit BLOCK_BYTES, but at least two blocks per thread so rayon can
        // balance the ragged last one.
        let rows = (BLOCK_BYTES / per_row).clamp(1, th.div_ceil(2 * threads).max(1));
        let blocks: Vec<(usize, usize)> = (0..th).step_by(rows).map(|t0| (t0, (t0 + rows).min(th))).collect();
        let out_ptr = OutPtr(out.as_mut_ptr());
        #[cfg(not(target_arch = "x86_64"))]
        let _ = simd;
        blocks.par_iter().for_each(|&(t0, t1)| {
            let block = Block { x, mask, h, w, t0, t1, tile, precision, out: out_ptr };
            SCRATCH.with(|cell| {
                // A task never runs inside another on the same thread (nothing below calls rayon),
                // so the borrow is free; a fresh buffer covers the impossible case all the same.
                let mut fresh = Scratch::default();
                let mut held = cell.try_borrow_mut();
                let s = match held.as_deref_mut() {
                    Ok(s) => s,
                    Err(_) => &mut fresh,
                };
                #[cfg(target_arch = "x86_64")]
                if simd && std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2, checked just above.
                    unsafe { self.process_avx2(&block, s) };
                    return;
                }
                self.process(&block, s);
            });
        });
        // The blocks must tile the rows 0..h without gaps: each writes rows t0·side..min(t1·side, h)
        // of every output channel.
        debug_assert_eq!(
            blocks.iter().map(|&(t0, t1)| ((t1 * side).min(h) - t0 * side) * w * self.cout).sum::<usize>(),
            len,
            "the blocks leave output rows unwritten"
        );
        debug_assert!(blocks.windows(2).all(|p| p[0].1 == p[1].0), "the blocks overlap or leave a gap");
        // SAFETY: the blocks cover tile rows 0..th (checked above in debug builds), so every row
        // y < h of every channel was written in full by `process`, which is all `len` floats.
        unsafe { out.set_len(len) };
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

    /// One block of tile rows: input transform, the products, output transform (bias, ReLU).
    #[inline(always)]
    fn process(&self, b: &Block, s: &mut Scratch) {
        let (w, t0, t1, side) = (b.w, b.t0, b.t1, b.tile.side());
        let positions = b.tile.positions();
        let tw = w.div_ceil(side);
        let nt = (t1 - t0) * tw;
        s.v.resize(positions * self.cin * nt, 0.0);
        s.m.resize(positions * self.cout * nt, 0.0);
        // Row scratch for both transforms, enough for the larger tile: F4's input transform takes
        // 44·tw + 8 floats (padded row, its four phases, the 6x6 column transform), its output
        // transform 56·tw (40·tw of partial sums, then 16·tw for four output lines); F2's less.
        s.rows.resize(64 * tw + 16, 0.0);
        let mut clock = KernelClock::new();
        self.transform_input(b, s, nt);
        clock.lap(KernelPart::InputTransform);
        match b.precision {
            Products::F32 => self.multiply(self.transformed(b.tile), &s.v, &mut s.m, nt, positions),
            Products::Bf16 => self.multiply_bf16(self.transformed_bf16(b.tile), s, nt, &mut clock),
        }
        clock.lap(KernelPart::Products);
        self.transform_output(b, s, nt);
        clock.lap(KernelPart::OutputTransform);
    }

    /// The input tiles of a block, transformed into `s.v`.
    #[inline(always)]
    fn transform_input(&self, b: &Block, s: &mut Scratch, nt: usize) {
        let (h, w, t0, t1) = (b.h, b.w, b.t0, b.t1);
        let tw = w.div_ceil(b.tile.side());
        for ci in 0..self.cin {
            let plane = &b.x[ci * h * w..(ci + 1) * h * w];
            let mask = b.mask.map(|m| &m[ci * h * w..(ci + 1) * h * w]);
            for ty in t0..t1 {
                let at = ci * nt + (ty - t0) * tw;
                let e_stride = self.cin * nt;
                let plane = Plane { data: plane, mask, h, w };
                let dst = Positions { v: &mut s.v, at, stride: e_stride };
                match b.tile {
                    Tile::F2 => f2::input_row(&plane, ty, &mut s.rows, dst),
                    Tile::F4 => f4::input_row(&plane, ty, &mut s.rows, dst),
                }
            }
        }
    }

    /// The products in `s.m` transformed back into the block's output rows (bias, ReLU).
    #[inline(always)]
    fn transform_output(&self, b: &Block, s: &mut Scratch, nt: usize) {
        let (h, w, t0, t1, side) = (b.h, b.w, b.t0, b.t1, b.tile.side());
        let tw = w.div_ceil(side);
        let stride = self.cout * nt;
        // The output transform's partial sums (`ys`, 40·tw for F4) and its output lines after.
        let (ys, lines) = s.rows.split_at_mut(40 * tw);
        for co in 0..self.cout {
            let bias = self.bias.as_ref().map_or(0.0, |b| b[co]);
            for ty in t0..t1 {
                let base = co * nt + (ty - t0) * tw;
                match b.tile {
                    Tile::F2 => f2::output_row(&s.m, stride, base, tw, bias, ys, lines),
                    Tile::F4 => f4::output_row(&s.m, stride, base, tw, bias, ys, lines),
                }
                for dy in 0..side {
                    let y = side * ty + dy;
                    if y >= h {
                        break;
                    }
                    let line = &lines[dy * side * tw..][..w];
                    // SAFETY: row y of channel co lies inside the `cout·h·w` output, and it belongs
                    // to this block alone: blocks have disjoint tile-row ranges, so disjoint rows.
                    let dst = unsafe { std::slice::from_raw_parts_mut(b.out.0.add((co * h + y) * w), w) };
                    if self.relu {
                        for (d, &v) in dst.iter_mut().zip(line) {
                            *d = v.max(0.0);
                        }
                    } else {
                        dst.copy_from_slice(line);
                    }
                }
            }
        }
    }

    /// `m[e] = u[e] · v[e]` for each position `e`; `v[e]` is `[Cin, nt]`, `m[e]` `[Cout, nt]`.
    fn multiply(&self, u: &[f32], v: &[f32], m: &mut [f32], nt: usize, positions: usize) {
        let (cin, cout) = (self.cin, self.cout);
        for e in 0..positions {
            let dst = &mut m[e * cout * nt..(e + 1) * cout * nt];
            let lhs = &u[e * cout * cin..(e + 1) * cout * cin];
            let rhs = &v[e * cin * nt..(e + 1) * cin * nt];
            // SAFETY: dst is cout×nt (row stride nt), lhs cout×cin (row stride cin) and rhs cin×nt
            // (row stride nt), each exactly the slice it points into.
            unsafe {
                product(
                    (cout, nt, cin),
                    dst.as_mut_ptr(),
                    nt,
                    Strided::rows(lhs.as_ptr(), cin),
                    Strided::rows(rhs.as_ptr(), nt),
                    1.0,
                    1,
                );
            }
        }
    }
}

impl WinogradConv {
    /// [`WinogradConv::multiply`] in BF16: each `v[e]` packed, then multiplied on AMX tiles.
    fn multiply_bf16(&self, u: &[PackedLhs], s: &mut Scratch, nt: usize, clock: &mut KernelClock) {
        let (cin, cout) = (self.cin, self.cout);
        let len = bf16::rhs_len(cin, nt);
        if s.packed.len() < len {
            s.packed.resize(len, 0);
        }
        for (e, lhs) in u.iter().enumerate() {
            let src = &s.v[e * cin * nt..(e + 1) * cin * nt];
            let dst = &mut s.m[e * cout * nt..(e + 1) * cout * nt];
            // SAFETY: src is cin×nt with rows nt apart; `packed` holds `len`; dst is cout×nt with
            // rows nt apart; BF16 products run only where `bf16::available` (checked in
            // `run_with`); rows start at 0.
            unsafe {
                let rhs = bf16::pack_rhs(src.as_ptr(), nt, cin, nt, &mut s.packed);
                clock.lap(KernelPart::Packing);
                bf16::product(lhs, 0, cout, rhs, dst.as_mut_ptr(), nt);
                clock.lap(KernelPart::Products);
            }
        }
    }
}

/// One input channel (`h × w`), to be read masked by `mask > 0` if a mask is given.
pub struct Plane<'a> {
    data: &'a [f32],
    mask: Option<&'a [f32]>,
    h: usize,
    w: usize,
}

impl Plane<'_> {
    /// Row `y` with one zero before it and zeros after, filling `pad`. False (and `pad`
    /// untouched) when `y` is outside the image.
    #[inline(always)]
    fn padded_row(&self, y: usize, pad: &mut [f32]) -> bool {
        let (h, w) = (self.h, self.w);
        if y >= h {
            return false;
        }
        let row = &self.data[y * w..(y + 1) * w];
        pad[0] = 0.0;
        match self.mask {
            None => pad[1..=w].copy_from_slice(row),
            Some(m) => {
                for ((d, &v), &a) in pad[1..=w].iter_mut().zip(row).zip(&m[y * w..(y + 1) * w]) {
                    *d = if a > 0.0 { v } else { 0.0 };
                }
            }
        }
        pad[w + 1..].fill(0.0);
        true
    }
}

/// Where a tile row's transformed input goes: position `e`, tile `tx` at `v[e·stride + at + tx]`.
pub struct Positions<'a> {
    v: &'a mut [f32],
    at: usize,
    stride: usize,
}

/// The `N` destinations `v[(N·i + j)·e_stride + at ..][..tw]`, `i = 0..N`: column `j` of the
/// positions `e = N·i + j`, as disjoint slices.
#[inline(always)]
fn split_positions<const N: usize>(v: &mut [f32], j: usize, e_stride: usize, at: usize, tw: usize) -> [&mut [f32]; N] {
    let mut rest = &mut v[j * e_stride + at..];
    std::array::from_fn(|i| {
        let taken = std::mem::take(&mut rest);
        let (head, tail) = if i + 1 < N { taken.split_at_mut(N * e_stride) } else { (taken, &mut [][..]) };
        rest = tail;
        &mut head[..tw]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;
    use candle_core::Device;

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
            for tile in [Tile::F2, Tile::F4] {
                for split in [Split::Rows, Split::Channels] {
                    let fast = conv.run_with(&x, m, h, w, (tile, split, Products::F32), true);
                    let portable = conv.run_with(&x, m, h, w, (tile, split, Products::F32), false);
                    let err = fast.iter().zip(&portable).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                    assert!(err < 1e-5, "{split:?}: max difference {err}");
                    assert!(fast.iter().any(|&v| v > 0.0));
                }
            }
        }
    }

    /// Both tile sizes against the direct convolution ([`TapConv`], itself checked against
    /// candle's conv2d in `cpuconv`), on odd sizes, single rows and columns, and sizes that are not
    /// multiples of the tile; with and without the mask.
    #[test]
    fn both_tile_sizes_match_the_direct_convolution() {
        use crate::engine::conv::direct::TapConv;
        let shapes = [(24, 40, 33, 17), (3, 8, 35, 37), (16, 16, 1, 9), (5, 3, 9, 1), (8, 8, 4, 4), (2, 2, 6, 10)];
        for (cin, cout, h, w) in shapes {
            let mut rng = SplitMix64::new(h as u64 * 31 + w as u64);
            let k = Tensor::from_vec(rng.uniform(cout * cin * 9, -1.0, 1.0), (cout, cin, 3, 3), &Device::Cpu).unwrap();
            let bias = Tensor::from_vec(rng.uniform(cout, -1.0, 1.0), cout, &Device::Cpu).unwrap();
            let x = rng.uniform(cin * h * w, -1.0, 1.0);
            let mask = rng.uniform(cin * h * w, -1.0, 1.0);
            for relu in [false, true] {
                let direct = TapConv::new(&k, Some(&bias), relu).unwrap();
                let conv = WinogradConv::new(&k, Some(&bias), relu).unwrap();
                for m in [None, Some(mask.as_slice())] {
                    let want = direct.run(&x, m, h, w);
                    // Outputs are sums of up to 9·cin products of values in [-1, 1] (|y| ≲ 15):
                    // F2 rounds like the direct sum; F4's transforms amplify rounding some tenfold.
                    for (tile, tolerance) in [(Tile::F2, 2e-5), (Tile::F4, 2e-4)] {
                        for split in [Split::Rows, Split::Channels] {
                            let got = conv.run_with(&x, m, h, w, (tile, split, Products::F32), true);
                            let err = got.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                            assert!(
                                err < tolerance,
                                "{tile:?} {split:?} {cin}->{cout} {h}x{w} relu={relu}: max error {err}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// BF16 products (operands rounded to 8 significant bits, f32 sums) against the direct f32
    /// convolution, both tiles and splits, with and without the mask, on channel counts on and off
    /// the tiles' 32. Skipped, saying so, where the CPU has no AMX. The bound is on the RMS error
    /// relative to the output's RMS: each product's operands round by 2⁻⁹ relative, so a sum of
    /// products of random sign errs by about 2⁻⁹·√2 of its RMS (0.3 %); F4's transforms weigh
    /// values by up to 8 before the products and cancel after, amplifying that some tenfold.
    /// Measured: F2 ≈ 0.3 %, F4 ≈ 1.5 %; bounds 1 % and 5 %. Also checked: BF16 really ran
    /// (f32 products land within 1e-5).
    #[test]
    fn bf16_products_match_the_direct_convolution_to_their_rounding() {
        use crate::engine::conv::direct::TapConv;
        if !bf16::available() {
            eprintln!("no AMX-BF16 here: the BF16 convolution is not tested");
            return;
        }
        for (cin, cout, h, w) in [(40, 70, 17, 13), (64, 64, 16, 16), (96, 33, 9, 31), (32, 128, 8, 8)] {
            let mut rng = SplitMix64::new((cin * cout + h) as u64);
            let k = Tensor::from_vec(rng.uniform(cout * cin * 9, -1.0, 1.0), (cout, cin, 3, 3), &Device::Cpu).unwrap();
            let bias = Tensor::from_vec(rng.uniform(cout, -1.0, 1.0), cout, &Device::Cpu).unwrap();
            let x = rng.uniform(cin * h * w, -1.0, 1.0);
            let mask = rng.uniform(cin * h * w, -1.0, 1.0);
            let direct = TapConv::new(&k, Some(&bias), false).unwrap();
            let conv = WinogradConv::new(&k, Some(&bias), false).unwrap();
            for m in [None, Some(mask.as_slice())] {
                let want = direct.run(&x, m, h, w);
                let rms = (want.iter().map(|v| v * v).sum::<f32>() / want.len() as f32).sqrt();
                for (tile, bound) in [(Tile::F2, 0.01), (Tile::F4, 0.05)] {
                    for split in [Split::Rows, Split::Channels] {
                        let got = conv.run_with(&x, m, h, w, (tile, split, Products::Bf16), true);
                        let err = (got.iter().zip(&want).map(|(a, b)| (a - b).powi(2)).sum::<f32>()
                            / want.len() as f32)
                            .sqrt()
                            / rms;
                        eprintln!("{tile:?} {split:?} {cin}->{cout} {h}x{w}: relative RMS error {err:e}");
                        assert!(err < bound, "{tile:?} {split:?} {cin}->{cout} {h}x{w}: relative RMS error {err}");
                        assert!(err > 1e-5, "{tile:?} {split:?}: error {err} is f32's: BF16 did not run");
                    }
                }
            }
        }
    }
}
