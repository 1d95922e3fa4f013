//! Dense optical flow for video stylisation: DIS flow (Kroeger et al. 2016) with variational refinement,
//! backward warping, the forward-backward reliability mask of Ruder et al. 2016, Middlebury `.flo` files and
//! the colour-wheel visualisation.
//!
//! Self-contained (std, rayon, image, thiserror only). Everything parallel is deterministic: the same input
//! gives bit-identical output whatever the number of threads.
//!
//! CPU only, with no CUDA version: on `--device cuda` the flow still runs here, on the frames as images,
//! and only the warped frames and weights it yields go to the GPU (`TemporalImages` in `engine::stylize`).
//!
//! Video use, for frames t-1 and t:
//! ```text
//! let back = dis(&gray_t, &gray_prev, q); // each pixel of t: where it was in t-1
//! let fwd = dis(&gray_prev, &gray_t, q);  // each pixel of t-1: where it went in t
//! let carried = warp_rgb32f(&prev_out, &back);
//! let weight = reliability(&back, &fwd);
//! ```

mod color;
mod dis;
mod field;
mod flo;
mod mask;
mod pyramid;
mod refine;
mod warp;

#[cfg(test)]
mod tests;

pub use color::to_color;
pub use dis::{dis, dis_with, DisParams, Quality};
pub use field::{mean_epe, mean_epe_interior, mean_epe_where, Flow, Gray};
pub use flo::{read_flo, read_flo_known, write_flo, FlowFileError, MAX_FLO_SIDE};
pub use mask::reliability;
pub use warp::{warp, warp_rgb32f};
