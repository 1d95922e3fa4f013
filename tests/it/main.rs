//! The integration tests, as one binary: each module was a file of its own; linked once, candle
//! and FFmpeg are linked once instead of once per file (see the README's test figures). The
//! `*_support` modules are shared helpers.

mod cli_support;
mod net_support;
#[cfg(feature = "ffmpeg")]
mod video_support;
mod watch_support;
mod weights_support;

mod bench_eval_cli;
mod cli_extras;
mod engine_gradient;
// The GPU tests (skipped with a message where no GPU can be opened).
#[cfg(feature = "cuda")]
mod gpu;
mod hardening;
mod image_input;
mod images_plan;
mod layers;
mod manage_cli;
mod real_weights;
mod run_cli;
mod sessions_cli;
// Needs FFmpeg (the clips it renders).
#[cfg(feature = "ffmpeg")]
mod slurm;
mod tiled_gradient;
mod tiled_run_cli;
mod tui_tmux;
#[cfg(feature = "ffmpeg")]
mod video_cli;
// Needs FFmpeg (the clips it renders).
#[cfg(feature = "ffmpeg")]
mod video_segments;
mod watch_cli;
mod watch_folder;
mod watch_ledger;
mod weights_fetch;
mod weights_format;
mod weights_import;
