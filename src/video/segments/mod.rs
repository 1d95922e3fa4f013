//! Long clips on many machines: a plan splits a clip into segments of consecutive frames, any
//! machine with the binary, the weights and the shared folder renders any segment, and the frames
//! are stitched into one video. brushwork manages no cluster: the scripts it writes hand the
//! segments to the scheduler the user runs (SLURM array jobs, Kubernetes Indexed Jobs, or
//! `xargs -P` on one box).
//!
//! The plan folder (`--workdir DIR`):
//!
//! | path | what |
//! |---|---|
//! | `plan.toml` | [`Plan`]: the source and its hash, the resolved preset, weights id, frame timestamps, segments |
//! | `frames/000001.png` ... | the kept frames, each written to a temporary name and renamed |
//! | `warmup/0003/000118.png` ... | segment 3's preroll frames (a warm-up before its first kept frame) |
//! | `locks/0003.lock` | held while a process renders segment 3 |
//! | `logs/` | the schedulers' log files |
//! | `slurm/`, `kubernetes/`, `shell/` | the scripts `--emit` wrote |

pub mod emit;
pub mod lock;
pub mod plan;
#[cfg(feature = "ffmpeg")]
pub mod render;
pub mod status;
#[cfg(feature = "ffmpeg")]
pub mod stitch;

pub use plan::{Plan, Segment};
