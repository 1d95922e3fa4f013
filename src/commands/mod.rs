//! The subcommands behind the binary. Each returns the library's error; `main` prints it and exits
//! with its code.

pub mod bench;
pub mod bench_flow;
pub mod checks;
pub mod dashboard;
pub mod eval;
pub mod flow;
pub mod follow;
pub mod foreground;
pub mod inputs;
pub mod overrides;
pub mod presets;

pub mod report;
pub mod run;
pub mod serve;
pub mod sessions;
pub mod video;
pub mod watch;
pub mod weights;

use crate::cli::{Cli, Command};
use crate::error::Result;

/// Runs the parsed command line.
pub fn dispatch(cli: Cli) -> Result<()> {
    let workspace = cli.workspace.clone().unwrap_or_else(crate::session::Workspace::default_root);
    match cli.command {
        Some(Command::Run(args)) => run::run(&args, &workspace),
        Some(Command::Watch(args)) => watch::watch(&args, &workspace),
        Some(Command::Sessions(cmd)) => sessions::sessions(&cmd, &workspace),
        Some(Command::Serve(args)) => serve::serve(&args, &workspace, &cli.log_level),
        Some(Command::Video(args)) => video::video(&args, &workspace),
        Some(Command::Presets(cmd)) => presets::presets(&cmd),
        Some(Command::Weights(cmd)) => weights::weights(&cmd),
        Some(Command::Eval(args)) => eval::eval(&args),
        Some(Command::Flow(args)) => flow::flow(&args),
        Some(Command::Bench(args)) => bench::bench(&args),
        None => dashboard::dashboard(&workspace, &cli.graphics, &cli.log_level),
    }
}
