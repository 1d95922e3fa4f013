//! The dashboard's worker threads, one per [`Lane`]: they carry out [`Job`]s (requests to the
//! scheduler, files read and written) so that the UI thread, which owns the terminal, never waits
//! on the scheduler or the disk. Each outcome goes back through `reply`, as a message to the
//! terminal loop (as gitui's asyncgit and yazi's workers do).

use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;

use super::effects::{Job, Lane, Outcome};
use crate::session::Control;

/// The senders to the worker threads. Dropping it ends them once their jobs are done.
pub struct Workers {
    requests: Sender<Job>,
    removals: Sender<Job>,
    files: Sender<Job>,
}

impl Workers {
    /// Starts one thread per lane. `reply` gets each outcome; when it returns false (the UI is
    /// gone), the thread ends.
    pub fn spawn(
        control: Arc<dyn Control>,
        reply: impl Fn(Outcome) -> bool + Clone + Send + 'static,
    ) -> std::io::Result<Workers> {
        let lane = |name: &str| -> std::io::Result<Sender<Job>> {
            let (tx, rx) = channel::<Job>();
            let (control, reply) = (control.clone(), reply.clone());
            std::thread::Builder::new().name(format!("tui-{name}")).spawn(move || {
                for job in rx {
                    if !reply(job.run(&*control)) {
                        return;
                    }
                }
            })?;
            Ok(tx)
        };
        Ok(Workers { requests: lane("requests")?, removals: lane("removals")?, files: lane("files")? })
    }

    /// Hands `job` to its lane's thread; gives it back when that thread is gone.
    pub fn send(&self, job: Job) -> Result<(), Job> {
        let tx = match job.lane() {
            Lane::Requests => &self.requests,
            Lane::Removals => &self.removals,
            Lane::Files => &self.files,
        };
        tx.send(job).map_err(|e| e.0)
    }
}
