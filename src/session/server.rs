//! The workspace's Unix socket (`serve.sock`): JSON lines, one [`Request`] per line answered by
//! one [`Response`] line; after `subscribe` the connection streams [`Event`] lines. Each
//! connection has its own thread, so a slow client never holds up the scheduler.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
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
    /// the workspace lock, so no live server uses it). The socket is owner-only (0600) whatever
    /// the umask, and every connection from another user is refused.
    pub fn start(control: Arc<dyn Control>, path: PathBuf) -> Result<Server> {
        let listener = bind_owner_only(&path)?;
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

/// Binds `path` so that no other user can ever connect: the socket is made inside a fresh 0700
/// folder (the umask is process-wide, so changing it would race with other threads' files),
/// chmod-ed to 0600 and checked, then renamed into place. A socket keeps working when renamed.
fn bind_owner_only(path: &Path) -> Result<UnixListener> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let private = parent.join(format!(".serve-sock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new().mode(0o700).create(&private).map_err(|e| Error::io(&private, e))?;
    let result = (|| {
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io(&private, e))?;
        let inner = private.join("serve.sock");
        let listener = UnixListener::bind(&inner).map_err(|e| Error::io(path, e))?;
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600)).map_err(|e| Error::io(path, e))?;
        let mode = std::fs::symlink_metadata(&inner).map_err(|e| Error::io(path, e))?.mode() & 0o777;
        if mode != 0o600 {
            return Err(Error::io(path, std::io::Error::other(format!("the socket's mode is {mode:o}, not 600"))));
        }
        let _ = std::fs::remove_file(path);
        std::fs::rename(&inner, path).map_err(|e| Error::io(path, e))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

/// The user id of the process at the other end of `stream` (SO_PEERCRED: the credentials it
/// had when it connected; the kernel fills them in, the peer cannot forge them).
fn peer_uid(stream: &UnixStream) -> std::io::Result<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given, and the fd is open for
    // the duration of the call (borrowed from `stream`).
    let rc = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(cred.uid)
}

/// `Err(reply line)` when the peer is not this server's user (or cannot be identified).
fn check_peer(stream: &UnixStream) -> std::result::Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    match peer_uid(stream) {
        Ok(uid) if uid == me => Ok(()),
        Ok(uid) => {
            Err(format!("refused: this brushwork serve belongs to uid {me}; the connection came from uid {uid}"))
        }
        Err(e) => Err(format!("refused: cannot identify the connecting user: {e}")),
    }
}

fn error_line(message: String, exit_code: i32) -> String {
    serde_json::to_string(&Response::Error { message, exit_code }).unwrap_or_default()
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
    if let Err(message) = check_peer(&stream) {
        let _ = writeln!(out, "{}", error_line(message, 2)).and_then(|_| out.flush());
        return;
    }
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
