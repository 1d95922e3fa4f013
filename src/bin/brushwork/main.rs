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
    keep_freed_memory();
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

/// Each iteration allocates and frees buffers of the same sizes (activations, gradients: 16 MiB
/// each at 256 px). glibc maps the large ones freshly and hands the heap's free top back to the
/// system, so every iteration page-faulted its buffers in again: 13,000 minor faults per
/// iteration at 256 px (`bench --profile`), none with these settings. Freed memory now stays with
/// the process, up to its peak, for the next iteration or job.
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called first thing, before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}
