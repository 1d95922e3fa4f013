//! The workspace's Unix socket (`serve.sock`): JSON lines, one [`Request`] per line answered by
//! one [`Response`] line; after `subscribe` the connection streams [`Event`] lines. Each
//! connection has its own thread, so a slow client never holds up the scheduler.
//!
//! Bounds, so no client can take the server down: a request line is at most [`MAX_LINE`] bytes
//! (a longer one gets an error reply and the connection is closed), at most [`MAX_CONNECTIONS`]
//! are open at once (when full, the oldest connection that has sent nothing yet makes room; when
//! none is idle, the new one is refused with one line), a connection that sends no request for
//! [`IDLE_TIMEOUT`] is closed, and running out of file descriptors (EMFILE) makes the accept loop
//! free an idle connection and wait, never spin or exit.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::net::Shutdown;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::protocol::{Control, Request, Response};
use crate::error::{Error, Result};

/// The longest request line accepted (a submitted spec is a few KiB).
pub const MAX_LINE: usize = 1 << 20;
/// Connections open at once (event streams included: each follower and dashboard holds one).
pub const MAX_CONNECTIONS: usize = 64;
/// How long a connection may wait between requests before it is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// A client that stops reading its replies or events is dropped after this long.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// After a failed accept (EMFILE and the like), wait this long: the pending connection stays
/// queued, so trying again at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

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
                let slots = Arc::new(Slots::default());
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let stream = match stream {
                        Ok(s) => s,
                        Err(_) => {
                            // Out of descriptors (or memory): make room if a connection idles.
                            slots.evict_idle();
                            std::thread::sleep(ACCEPT_BACKOFF);
                            continue;
                        }
                    };
                    let slot = match slots.claim(&stream) {
                        Ok(slot) => slot,
                        Err(message) => {
                            refuse(&stream, message);
                            continue;
                        }
                    };
                    let control = control.clone();
                    let _ = std::thread::Builder::new()
                        .name("brushwork-client".into())
                        .spawn(move || serve_connection(control, stream, slot));
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the socket thread: {e}")))?;
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
    // A string and a number always encode; the fallback only keeps the line from being empty.
    serde_json::to_string(&Response::Error { message, exit_code }).unwrap_or_else(|_| {
        r#"{"reply":"error","message":"internal: cannot encode the error","exit_code":1}"#.to_string()
    })
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

/// The open connections, oldest first, each with a handle to close it and whether it is idle
/// (waiting for a request, so closing it loses nothing).
#[derive(Default)]
struct Slots {
    open: Mutex<Open>,
}

/// The last id given, and each open connection by id: a handle to close it, and whether it idles.
type Open = (u64, BTreeMap<u64, (UnixStream, bool)>);

/// One connection's place in [`Slots`]; dropping it frees the place.
struct Slot {
    slots: Arc<Slots>,
    id: u64,
}

impl Slots {
    fn lock(&self) -> std::sync::MutexGuard<'_, Open> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for `stream`, making room by closing the oldest idle connection when full.
    /// `Err` is the line that refuses it.
    fn claim(self: &Arc<Self>, stream: &UnixStream) -> std::result::Result<Slot, String> {
        let handle = match stream.try_clone() {
            Ok(h) => h,
            Err(_) => {
                // Out of descriptors: close an idle connection for the next one.
                self.evict_idle();
                return Err("refused: the server is out of file descriptors; try again".into());
            }
        };
        let mut open = self.lock();
        if open.1.len() >= MAX_CONNECTIONS && !evict_oldest_idle(&mut open.1) {
            return Err(format!("refused: {MAX_CONNECTIONS} connections are open, the most this server takes"));
        }
        open.0 += 1;
        let id = open.0;
        open.1.insert(id, (handle, true));
        Ok(Slot { slots: self.clone(), id })
    }

    fn evict_idle(&self) {
        evict_oldest_idle(&mut self.lock().1);
    }
}

fn evict_oldest_idle(open: &mut BTreeMap<u64, (UnixStream, bool)>) -> bool {
    let Some(id) = open.iter().find(|(_, (_, idle))| *idle).map(|(id, _)| *id) else { return false };
    if let Some((stream, _)) = open.remove(&id) {
        // Its thread sees the end of its input and finishes.
        let _ = stream.shutdown(Shutdown::Both);
    }
    true
}

