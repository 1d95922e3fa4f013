//! Who drives the workspace: this process (it takes the lock, runs the scheduler and listens on
//! the socket) or another one (`serve`, or a TUI) reached through the socket. One writer per
//! workspace, however many terminals are attached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::Client;
use super::lock::FileLock;
use super::protocol::Control;
use super::scheduler::Scheduler;
use super::server::Server;
use super::workspace::Workspace;
use crate::error::{Error, Result};

pub enum Owner {
    /// Another process owns the workspace.
    Remote(Arc<Client>),
    /// This process owns it. Fields drop in order: stop listening, stop the workers, unlock.
    Local { server: Server, scheduler: Arc<Scheduler>, lock: FileLock },
}

impl Owner {
    /// Attaches to the workspace's owner, or becomes it with `workers` worker threads.
    pub fn attach(ws: &Workspace, workers: usize) -> Result<Owner> {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Some(client) = Client::connect(&ws.socket_path()) {
                return Ok(Owner::Remote(Arc::new(client)));
            }
            if let Some(lock) = FileLock::try_acquire(&ws.lock_path())? {
                let scheduler = Arc::new(Scheduler::start(ws.clone(), workers)?);
                let server = Server::start(scheduler.clone(), ws.socket_path())?;
                return Ok(Owner::Local { server, scheduler, lock });
            }
            // The owner may be starting up and not listening yet.
            if Instant::now() > deadline {
                let pid = FileLock::holder(&ws.lock_path()).map(|p| format!(" by pid {p}")).unwrap_or_default();
                return Err(Error::Conflict(format!(
                    "{}: the workspace is in use{pid}, which does not answer on {}",
                    ws.root().display(),
                    ws.socket_path().display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Only a running owner; `None` when nobody owns the workspace.
    pub fn remote(ws: &Workspace) -> Option<Arc<Client>> {
        Client::connect(&ws.socket_path()).map(Arc::new)
    }

    pub fn control(&self) -> Arc<dyn Control> {
        match self {
            Owner::Remote(c) => c.clone(),
            Owner::Local { scheduler, .. } => scheduler.clone(),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Owner::Local { .. })
    }

    /// Checkpoints and stops local work (a no-op for a remote owner).
    pub fn shutdown(&self) {
        if let Owner::Local { scheduler, .. } = self {
            scheduler.shutdown();
        }
    }
}
