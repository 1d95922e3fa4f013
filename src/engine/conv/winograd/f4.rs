//! The transforms of F(4x4, 3x3): 6x6 input patches, 4x4 output tiles, interpolation points
//! 0, ±1, ±2 and ∞ (Lavin & Gray 2015). 36 multiplies per 16 outputs and channel pair, against
//! 144 for the direct convolution: 4x fewer.
//!
//! `Bᵀ` rows: `[4,0,-5,0,1,0]`, `[0,-4,-4,1,1,0]`, `[0,4,-4,-1,1,0]`, `[0,-2,-1,2,1,0]`,
//! `[0,2,-1,-2,1,0]`, `[0,4,0,-5,0,1]`; `G` rows: `[¼,0,0]`, `[-⅙,-⅙,-⅙]`, `[-⅙,⅙,-⅙]`,
//! `[1/24,1/12,⅙]`, `[1/24,-1/12,⅙]`, `[0,0,1]`; `Aᵀ` rows: `[1,1,1,1,1,0]`, `[0,1,-1,2,-2,0]`,
//! `[0,1,1,4,4,0]`, `[0,1,-1,8,-8,1]`.

use super::{split_positions, Plane, Positions};

const G: [[f64; 3]; 6] = [
    [0.25, 0.0, 0.0],
    [-1.0 / 6.0, -1.0 / 6.0, -1.0 / 6.0],
    [-1.0 / 6.0, 1.0 / 6.0, -1.0 / 6.0],
    [1.0 / 24.0, 1.0 / 12.0, 1.0 / 6.0],
    [1.0 / 24.0, -1.0 / 12.0, 1.0 / 6.0],
    [0.0, 0.0, 1.0],
];

/// `G g Gᵀ` for one 3x3 kernel `g` (row-major), as 36 values `e = 6·i + j`; computed in f64.
pub fn kernel_transform(g: &[f64]) -> Vec<f64> {
    let mut u = vec![0f64; 36];
    for i in 0..6 {
        for j in 0..6 {
            let mut sum = 0.0;
            for r in 0..3 {
                for c in 0..3 {
                    sum += G[i][r] * g[3 * r + c] * G[j][c];
                }
            }
            u[6 * i + j] = sum;
        }
    }
    u
}

/// `Bᵀ d` along a line of patches: `d[k][tx]` is element k of patch tx, `out[i][tx]` the result.
#[inline(always)]
fn b_transpose(d: [&[f32]; 6], out: [&mut [f32]; 6], tw: usize) {
    let [d0, d1, d2, d3, d4, d5] = d.map(|s| &s[..tw]);
    let [o0, o1, o2, o3, o4, o5] = out.map(|s| &mut s[..tw]);
    for tx in 0..tw {
        let a = d4[tx] - 4.0 * d2[tx];
        let b = d3[tx] - 4.0 * d1[tx];
        let c = d4[tx] - d2[tx];
        let e = 2.0 * (d3[tx] - d1[tx]);
        o0[tx] = 4.0 * d0[tx] - 5.0 * d2[tx] + d4[tx];
        o1[tx] = a + b;
        o2[tx] = a - b;
        o3[tx] = c + e;
        o4[tx] = c - e;
        o5[tx] = 4.0 * d1[tx] - 5.0 * d3[tx] + d5[tx];
    }
}

/// `Aᵀ m + bias` along a line of tiles, as [`b_transpose`].
#[inline(always)]
fn a_transpose(m: [&[f32]; 6], out: [&mut [f32]; 4], bias: f32, tw: usize) {
    let [m0, m1, m2, m3, m4, m5] = m.map(|s| &s[..tw]);
    let [o0, o1, o2, o3] = out.map(|s| &mut s[..tw]);
    for tx in 0..tw {
        let p = m1[tx] + m2[tx];
        let q = m1[tx] - m2[tx];
        let r = m3[tx] + m4[tx];
        let s = m3[tx] - m4[tx];
        o0[tx] = m0[tx] + p + r + bias;
        o1[tx] = q + 2.0 * s + bias;
        o2[tx] = p + 4.0 * r + bias;
        o3[tx] = q + 8.0 * s + m5[tx] + bias;
    }
}

