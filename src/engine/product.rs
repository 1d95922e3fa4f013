//! One f32 matrix product on the CPU (the `gemm` crate), for the kernels that multiply slices of
//! their own buffers: the Winograd products and the style loss's Gram matrices and gradients.

use gemm::{gemm, Parallelism};

/// A matrix in memory by its first element and strides: element `(i, j)` at `ptr + i·row + j·col`.
#[derive(Debug, Clone, Copy)]
pub struct Strided {
    pub ptr: *const f32,
    pub row: usize,
    pub col: usize,
}

impl Strided {
    /// A row-major matrix whose rows are `row` floats apart.
    pub fn rows(ptr: *const f32, row: usize) -> Self {
        Self { ptr, row, col: 1 }
    }

    /// The transpose of [`Strided::rows`]`(ptr, row)`: the same memory, strides swapped.
    pub fn transposed(ptr: *const f32, row: usize) -> Self {
        Self { ptr, row: 1, col: row }
    }
}

/// `dst = scale · lhs · rhs` for `lhs` `m×k` and `rhs` `k×n`, into the row-major `m×n` matrix at
/// `dst` whose rows are `dst_row` floats apart. `threads` > 1 lets `gemm` split the work.
///
/// # Safety
/// Every element the three matrices address must lie in memory valid for the call, and `dst`'s
/// elements must not overlap the inputs' or be accessed elsewhere during it.
pub unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_row: usize,
    lhs: Strided,
    rhs: Strided,
    scale: f32,
    threads: usize,
) {
    let parallelism = match threads {
        0 | 1 => Parallelism::None,
        t => Parallelism::Rayon(t),
    };
    // SAFETY: the caller's contract; `read_dst` is false, so `dst` is only written.
    unsafe {
        gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_row as isize,
            false,
            lhs.ptr,
            lhs.col as isize,
            lhs.row as isize,
            rhs.ptr,
            rhs.col as isize,
            rhs.row as isize,
            0.0,
            scale,
            false,
            false,
            false,
            parallelism,
        );
    }
}
