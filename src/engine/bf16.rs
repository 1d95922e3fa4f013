//! Matrix products in BF16 with f32 accumulation, for the Winograd convolutions on CPUs that
//! multiply BF16 in hardware: Intel's AMX tiles (`TDPBF16PS`, a 16x16 f32 block += 16x32 by
//! 32x16 BF16 in one instruction) where the CPU and the kernel allow them.
//!
//! The operands are rounded to BF16 (8 significant bits, round to nearest even) and laid out once
//! for the tiles: the left one (the transformed kernel, which never changes) row-major with its
//! rows and columns padded to 32 ([`PackedLhs`]), the right one (the transformed input, new on
//! every call) in pairs along `k` ([`pack_rhs`]), the layout `TDPBF16PS` reads its second source
//! in, and in strips of 16 columns, each strip contiguous: element `(k, n)` at
//! `[n/16][k/2][n%16][k%2]`, so every tile load reads 1 KiB in one piece. (Row-major pairs put a
//! tile's rows a whole row of the matrix apart: 4 KiB at 1024 columns, every row in the same L1
//! set; one thread's 128x1024x128 product ran at 245 GFLOP/s that way, 420-460 in strips, against
//! 90-115 for the f32 `gemm` crate's.) Products accumulate in f32, so the only
//! loss against the f32 products is the rounding of the inputs, a relative 2⁻⁹ each.
//!
//! The choice is made at run time ([`available`]): elsewhere the f32 products run unchanged.

use std::sync::OnceLock;

use crate::engine::product::Strided;

/// Rows and columns of the block one kernel call computes, and the `k` of one tile step.
const BLOCK: usize = 32;

/// `x` rounded to BF16 (to nearest, ties to even), as the high 16 bits of an f32. NaN stays NaN.
#[inline(always)]
pub fn round_bits(x: f32) -> u32 {
    let b = x.to_bits();
    if x.is_nan() {
        return (b | 0x0040_0000) & 0xffff_0000;
    }
    b.wrapping_add(0x7fff + ((b >> 16) & 1)) & 0xffff_0000
}

/// `x` rounded to BF16, as an f32.
pub fn round(x: f32) -> f32 {
    f32::from_bits(round_bits(x))
}

/// Whether the BF16 products can run here: the CPU has AMX tiles with BF16, and the kernel let
/// this process use them (Linux asks each process to request the tile state; a kernel or hypervisor
/// that withholds it refuses). Checked once; `BRUSHWORK_PRECISION=f32` turns them off.
pub fn available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        if std::env::var("BRUSHWORK_PRECISION").is_ok_and(|p| p.eq_ignore_ascii_case("f32")) {
            return false;
        }
        amx::request()
    })
}

/// The left operand of a product, `m×k`, rounded to BF16 and padded with zeros to whole blocks:
/// row-major, `k_pad` values a row.
#[derive(Debug, Clone)]
pub struct PackedLhs {
    data: Vec<u16>,
    m: usize,
    k: usize,
    k_pad: usize,
}

impl PackedLhs {
    /// Packs the `m×k` matrix `src`.
    pub fn new(src: Strided, m: usize, k: usize) -> Self {
        let (m_pad, k_pad) = (m.next_multiple_of(BLOCK), k.next_multiple_of(BLOCK));
        let mut data = vec![0u16; m_pad * k_pad];
        for i in 0..m {
            for j in 0..k {
                // SAFETY: (i, j) lies inside the m×k matrix the caller described.
                let x = unsafe { *src.ptr.add(i * src.row + j * src.col) };
                data[i * k_pad + j] = (round_bits(x) >> 16) as u16;
            }
        }
        Self { data, m, k, k_pad }
    }

    pub fn rows(&self) -> usize {
        self.m
    }

    pub fn depth(&self) -> usize {
        self.k
    }

    /// Element `(i, j)` as an f32 (zero in the padding).
    pub fn get(&self, i: usize, j: usize) -> f32 {
        f32::from_bits(u32::from(self.data[i * self.k_pad + j]) << 16)
    }
}