/// `n` consecutive `tw`-long pieces of `buf`, as an array.
fn pieces<const N: usize>(buf: &mut [f32], tw: usize) -> [&mut [f32]; N] {
    let mut rest = buf;
    std::array::from_fn(|_| {
        let (head, tail) = std::mem::take(&mut rest).split_at_mut(tw);
        rest = tail;
        head
    })
}

/// `Bᵀ d B` for every tile of tile row `ty` of one channel `plane`, written to
/// `dst.v[e·dst.stride + dst.at + tx]`. `rows` is scratch of `64·tw + 16` floats.
#[inline(always)]
pub fn input_row(plane: &Plane, ty: usize, rows: &mut [f32], dst: Positions) {
    let (w, Positions { v, at, stride: e_stride }) = (plane.w, dst);
    let tw = w.div_ceil(4);
    let (pad, rest) = rows.split_at_mut(4 * (tw + 1));
    let (phases, rest) = rest.split_at_mut(4 * (tw + 1));
    let cols = &mut rest[..36 * tw];
    // cols[(6·r + j)·tw + tx]: input row r of the patch after the column transform `· B`.
    for r in 0..6 {
        let cols = &mut cols[6 * r * tw..6 * (r + 1) * tw];
        // The patch starts one row above the tile.
        if !plane.padded_row((4 * ty + r).wrapping_sub(1), pad) {
            cols.fill(0.0);
            continue;
        }
        // Padded columns split by phase: tile tx's patch columns are p0[tx], p1[tx], p2[tx],
        // p3[tx], p0[tx + 1], p1[tx + 1].
        let [p0, p1, p2, p3] = pieces::<4>(phases, tw + 1);
        for ((((a, b), c), d), quad) in
            p0.iter_mut().zip(p1.iter_mut()).zip(p2.iter_mut()).zip(p3.iter_mut()).zip(pad.chunks_exact(4))
        {
            (*a, *b, *c, *d) = (quad[0], quad[1], quad[2], quad[3]);
        }
        let d = [&p0[..tw], &p1[..tw], &p2[..tw], &p3[..tw], &p0[1..], &p1[1..]];
        b_transpose(d, pieces::<6>(cols, tw), tw);
    }
    for j in 0..6 {
        let d: [&[f32]; 6] = std::array::from_fn(|k| &cols[(6 * k + j) * tw..(6 * k + j + 1) * tw]);
        b_transpose(d, split_positions::<6>(v, j, e_stride, at, tw), tw);
    }
}

/// `Aᵀ M A + bias` for the `tw` tiles whose 36 products start at `m[e·stride + base]`: the four
/// output rows, each `4·tw` long, written to `lines[a·4·tw..(a+1)·4·tw]`. `ys` is scratch of
/// `40·tw` floats.
#[inline(always)]
pub fn output_row(m: &[f32], stride: usize, base: usize, tw: usize, bias: f32, ys: &mut [f32], lines: &mut [f32]) {
    let (t, y) = ys[..40 * tw].split_at_mut(24 * tw);
    // t[(4·i + b)·tw + tx] = (Aᵀ applied across the columns of row i).
    for i in 0..6 {
        let row: [&[f32]; 6] = std::array::from_fn(|j| &m[(6 * i + j) * stride + base..][..tw]);
        a_transpose(row, pieces::<4>(&mut t[4 * i * tw..], tw), 0.0, tw);
    }
    // y[(4·b + a)·tw + tx] = Aᵀ applied down column b.
    for b in 0..4 {
        let col: [&[f32]; 6] = std::array::from_fn(|i| &t[(4 * i + b) * tw..][..tw]);
        a_transpose(col, pieces::<4>(&mut y[4 * b * tw..], tw), bias, tw);
    }
    for (a, line) in lines[..16 * tw].chunks_exact_mut(4 * tw).enumerate() {
        let [y0, y1, y2, y3]: [&[f32]; 4] = std::array::from_fn(|b| &y[(4 * b + a) * tw..][..tw]);
        for ((((quad, &v0), &v1), &v2), &v3) in line.chunks_exact_mut(4).zip(y0).zip(y1).zip(y2).zip(y3) {
            quad.copy_from_slice(&[v0, v1, v2, v3]);
        }
    }
}
