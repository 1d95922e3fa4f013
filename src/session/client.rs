//! A client of a running `brushwork serve` (or a TUI that owns the workspace): the same
//! [`Control`] as the scheduler, over the workspace's Unix socket.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};

use super::event::Event;
use super::protocol::{Control, Request, Response};
use crate::error::{Error, Result};

/// How long a request waits for its reply (removing a running session waits for it to stop).
const REPLY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(90);

pub struct Client {
    path: PathBuf,
}

impl Client {
    /// Connects when a server answers on `socket`; `None` when none does.
    pub fn connect(socket: &Path) -> Option<Client> {
        UnixStream::connect(socket).ok()?;
        Some(Client { path: socket.to_path_buf() })
    }

    /// Sends `request` and returns the connection and its first reply line.
    fn open(&self, request: &Request) -> Result<(UnixStream, BufReader<UnixStream>, String)> {
        let io = |e| Error::io(&self.path, e);
        let mut stream = UnixStream::connect(&self.path).map_err(io)?;
        // A hung server must not leave the dashboard's actions pending forever (its workers ask).
        stream.set_read_timeout(Some(REPLY_TIMEOUT)).map_err(io)?;
        let text =
            serde_json::to_string(request).map_err(|e| Error::Internal(format!("cannot encode the request: {e}")))?;
        // A server that refuses the connection (another user's, too many open) answers with one
        // line and closes, maybe before this write: its line is still there to read.
        let sent = writeln!(stream, "{text}");
        let mut reader = BufReader::new(stream.try_clone().map_err(io)?);
        let mut line = String::new();
        let read = reader.read_line(&mut line);
        if line.is_empty() {
            sent.map_err(io)?;
            read.map_err(io)?;
            // The server failed, not the request: work that failed elsewhere (1), not bad input (2).
            return Err(Error::Remote(format!("{}: the server closed the connection", self.path.display())));
        }
        Ok((stream, reader, line))
    }
}

impl Control for Client {
    fn request(&self, request: Request) -> Result<Response> {
        let (_stream, _, line) = self.open(&request)?;
        match serde_json::from_str::<Response>(&line) {
            Ok(Response::Error { message, exit_code }) => Err(remote_error(message, exit_code)),
            Ok(r) => Ok(r),
            Err(e) => Err(Error::Remote(format!("{}: bad reply from the server: {e}", self.path.display()))),
        }
    }

    fn subscribe(&self) -> Result<Receiver<Event>> {
        let (stream, reader, ack) = self.open(&Request::Subscribe)?;
        if let Ok(Response::Error { message, exit_code }) = serde_json::from_str::<Response>(&ack) {
            return Err(remote_error(message, exit_code));
        }
        // Events may be far apart: only the acknowledgement had to come promptly.
        stream.set_read_timeout(None).map_err(|e| Error::io(&self.path, e))?;
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("brushwork-events".into())
            .spawn(move || {
                let _keep = stream;
                for line in reader.lines() {
                    let Ok(line) = line else { return };
                    if let Ok(event) = serde_json::from_str::<Event>(&line) {
                        if tx.send(event).is_err() {
                            return;
                        }
                    }
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the event thread: {e}")))?;
        Ok(rx)
    }
}

/// A server-side error, with the exit code the server gave it.
fn remote_error(message: String, exit_code: i32) -> Error {
    if exit_code == 2 {
        Error::RemoteRefused(message)
    } else {
        Error::Remote(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixListener;

    /// A server that hangs up without a reply, or answers with something that is not a reply:
    /// the server failed (exit 1), the request was not bad input (2). Each listener serves the
    /// probe `connect` makes and then the request.
    #[test]
    fn a_failing_server_is_a_remote_failure_not_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        for (name, answer) in [("hangs-up", ""), ("garbage", "{\"not\": \"a reply\"}\n")] {
            let path = dir.path().join(format!("{name}.sock"));
            let listener = UnixListener::bind(&path).unwrap();
            let server = std::thread::spawn(move || {
                for stream in listener.incoming().take(2) {
                    // Read the request first (the probe sends none), so the close is not a reset.
                    let mut stream = stream.unwrap();
                    let _ = BufReader::new(&stream).read_line(&mut String::new());
                    let _ = stream.write_all(answer.as_bytes());
                }
            });
            let client = Client::connect(&path).expect("the listener accepts");
            let e = client.request(Request::List).unwrap_err();
            assert!(matches!(e, Error::Remote(_)), "{name}: {e:?}");
            assert_eq!(e.exit_code(), 1, "{name}: {e}");
            assert!(e.to_string().starts_with(&path.display().to_string()), "{name}: {e}");
            server.join().unwrap();
        }
    }
}
