//! The subcommands behind the binary. Each returns the library's error; `main` prints it and exits
//! with its code.

pub mod bench;
pub mod bench_flow;
pub mod bench_profile;
pub mod dashboard;
pub mod eval;
pub mod flow;
pub mod follow;
pub mod foreground;
#[cfg(feature = "ffmpeg")]
pub mod images;
pub mod inputs;
pub mod memory_plan;
pub mod overrides;
pub mod presets;

pub mod report;
pub mod run;
pub mod serve;
pub mod sessions;
#[cfg(feature = "ffmpeg")]
pub mod video;
#[cfg(feature = "ffmpeg")]
pub mod video_segments;
pub mod watch;
pub mod weights;

use crate::cli::{Cli, Command, WorkspaceArg};
use brushwork::error::Result;

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<()> {
    // `--workspace` after the subcommand wins over one before it (or $BRUSHWORK_WORKSPACE).
    let workspace = |after: &WorkspaceArg| {
        after
            .workspace
            .clone()
            .or_else(|| cli.workspace.clone())
            .unwrap_or_else(brushwork::session::Workspace::default_root)
    };
    match &cli.command {
        Some(Command::Run(args)) => run::run(args, &workspace(&args.workspace)),
        Some(Command::Watch(args)) => watch::watch(args, &workspace(&args.workspace)),
        Some(Command::Sessions(s)) => sessions::sessions(&s.command, &workspace(&s.workspace)),
        Some(Command::Serve(args)) => {
            let level = args.log_level.as_deref().unwrap_or(&cli.log_level);
            serve::serve(args, &workspace(&args.workspace), level)
        }
        #[cfg(feature = "ffmpeg")]
        Some(Command::Images(command)) => images::images(command, &workspace(&WorkspaceArg::default())),
        #[cfg(not(feature = "ffmpeg"))]
        Some(Command::Images(_)) => Err(brushwork::error::Error::Usage(
            "`images` shares the distributed-render code of video, and this brushwork was built without FFmpeg \
             (cargo feature `ffmpeg`, on by default)"
                .into(),
        )),
        #[cfg(feature = "ffmpeg")]
        Some(Command::Video(args)) => video::video(args, &workspace(&args.workspace)),
        #[cfg(not(feature = "ffmpeg"))]
        Some(Command::Video(_)) => brushwork::video::init(),
        Some(Command::Completions { shell }) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(*shell, &mut cmd, "brushwork", &mut script);
            report::out_bytes(&script);
            Ok(())
        }
        Some(Command::Man) => man(),
        Some(Command::Presets(cmd)) => presets::presets(cmd),
        Some(Command::Weights(cmd)) => weights::weights(cmd),
        Some(Command::Eval(args)) => eval::eval(args),
        Some(Command::Flow(args)) => flow::flow(args),
        Some(Command::Bench(args)) => bench::bench(args),
        None => dashboard::dashboard(&workspace(&WorkspaceArg::default()), cli.graphics.into(), &cli.log_level),
    }
}

/// `brushwork man`: the manual page, with a section per subcommand, on stdout.
fn man() -> Result<()> {
    use std::io::Write;
    let cmd = <Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    let io = |e: std::io::Error| brushwork::error::Error::Internal(format!("cannot write the manual page: {e}"));
    clap_mangen::Man::new(cmd.clone()).render(&mut out).map_err(io)?;
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("brushwork {}", sub.get_name());
        let sub = sub.clone().bin_name(name.clone());
        writeln!(out, ".SH \"{}\"", name.to_uppercase()).map_err(io)?;
        let mut page = Vec::new();
        let man = clap_mangen::Man::new(sub);
        man.render_synopsis_section(&mut page).map_err(io)?;
        man.render_description_section(&mut page).map_err(io)?;
        man.render_options_section(&mut page).map_err(io)?;
        man.render_subcommands_section(&mut page).map_err(io)?;
        // One page: the subcommands' sections follow the main page's, under their own headings.
        let text = String::from_utf8_lossy(&page).replace(".SH ", ".SS ");
        out.extend_from_slice(text.as_bytes());
    }
    report::out_bytes(&out);
    Ok(())
}
