//! The Winograd convolution of a small layer, shared between threads by channels instead of by
//! tile rows.
//!
//! A small map with many channels (VGG's 16x16 and 8x8 layers at the sizes video runs at) has few
//! tiles. Split by tile rows ([`WinogradConv::run_with`]'s other layout), every task multiplies
//! its handful of tiles by the whole transformed kernel `U`, so every thread streams all of `U`
//! (16 MiB for 512 channels in F2) for a few columns of products. Here three phases run over the
//! whole layer one after the other: the input transform split by input channel, the products split
//! by output channel (each task reads only its own rows of `U`, against every tile at once), and
//! the output transform split by output channel.
//!
//! Layouts: the transformed input `v[ci][e][t]` and the products `m[co][e][t]` (`e` the position,
//! `t` the tile), so each phase's tasks own contiguous, disjoint slices.

use rayon::prelude::*;

use super::{f2, f4, Plane, Positions, Products, Tile, WinogradConv, SCRATCH};
use crate::engine::bf16;
use crate::engine::product::{product, Strided};
use crate::engine::profile::{KernelClock, KernelPart};

/// What one channel task needs to know about the layer.
#[derive(Clone, Copy)]
struct Grid {
    h: usize,
    w: usize,
    tile: Tile,
    th: usize,
    tw: usize,
}

impl WinogradConv {
    /// [`WinogradConv::run_with`] for [`super::Split::Channels`].
    pub(super) fn run_by_channels(
        &self,
        x: &[f32],
        mask: Option<&[f32]>,
        h: usize,
        w: usize,
        (tile, precision): (Tile, Products),
        simd: bool,
    ) -> Vec<f32> {
        let (cin, cout) = (self.cin, self.cout);
        let side = tile.side();
        let positions = tile.positions();
        let grid = Grid { h, w, tile, th: h.div_ceil(side), tw: w.div_ceil(side) };
        let nt = grid.th * grid.tw;
        let mut out = vec![0f32; cout * h * w];
        if nt == 0 {
            return out;
        }
        #[cfg(target_arch = "x86_64")]
        let simd = simd && std::arch::is_x86_feature_detected!("avx2");
        #[cfg(not(target_arch = "x86_64"))]
        let _ = simd;
        let per_channel = positions * nt;

        let mut clock = KernelClock::new();
        let mut v = vec![0f32; cin * per_channel];
        v.par_chunks_mut(per_channel).enumerate().for_each(|(ci, vc)| {
            let plane = Plane { data: &x[ci * h * w..][..h * w], mask: mask.map(|m| &m[ci * h * w..][..h * w]), h, w };
            with_rows(grid.tw, |rows| {
                #[cfg(target_arch = "x86_64")]
                if simd {
                    // SAFETY: the CPU has AVX2 (checked above).
                    unsafe { input_channel_avx2(&plane, grid, rows, vc) };
                    return;
                }
                input_channel(&plane, grid, rows, vc);
            });
        });
        clock.lap(KernelPart::InputTransform);

        let threads = rayon::current_num_threads().max(1);
        let mut m = vec![0f32; cout * per_channel];
        match precision {
            Products::Bf16 => self.multiply_by_channels_bf16(&v, &mut m, tile, nt, threads, &mut clock),
            Products::F32 => self.multiply_by_channels_f32(&v, &mut m, tile, nt, threads),
        }
        clock.lap(KernelPart::Products);

        out.par_chunks_mut(h * w).enumerate().for_each(|(co, plane_out)| {
            let bias = self.bias.as_ref().map_or(0.0, |b| b[co]);
            let mc = &m[co * per_channel..(co + 1) * per_channel];
            with_rows(grid.tw, |rows| {
                #[cfg(target_arch = "x86_64")]
                if simd {
                    // SAFETY: the CPU has AVX2 (checked above).
                    unsafe { output_channel_avx2(mc, grid, bias, self.relu, rows, plane_out) };
                    return;
                }
                output_channel(mc, grid, bias, self.relu, rows, plane_out);
            });
        });
        clock.lap(KernelPart::OutputTransform);
        out
    }
}

impl WinogradConv {
    /// The products of [`WinogradConv::run_by_channels`] in f32: `m[co][e][t] = Σ u[e][co][ci] ·
    /// v[ci][e][t]`, split by blocks of output channels.
    fn multiply_by_channels_f32(&self, v: &[f32], m: &mut [f32], tile: Tile, nt: usize, threads: usize) {
        let (cin, cout) = (self.cin, self.cout);
        let positions = tile.positions();
        let per_channel = positions * nt;
        // Output channels per task: enough tasks for every thread to get several (the last ones
        // ragged), and rows enough for the products to run at speed.
        let rows_per_task = cout.div_ceil(4 * threads).max(16).min(cout);
        let u = self.transformed(tile);
        m.par_chunks_mut(rows_per_task * per_channel).enumerate().for_each(|(task, mc)| {
            let co0 = task * rows_per_task;
            let rows = mc.len() / per_channel;
            for e in 0..positions {
                // SAFETY: dst is rows×nt with row stride positions·nt inside `mc` (starting at
                // e·nt); lhs is rows×cin with row stride cin inside U_e; rhs is cin×nt with row
                // stride positions·nt inside `v`: each within the slice it points into.
                unsafe {
                    product(
                        (rows, nt, cin),
                        mc.as_mut_ptr().add(e * nt),
                        per_channel,
                        Strided::rows(u.as_ptr().add((e * cout + co0) * cin), cin),
                        Strided::rows(v.as_ptr().add(e * nt), per_channel),
                        1.0,
                        1,
                    );
                }
            }
        });
    }