/// The right operand of a product, `k×n`, as [`pack_rhs`] laid it out.
#[derive(Debug, Clone, Copy)]
pub struct PackedRhs<'a> {
    /// Pairs along `k` in strips of 16 columns: element `(k, n)` in the low (even `k`) or high
    /// half of `pairs[n/16][k/2][n%16]`.
    pairs: &'a [u32],
    k: usize,
    n: usize,
    /// `k` padded to whole blocks.
    k_pad: usize,
}

impl<'a> PackedRhs<'a> {
    /// A `k×n` operand [`pack_rhs`] wrote into `pairs` earlier.
    ///
    /// # Panics
    /// If `pairs` is shorter than [`rhs_len`]`(k, n)`.
    pub fn view(pairs: &'a [u32], k: usize, n: usize) -> Self {
        Self { pairs: &pairs[..rhs_len(k, n)], k, n, k_pad: k.next_multiple_of(BLOCK) }
    }

    /// Element `(i, j)` as an f32 (zero in the padding).
    pub fn get(&self, i: usize, j: usize) -> f32 {
        let pair = self.pairs[((j / 16) * (self.k_pad / 2) + i / 2) * 16 + j % 16];
        f32::from_bits(if i.is_multiple_of(2) { pair << 16 } else { pair & 0xffff_0000 })
    }
}

/// The `u32`s [`pack_rhs`] needs for a `k×n` operand.
pub fn rhs_len(k: usize, n: usize) -> usize {
    k.next_multiple_of(BLOCK) / 2 * n.next_multiple_of(BLOCK)
}

/// Packs the `k×n` matrix `src` (rows `row` floats apart, columns adjacent) into the first
/// [`rhs_len`] elements of `buf`.
///
/// # Safety
/// Every element of the `k×n` matrix must lie in memory valid for reads during the call.
///
/// # Panics
/// If `buf` is shorter than [`rhs_len`].
pub unsafe fn pack_rhs<'a>(src: *const f32, row: usize, k: usize, n: usize, buf: &'a mut [u32]) -> PackedRhs<'a> {
    let (k_pad, n_pad) = (k.next_multiple_of(BLOCK), n.next_multiple_of(BLOCK));
    let len = k_pad / 2 * n_pad;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx512f") {
        // SAFETY: the CPU has AVX-512F; the caller vouches for the source.
        unsafe { pack_rhs_avx512(src, row, k, n, k_pad, &mut buf[..len]) };
        return PackedRhs { pairs: &buf[..len], k, n, k_pad };
    }
    // SAFETY: the caller vouches for the source.
    unsafe { pack_rhs_rows(src, row, k, n, k_pad, &mut buf[..len]) };
    PackedRhs { pairs: &buf[..len], k, n, k_pad }
}

/// [`pack_rhs_rows`] in AVX-512: each strip written in order, sixteen columns of two rows a step,
/// rounded as [`round_bits`] rounds (NaN kept NaN), the columns past `n` masked to zero.
///
/// # Safety
/// The CPU must support AVX-512F, and the source be as [`pack_rhs`] requires.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn pack_rhs_avx512(src: *const f32, row: usize, k: usize, n: usize, k_pad: usize, out: &mut [u32]) {
    use std::arch::x86_64::*;
    let strip = k_pad / 2 * 16;
    let (bias, one) = (_mm512_set1_epi32(0x7fff), _mm512_set1_epi32(1));
    let (high, quiet) = (_mm512_set1_epi32(0xffff_0000_u32 as i32), _mm512_set1_epi32(0x0040_0000));
    let round = |x: __m512| {
        let b = _mm512_castps_si512(x);
        let lsb = _mm512_and_si512(_mm512_srli_epi32::<16>(b), one);
        let rounded = _mm512_add_epi32(b, _mm512_add_epi32(bias, lsb));
        let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
        _mm512_and_si512(_mm512_mask_or_epi32(rounded, nan, b, quiet), high)
    };
    assert!(out.len() >= n.next_multiple_of(BLOCK) / 16 * strip);
    for (s, column) in (0..n.next_multiple_of(BLOCK)).step_by(16).enumerate() {
        let width = n.saturating_sub(column).min(16);
        let mask = ((1u32 << width) - 1) as __mmask16;
        let dst = out[s * strip..].as_mut_ptr();
        for p in 0..k_pad / 2 {
            let (k0, k1) = (2 * p, 2 * p + 1);
            // SAFETY: masked loads touch only columns column..column + width < n of rows k0 and
            // k1 < k, inside the caller's matrix (masked-off lanes never fault); the store is
            // 16 u32 at p·16 inside this strip, which `out` holds (asserted above).
            unsafe {
                let even = match k0 < k {
                    true => _mm512_maskz_loadu_ps(mask, src.add(k0 * row + column)),
                    false => _mm512_setzero_ps(),
                };
                let odd = match k1 < k {
                    true => _mm512_maskz_loadu_ps(mask, src.add(k1 * row + column)),
                    false => _mm512_setzero_ps(),
                };
                let pair = _mm512_or_si512(_mm512_srli_epi32::<16>(round(even)), round(odd));
                _mm512_storeu_si512(dst.add(p * 16).cast(), pair);
            }
        }
    }
}

