//! Watched-folder detection: which files in a folder are complete images that have not been
//! stylised yet.
//!
//! The layers, each in its own file:
//! - [`filter`]: which paths are candidates at all (image extensions, no hidden or partial files,
//!   nothing under an ignored folder such as the output folder);
//! - [`settle`]: when a candidate is complete (no writer has it open, size and mtime stable for the
//!   settle time, and it decodes), and de-duplication so each content is reported once per path;
//! - [`folder`]: the notify watcher (native, or polling for network mounts) and its lifetime;
//! - `worker`: the thread that scans at start and feeds events into the settler;
//! - [`ledger`]: the persistent record of what was done, so a restart never redoes a file.
//!
//! Sessions, scheduling and the CLI live elsewhere; this module only says "this file is ready".

pub mod event;
pub mod filter;
pub mod folder;
pub mod ledger;
pub mod settle;
mod worker;

pub use event::{ReadyFile, WatchEvent};
pub use filter::CandidateFilter;
pub use folder::{FolderWatcher, WatchOptions};
pub use ledger::{Ledger, LedgerEntry};
