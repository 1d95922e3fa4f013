//! Sessions: each job (an image now, a video or a watched file) lives in a folder of the
//! workspace (`CONTRACT.md`), is run by a scheduler on worker threads, checkpoints its full
//! optimiser state, and resumes exactly after a crash. No terminal code here.

pub mod event;
pub mod protocol;
pub mod record;

pub use event::{Event, LogLevel};
pub use protocol::{Control, Request, Response};
pub use record::{Kind, ProgressSummary, SessionRecord, SessionSpec, Status};