/// Pairs of source rows merged, sixteen columns at a time into their strips; the padding zeroed.
///
/// # Safety
/// As [`pack_rhs`].
#[inline(always)]
unsafe fn pack_rhs_rows(src: *const f32, row: usize, k: usize, n: usize, k_pad: usize, out: &mut [u32]) {
    let zeros = [0f32; 16];
    let strip = k_pad / 2 * 16;
    for p in 0..k_pad / 2 {
        let (k0, k1) = (2 * p, 2 * p + 1);
        for (s, column) in (0..n.next_multiple_of(BLOCK)).step_by(16).enumerate() {
            let width = (n.saturating_sub(column)).min(16);
            // SAFETY: rows k0 and k1 < k have n elements each inside the caller's matrix, and
            // columns column..column + width < n.
            let even = if k0 < k {
                unsafe { std::slice::from_raw_parts(src.add(k0 * row + column), width) }
            } else {
                &zeros[..width]
            };
            let odd = if k1 < k {
                unsafe { std::slice::from_raw_parts(src.add(k1 * row + column), width) }
            } else {
                &zeros[..width]
            };
            let dst = &mut out[s * strip + p * 16..][..16];
            for ((d, &a), &b) in dst.iter_mut().zip(even).zip(odd) {
                *d = (round_bits(a) >> 16) | round_bits(b);
            }
            dst[width..].fill(0);
        }
    }
}

/// `dst = lhs[rows] · rhs`: rows `first..first + count` of `lhs` times `rhs`, into the row-major
/// `count×n` f32 matrix at `dst` whose rows are `dst_row` floats apart.
///
/// # Safety
/// [`available`] must have returned true; `first` must be a multiple of 32 and `first + count`
/// at most `lhs.rows()`; `lhs.depth()` must equal `rhs`'s `k`; every element of `dst` must lie in
/// memory valid for writes and not accessed elsewhere during the call.
pub unsafe fn product(lhs: &PackedLhs, first: usize, count: usize, rhs: PackedRhs, dst: *mut f32, dst_row: usize) {
    debug_assert_eq!(first % BLOCK, 0);
    debug_assert!(first + count <= lhs.m);
    debug_assert_eq!(lhs.k, rhs.k);
    // SAFETY: the caller's contract.
    unsafe { amx::product(lhs, first, count, rhs, dst, dst_row) }
}

#[cfg(target_arch = "x86_64")]
mod amx {
    //! The AMX kernel: tiles `tmm0..3` accumulate a 32x32 block of the result, `tmm4`/`tmm5` hold
    //! its two 16-row strips of the left operand and `tmm6`/`tmm7` its two 16-column strips of the
    //! right one, 32 values of `k` a step.

    use std::arch::asm;
    use std::arch::x86_64::__cpuid_count;

    use super::{PackedLhs, PackedRhs, BLOCK};

