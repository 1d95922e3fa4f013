//! The `brushwork` binary: parse the command line, run it, report errors as one line.

use std::io::Write;

use clap::Parser;

/// `println!` for what a command prints as its result (listings, tables, reports); see
/// [`commands::report::out_fmt`].
macro_rules! outln {
    () => {
        $crate::commands::report::out_fmt(format_args!(""))
    };
    ($($arg:tt)*) => {
        $crate::commands::report::out_fmt(format_args!($($arg)*))
    };
}

/// `eprintln!` that never panics; see [`commands::report::err_fmt`].
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::commands::report::err_fmt(format_args!($($arg)*))
    };
}

mod cli;
mod commands;

fn main() {
    let cli = crate::cli::Cli::parse();
    if let Err(e) = crate::commands::dispatch(cli) {
        // Not eprintln!: it panics when stderr is gone (a dropped SSH session). Escaped: the
        // message may name a file whose name holds control characters.
        let here = std::env::current_dir().ok();
        let message = crate::commands::report::relative_to(here.as_deref(), &e.to_string());
        let _ = writeln!(std::io::stderr(), "brushwork: {}", brushwork::util::text::escape_controls(&message));
        std::process::exit(e.exit_code());
    }
}
