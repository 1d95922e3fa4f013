//! The transforms of F(2x2, 3x3): 4x4 input patches, 2x2 output tiles (Lavin & Gray 2015).
//!
//! `Bᵀ = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]`, `G = [[1,0,0],[½,½,½],[½,-½,½],[0,0,1]]`,
//! `Aᵀ = [[1,1,1,0],[0,1,-1,-1]]`.

use super::{split_positions, Plane, Positions};

/// `G g Gᵀ` for one 3x3 kernel `g` (row-major), as 16 values `e = 4·i + j`; computed in f64.
pub fn kernel_transform(g: &[f64]) -> Vec<f64> {
    let mut t = [[0f64; 3]; 4]; // G g
    for c in 0..3 {
        let (g0, g1, g2) = (g[c], g[3 + c], g[6 + c]);
        t[0][c] = g0;
        t[1][c] = 0.5 * (g0 + g1 + g2);
        t[2][c] = 0.5 * (g0 - g1 + g2);
        t[3][c] = g2;
    }
    let mut u = Vec::with_capacity(16); // (G g) Gᵀ
    for r in &t {
        u.extend([r[0], 0.5 * (r[0] + r[1] + r[2]), 0.5 * (r[0] - r[1] + r[2]), r[2]]);
    }
    u
}

/// `Bᵀ d B` for every tile of tile row `ty` of one channel `plane`, written to
/// `dst.v[e·dst.stride + dst.at + tx]`. `rows` is scratch of `20·tw + 4` floats.
#[inline(always)]
pub fn input_row(plane: &Plane, ty: usize, rows: &mut [f32], dst: Positions) {
    let (w, Positions { v, at, stride: e_stride }) = (plane.w, dst);
    let tw = w.div_ceil(2);
    let (pad, rest) = rows.split_at_mut(2 * tw + 2);
    let (even, rest) = rest.split_at_mut(tw + 1);
    let (odd, rest) = rest.split_at_mut(tw + 1);
    let cols = &mut rest[..16 * tw];
    // cols[(4·r + j)·tw + tx]: input row r of the patch after the column transform `· B`.
    for r in 0..4 {
        let cols = &mut cols[4 * r * tw..4 * (r + 1) * tw];
        // The patch starts one row above the tile.
        if !plane.padded_row((2 * ty + r).wrapping_sub(1), pad) {
            cols.fill(0.0);
            continue;
        }
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
        let [v0, v1, v2, v3] = split_positions::<4>(v, j, e_stride, at, tw);
        for tx in 0..tw {
            // Bᵀ applied down the patch rows: d0 − d2, d1 + d2, d2 − d1, d1 − d3.
            v0[tx] = r0[tx] - r2[tx];
            v1[tx] = r1[tx] + r2[tx];
            v2[tx] = r2[tx] - r1[tx];
            v3[tx] = r1[tx] - r3[tx];
        }
    }
}

/// `Aᵀ M A + bias` for the `tw` tiles whose 16 products start at `m[e·stride + base]`: the two
/// output rows, each `2·tw` long, written to `lines[0..2·tw]` and `lines[2·tw..4·tw]`. `ys` is
/// scratch of `4·tw` floats.
#[inline(always)]
pub fn output_row(m: &[f32], stride: usize, base: usize, tw: usize, bias: f32, ys: &mut [f32], lines: &mut [f32]) {
    let p = |e: usize| &m[e * stride + base..][..tw];
    let (m00, m01, m02, m03) = (p(0), p(1), p(2), p(3));
    let (m10, m11, m12, m13) = (p(4), p(5), p(6), p(7));
    let (m20, m21, m22, m23) = (p(8), p(9), p(10), p(11));
    let (m30, m31, m32, m33) = (p(12), p(13), p(14), p(15));
    let (y00, rest) = ys.split_at_mut(tw);
    let (y01, rest) = rest.split_at_mut(tw);
    let (y10, rest) = rest.split_at_mut(tw);
    let y11 = &mut rest[..tw];
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
        y00[tx] = r00 + r01 + r02 + bias;
        y01[tx] = r01 - r02 - r03 + bias;
        y10[tx] = r10 + r11 + r12 + bias;
        y11[tx] = r11 - r12 - r13 + bias;
    }
    let (top, bottom) = lines[..4 * tw].split_at_mut(2 * tw);
    for (line, left, right) in [(top, &*y00, &*y01), (bottom, &*y10, &*y11)] {
        for ((pair, &l), &r) in line.chunks_exact_mut(2).zip(left).zip(right) {
            pair[0] = l;
            pair[1] = r;
        }
    }
}
