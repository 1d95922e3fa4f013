//! Sessions: each job (an image now, a video or a watched file) lives in a folder of the
//! workspace (`docs/CONTRACT.md`), is run by a scheduler on worker threads, checkpoints its full
//! optimiser state, and resumes exactly after a crash. No terminal code here.

pub mod checkpoint;
pub mod checks;
pub mod client;
pub mod distributed;
pub mod engines;
pub mod eta;
pub mod event;
pub mod frames;
pub mod lock;
pub mod logfile;
pub mod losses;
pub mod memory;
pub mod network;
pub mod owner;
pub mod protocol;
pub mod record;
pub mod run;
pub mod scheduler;
pub mod server;
pub mod stop;
pub mod watch_service;
pub mod watches;
pub mod workspace;

pub use event::{Event, FrameProgress, LogLevel};
pub use losses::LossRow;
pub use protocol::{Control, Request, Response};
pub use record::{Job, Kind, ProgressSummary, SessionRecord, SessionSpec, Status};
pub use scheduler::Scheduler;
pub use workspace::Workspace;