impl Slot {
    fn set_idle(&self, idle: bool) {
        if let Some(entry) = self.slots.lock().1.get_mut(&self.id) {
            entry.1 = idle;
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().1.remove(&self.id);
    }
}

/// One error line, then close: for a connection that is not served.
fn refuse(stream: &UnixStream, message: String) {
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let mut out = stream;
    let _ = writeln!(out, "{}", error_line(message, 2));
}

/// What reading one request line gave.
enum Line {
    Text(String),
    TooLong,
    End,
}

/// Reads up to the next newline, never holding more than [`MAX_LINE`] bytes.
fn read_line(reader: &mut impl BufRead) -> std::io::Result<Line> {
    let mut buf = Vec::new();
    loop {
        let available = reader.fill_buf()?;
        if available.is_empty() {
            return Ok(if buf.is_empty() { Line::End } else { Line::Text(String::from_utf8_lossy(&buf).into_owned()) });
        }
        let (take, newline) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i, true),
            None => (available.len(), false),
        };
        if buf.len() + take > MAX_LINE {
            return Ok(Line::TooLong);
        }
        buf.extend_from_slice(&available[..take]);
        reader.consume(take + usize::from(newline));
        if newline {
            return Ok(Line::Text(String::from_utf8_lossy(&buf).into_owned()));
        }
    }
}

fn serve_connection(control: Arc<dyn Control>, stream: UnixStream, slot: Slot) {
    let mut out = std::io::BufWriter::new(&stream);
    if let Err(message) = check_peer(&stream) {
        let _ = writeln!(out, "{}", error_line(message, 2)).and_then(|_| out.flush());
        return;
    }
    if stream.set_read_timeout(Some(IDLE_TIMEOUT)).and_then(|_| stream.set_write_timeout(Some(WRITE_TIMEOUT))).is_err()
    {
        return;
    }
    let mut reader = BufReader::new(&stream);
    loop {
        let line = match read_line(&mut reader) {
            Ok(Line::Text(line)) => line,
            Ok(Line::TooLong) => {
                let message = format!("refused: a request line longer than {} MiB", MAX_LINE >> 20);
                let _ = writeln!(out, "{}", error_line(message, 2)).and_then(|_| out.flush());
                return;
            }
            // The end, an idle timeout or a broken connection.
            Ok(Line::End) | Err(_) => return,
        };
        if line.trim().is_empty() {
            continue;
        }
        slot.set_idle(false);
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(Request::Subscribe) => {
                stream_events(&*control, &stream, &mut out);
                return;
            }
            Ok(request) => control
                .request(request)
                .unwrap_or_else(|e| Response::Error { message: e.to_string(), exit_code: e.exit_code() }),
            Err(e) => Response::Error { message: format!("bad request: {e}"), exit_code: 2 },
        };
        // A reply that cannot be encoded is answered with the reason, not a closed connection.
        let text = serde_json::to_string(&response)
            .unwrap_or_else(|e| error_line(format!("internal: cannot encode the reply: {e}"), 1));
        if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
            return;
        }
        slot.set_idle(true);
    }
}

/// Streams events until the client goes away. Between events it checks whether the client
/// closed its end, so a follower that quit frees its connection even when nothing happens.
fn stream_events(control: &dyn Control, stream: &UnixStream, out: &mut impl Write) {
    let Ok(events) = control.subscribe() else { return };
    if writeln!(out, r#"{{"reply":"ok"}}"#).and_then(|_| out.flush()).is_err() {
        return;
    }
    loop {
        match events.recv_timeout(Duration::from_secs(1)) {
            Ok(event) => {
                let Ok(text) = serde_json::to_string(&event) else { continue };
                if writeln!(out, "{text}").and_then(|_| out.flush()).is_err() {
                    return;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if peer_closed(stream) {
                    return;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Whether the other end closed (a read would return end of file), without consuming anything.
fn peer_closed(stream: &UnixStream) -> bool {
    let mut byte = 0u8;
    // SAFETY: one byte of valid, writable memory; MSG_PEEK|MSG_DONTWAIT neither consumes nor blocks.
    let n = unsafe {
        libc::recv(stream.as_raw_fd(), (&mut byte as *mut u8).cast(), 1, libc::MSG_PEEK | libc::MSG_DONTWAIT)
    };
    n == 0
}
