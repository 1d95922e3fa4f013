//! The `brushwork` binary: parse the command line, run it, report errors as one line.

use clap::Parser;

fn main() {
    let cli = brushwork::cli::Cli::parse();
    if let Err(e) = brushwork::commands::dispatch(cli) {
        eprintln!("brushwork: {e}");
        std::process::exit(e.exit_code());
    }
}