    /// The products of [`WinogradConv::run_by_channels`] in BF16: each position's `v` packed once
    /// (split by position), then the products split by blocks of 32 output channels.
    fn multiply_by_channels_bf16(
        &self,
        v: &[f32],
        m: &mut [f32],
        tile: Tile,
        nt: usize,
        threads: usize,
        clock: &mut KernelClock,
    ) {
        let (cin, cout) = (self.cin, self.cout);
        let positions = tile.positions();
        let per_channel = positions * nt;
        let len = bf16::rhs_len(cin, nt);
        let mut packed = vec![0u32; positions * len];
        packed.par_chunks_mut(len).enumerate().for_each(|(e, buf)| {
            // SAFETY: position e of `v` is cin×nt with rows per_channel apart, inside `v`.
            unsafe { bf16::pack_rhs(v.as_ptr().add(e * nt), per_channel, cin, nt, buf) };
        });
        clock.lap(KernelPart::Packing);
        let u = self.transformed_bf16(tile);
        let rows_per_task = cout.div_ceil(4 * threads).next_multiple_of(32).min(cout);
        m.par_chunks_mut(rows_per_task * per_channel).enumerate().for_each(|(task, mc)| {
            let co0 = task * rows_per_task;
            let rows = mc.len() / per_channel;
            for (e, lhs) in u.iter().enumerate() {
                // SAFETY: `packed` holds position e's operand as `pack_rhs` wrote it; dst is rows×nt with row stride per_channel inside `mc`; co0 is a
                // multiple of 32 (rows_per_task is, unless it is all of cout and co0 = 0);
                // BF16 runs only where available (checked by the caller).
                unsafe {
                    let rhs = bf16::PackedRhs::view(&packed[e * len..(e + 1) * len], cin, nt);
                    bf16::product(lhs, co0, rows, rhs, mc.as_mut_ptr().add(e * nt), per_channel);
                }
            }
        });
    }
}

/// Runs `f` with this thread's row scratch, sized for either tile at `tw` tiles per row.
fn with_rows(tw: usize, f: impl FnOnce(&mut [f32])) {
    SCRATCH.with(|cell| {
        let mut fresh = Vec::new();
        let mut held = cell.try_borrow_mut();
        let rows = match held.as_deref_mut() {
            Ok(s) => &mut s.rows,
            Err(_) => &mut fresh,
        };
        // See `WinogradConv::process` for the sizes.
        rows.resize(64 * tw + 16, 0.0);
        f(rows)
    });
}

/// Every tile row of one input channel, transformed into `vc` (`[e][t]`).
#[inline(always)]
fn input_channel(plane: &Plane, g: Grid, rows: &mut [f32], vc: &mut [f32]) {
    let stride = g.th * g.tw;
    for ty in 0..g.th {
        let dst = Positions { v: &mut *vc, at: ty * g.tw, stride };
        match g.tile {
            Tile::F2 => f2::input_row(plane, ty, rows, dst),
            Tile::F4 => f4::input_row(plane, ty, rows, dst),
        }
    }
}

/// One output channel from its products `mc` (`[e][t]`): bias, ReLU, written to `out` (`h × w`).
#[inline(always)]
fn output_channel(mc: &[f32], g: Grid, bias: f32, relu: bool, rows: &mut [f32], out: &mut [f32]) {
    let (side, tw, w) = (g.tile.side(), g.tw, g.w);
    let stride = g.th * tw;
    let (ys, lines) = rows.split_at_mut(40 * tw);
    for ty in 0..g.th {
        match g.tile {
            Tile::F2 => f2::output_row(mc, stride, ty * tw, tw, bias, ys, lines),
            Tile::F4 => f4::output_row(mc, stride, ty * tw, tw, bias, ys, lines),
        }
        for dy in 0..side {
            let y = side * ty + dy;
            if y >= g.h {
                break;
            }
            let line = &lines[dy * side * tw..][..w];
            let dst = &mut out[y * w..(y + 1) * w];
            if relu {
                for (d, &v) in dst.iter_mut().zip(line) {
                    *d = v.max(0.0);
                }
            } else {
                dst.copy_from_slice(line);
            }
        }
    }
}

/// [`input_channel`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn input_channel_avx2(plane: &Plane, g: Grid, rows: &mut [f32], vc: &mut [f32]) {
    input_channel(plane, g, rows, vc)
}

/// [`output_channel`] compiled for AVX2.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn output_channel_avx2(mc: &[f32], g: Grid, bias: f32, relu: bool, rows: &mut [f32], out: &mut [f32]) {
    output_channel(mc, g, bias, relu, rows, out)
}