    /// `arch_prctl` asking for an extended state component, and the AMX tile data's number.
    const ARCH_REQ_XCOMP_PERM: libc::c_int = 0x1023;
    const XFEATURE_XTILEDATA: libc::c_ulong = 18;

    /// CPUID says AMX-TILE and AMX-BF16, the OS enabled the tile state (XCR0 bits 17 and 18), and
    /// Linux granted this process its use.
    pub fn request() -> bool {
        if __cpuid_count(0, 0).eax < 7 {
            return false;
        }
        let edx = __cpuid_count(7, 0).edx;
        let (amx_bf16, amx_tile) = (edx >> 22 & 1 == 1, edx >> 24 & 1 == 1);
        if !amx_bf16 || !amx_tile || !std::arch::is_x86_feature_detected!("xsave") {
            return false;
        }
        // XGETBV needs OSXSAVE, which is_x86_feature_detected!("xsave") implies on Linux with
        // the OS's support (std checks OSXSAVE before reporting XSAVE-dependent features).
        let (lo, _hi): (u32, u32);
        // SAFETY: XGETBV with ECX = 0 reads XCR0, allowed at any privilege level when OSXSAVE is
        // set.
        unsafe { asm!("xgetbv", in("ecx") 0, out("eax") lo, out("edx") _hi, options(nomem, nostack)) };
        if lo >> 17 & 3 != 3 {
            return false;
        }
        // SAFETY: a plain system call with integer arguments.
        unsafe { libc::syscall(libc::SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0 }
    }

    /// The tile configuration: palette 1, eight tiles of 16 rows by 64 bytes.
    #[repr(C, align(64))]
    struct Config {
        palette: u8,
        start_row: u8,
        reserved: [u8; 14],
        colsb: [u16; 16],
        rows: [u8; 16],
    }

    const CONFIG: Config = Config {
        palette: 1,
        start_row: 0,
        reserved: [0; 14],
        colsb: [64, 64, 64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 0, 0, 0, 0],
        rows: [16, 16, 16, 16, 16, 16, 16, 16, 0, 0, 0, 0, 0, 0, 0, 0],
    };

    /// A 32x32 f32 block for the edges of the result.
    #[repr(C, align(64))]
    struct Edge([f32; BLOCK * BLOCK]);

    /// See [`super::product`].
    pub unsafe fn product(lhs: &PackedLhs, first: usize, count: usize, rhs: PackedRhs, dst: *mut f32, dst_row: usize) {
        let (k_pad, n) = (lhs.k_pad, rhs.n);
        let lhs_stride = k_pad * 2;
        // Strips of 16 columns, k_pad/2 pair rows of 64 bytes each.
        let strip = k_pad / 2 * 16;
        let mut edge = Edge([0.0; BLOCK * BLOCK]);
        // SAFETY: loading a valid configuration; tiles are released before returning.
        unsafe { asm!("ldtilecfg [{}]", in(reg) &CONFIG as *const Config, options(nostack, readonly)) };
        for i in (0..count).step_by(BLOCK) {
            let a = lhs.data[(first + i) * k_pad..].as_ptr();
            for j in (0..n).step_by(BLOCK) {
                // The last 16 columns or fewer (small maps: 16 tiles at 8x8) take half the tiles.
                let narrow = n - j <= 16;
                // SAFETY: the zeroed accumulators, then per step of 32 in k two 16x32 strips of
                // `lhs` (rows first+i.., inside its padded rows) and two (narrow: one) 16x16-pair
                // strips of `rhs` (pair rows ks/2.., columns j..j+32, inside its padded columns).
                unsafe {
                    asm!("tilezero tmm0", "tilezero tmm1", "tilezero tmm2", "tilezero tmm3", options(nomem, nostack));
                    for ks in (0..k_pad).step_by(BLOCK) {
                        let a0 = a.add(ks);
                        let b0 = rhs.pairs.as_ptr().add((j / 16) * strip + ks / 2 * 16);
                        if narrow {
                            asm!(
                                "tileloadd tmm4, [{a0} + {sa}*1]",
                                "tileloadd tmm6, [{b0} + {sb}*1]",
                                "tileloadd tmm5, [{a1} + {sa}*1]",
                                "tdpbf16ps tmm0, tmm4, tmm6",
                                "tdpbf16ps tmm2, tmm5, tmm6",
                                a0 = in(reg) a0,
                                a1 = in(reg) a0.add(16 * k_pad),
                                sa = in(reg) lhs_stride,
                                b0 = in(reg) b0,
                                sb = in(reg) 64usize,
                                options(nostack, readonly),
                            );
                            continue;
                        }
                        asm!(
                            "tileloadd tmm4, [{a0} + {sa}*1]",
                            "tileloadd tmm6, [{b0} + {sb}*1]",
                            "tileloadd tmm5, [{a1} + {sa}*1]",
                            "tdpbf16ps tmm0, tmm4, tmm6",
                            "tileloadd tmm7, [{b1} + {sb}*1]",
                            "tdpbf16ps tmm2, tmm5, tmm6",
                            "tdpbf16ps tmm1, tmm4, tmm7",
                            "tdpbf16ps tmm3, tmm5, tmm7",
                            a0 = in(reg) a0,
                            a1 = in(reg) a0.add(16 * k_pad),
                            sa = in(reg) lhs_stride,
                            b0 = in(reg) b0,
                            b1 = in(reg) b0.add(strip),
                            sb = in(reg) 64usize,
                            options(nostack, readonly),
                        );
                    }
                }
                let (rows, cols) = ((count - i).min(BLOCK), (n - j).min(BLOCK));
                let whole = rows == BLOCK && cols == BLOCK;
                let (out, stride) = if whole {
                    // SAFETY: row i, column j of the caller's `dst`.
                    (unsafe { dst.add(i * dst_row + j) }, dst_row)
                } else {
                    (edge.0.as_mut_ptr(), BLOCK)
                };
                // SAFETY: a whole 32x32 block of `dst` (or the edge block), rows `stride` apart.
                unsafe {
                    asm!(
                        "tilestored [{c0} + {s}*1], tmm0",
                        "tilestored [{c1} + {s}*1], tmm1",
                        "tilestored [{c2} + {s}*1], tmm2",
                        "tilestored [{c3} + {s}*1], tmm3",
                        c0 = in(reg) out,
                        c1 = in(reg) out.add(16),
                        c2 = in(reg) out.add(16 * stride),
                        c3 = in(reg) out.add(16 * stride + 16),
                        s = in(reg) stride * 4,
                        options(nostack),
                    );
                }
                if !whole {
                    for r in 0..rows {
                        // SAFETY: row i + r < count, columns j..j + cols < n of `dst`.
                        let d = unsafe { std::slice::from_raw_parts_mut(dst.add((i + r) * dst_row + j), cols) };
                        d.copy_from_slice(&edge.0[r * BLOCK..][..cols]);
                    }
                }
            }
        }
        // SAFETY: releases the tile state this call configured.
        unsafe { asm!("tilerelease", options(nomem, nostack)) };
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod amx {
    use super::{PackedLhs, PackedRhs};

    pub fn request() -> bool {
        false
    }

    pub unsafe fn product(_: &PackedLhs, _: usize, _: usize, _: PackedRhs, _: *mut f32, _: usize) {
        unreachable!("AMX products are never chosen off x86-64")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::rng::SplitMix64;

    /// Rounding against values worked out by hand from the bit patterns: 1 + 2⁻⁸ is a tie between
    /// 1 and 1 + 2⁻⁷ and goes to the even 1; 1 + 3·2⁻⁸ ties between 1 + 2⁻⁷ and 1 + 2⁻⁶ and goes
    /// up to the even 1 + 2⁻⁶; just above a tie rounds up.
    #[test]
    fn rounds_to_nearest_even() {
        assert_eq!(round(1.0), 1.0);
        assert_eq!(round(1.0 + 1.0 / 256.0), 1.0);
        assert_eq!(round(1.0 + 3.0 / 256.0), 1.0 + 1.0 / 64.0);
        assert_eq!(round(1.0 + 1.0 / 256.0 + 1.0 / 65536.0), 1.0 + 1.0 / 128.0);
        assert_eq!(round(-3.0), -3.0);
        assert!(round(f32::NAN).is_nan());
        assert_eq!(round(f32::INFINITY), f32::INFINITY);
    }

    /// Packing keeps every element (rounded) at its place and zeros the padding, for shapes on and
    /// off the block size and odd `k`.
    #[test]
    fn packing_keeps_every_element() {
        for (k, n) in [(1, 1), (3, 5), (32, 32), (33, 70), (64, 17)] {
            let src = SplitMix64::new(k as u64 * 7 + n as u64).uniform(k * (n + 3), -4.0, 4.0);
            let mut buf = vec![0; rhs_len(k, n)];
            // SAFETY: k rows of n elements, n + 3 apart, inside `src`.
            let rhs = unsafe { pack_rhs(src.as_ptr(), n + 3, k, n, &mut buf) };
            for i in 0..k.next_multiple_of(32) {
                for j in 0..n.next_multiple_of(32) {
                    let want = if i < k && j < n { round(src[i * (n + 3) + j]) } else { 0.0 };
                    assert_eq!(rhs.get(i, j), want, "rhs ({i}, {j}) of {k}x{n}");
                }
            }
            let lhs = PackedLhs::new(Strided { ptr: src.as_ptr(), row: n + 3, col: 1 }, k, n);
            for i in 0..k {
                for j in 0..n.next_multiple_of(32) {
                    let want = if j < n { round(src[i * (n + 3) + j]) } else { 0.0 };
                    assert_eq!(lhs.get(i, j), want, "lhs ({i}, {j}) of {k}x{n}");
                }
            }
        }
    }

    /// The AMX product against the same product of the rounded operands in f64: only f32
    /// accumulation differs, so the error is a few f32 roundings of the sum's scale. Shapes on and
    /// off the 32 block in every dimension, row ranges starting past the first block, a
    /// destination with a wider row stride. Skipped (and says so) where the CPU has no AMX.
    #[test]
    fn amx_product_matches_rounded_f64_product() {
        if !available() {
            eprintln!("no AMX-BF16 here (or BRUSHWORK_PRECISION=f32): the tile product is not tested");
            return;
        }
        for (m, n, k, first) in
            [(64, 64, 64, 0), (3, 4096, 64, 0), (100, 37, 70, 32), (512, 16, 512, 64), (33, 33, 3, 0)]
        {
            let mut rng = SplitMix64::new((m * n + k) as u64);
            let a = rng.uniform(m * k, -1.0, 1.0);
            let b = rng.uniform(k * n, -1.0, 1.0);
            let lhs = PackedLhs::new(Strided::rows(a.as_ptr(), k), m, k);
            let mut buf = vec![0; rhs_len(k, n)];
            // SAFETY: b is k×n with rows n apart.
            let rhs = unsafe { pack_rhs(b.as_ptr(), n, k, n, &mut buf) };
            let count = m - first;
            let dst_row = n + 5;
            let mut dst = vec![f32::NAN; count * dst_row];
            // SAFETY: AMX is available; `first` is a multiple of 32; dst holds count rows.
            unsafe { product(&lhs, first, count, rhs, dst.as_mut_ptr(), dst_row) };
            for i in 0..count {
                for j in 0..n {
                    let want: f64 = (0..k).map(|l| f64::from(lhs.get(first + i, l)) * f64::from(rhs.get(l, j))).sum();
                    let got = f64::from(dst[i * dst_row + j]);
                    // |terms| ≤ 1, so partial sums stay below k and each of the k f32 additions
                    // rounds by at most k·2⁻²⁴.
                    let bound = (k * k) as f64 * 2f64.powi(-24) + 1e-7;
                    assert!((got - want).abs() <= bound, "{m}x{n}x{k} ({i}, {j}): {got} against {want}");
                }
                assert!(dst[i * dst_row + n..(i + 1) * dst_row].iter().all(|v| v.is_nan()), "wrote past the row");
            }
        }
    }
}
