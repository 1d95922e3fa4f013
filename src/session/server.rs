//! The workspace's Unix socket (`serve.sock`): JSON lines, one [`Request`] per line answered by
//! one [`Response`] line; after `subscribe` the connection streams [`Event`] lines. Each
//! connection has its own thread, so a slow client never holds up the scheduler.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::protocol::{Control, Request, Response};
use crate::error::{Error, Result};

pub struct Server {
    path: PathBuf,
    stopping: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl Server {
    /// Listens on `path` (a stale socket file left by a dead owner is replaced; the caller holds
    /// the workspace lock, so no live server uses it).
    pub fn start(control: Arc<dyn Control>, path: PathBuf) -> Result<Server> {
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).map_err(|e| Error::io(&path, e))?;
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let accept = std::thread::Builder::new()
            .name("brushwork-socket".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let control = control.clone();
                    let _ = std::thread::Builder::new()
                        .name("brushwork-client".into())
                        .spawn(move || serve_connection(control, stream));
                }
            })
            .map_err(|e| Error::Usage(format!("cannot start the socket thread: {e}")))?;
        Ok(Server { path, stopping, accept: Some(accept) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve_connection(control: Arc<dyn Control>, stream: UnixStream) {
    let Ok(write_half) = stream.try_clone() else { return };
    let mut out = std::io::BufWriter::new(write_half);
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Subscribe) => {
                stream_events(&*control, &mut out);
                return;
            }
            Ok(request) => control
                .request(request)
                .unwrap_or_else(|e| Response::Error { message: e.to_string(), exit_code: e.exit_code() }),
            Err(e) => Response::Error { message: format!("bad request: {e}"), exit_code: 2 },
        };
        let Ok(text) = serde_json::to_string(&response) else { return };
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}

fn stream_events(control: &dyn Control, out: &mut impl Write) {
    let Ok(events) = control.subscribe() else { return };
    if writeln!(out, r#"{{"reply":"ok"}}"#).and_then(|_| out.flush()).is_err() {
        return;
    }
    for event in events {
        let Ok(text) = serde_json::to_string(&event) else { continue };
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}
