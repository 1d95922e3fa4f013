//! A loopback HTTP/1.1 server for fetch tests: serves byte blobs by path with Range support, one
//! request per connection, and stops by itself (when dropped, or after 60 s at the latest).

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The next body longer than 10 000 bytes (data, not the header) stops halfway (connection closed); then Normal.
    CutOnce,
    /// Range is ignored: always 200 with the whole file.
    NoRange,
    /// Bytes at or past this absolute offset are served as 0xFF.
    CorruptFrom(u64),
}

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    /// `(start, end inclusive)` of a `Range: bytes=a-b` header.
    pub range: Option<(u64, Option<u64>)>,
    pub authorization: Option<String>,
}

struct Shared {
    files: Mutex<HashMap<String, (String, Vec<u8>)>>,
    redirects: Mutex<HashMap<String, String>>,
    mode: Mutex<Mode>,
    requests: Mutex<Vec<Request>>,
}

pub struct Server {
    pub port: u16,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            files: Mutex::new(HashMap::new()),
            redirects: Mutex::new(HashMap::new()),
            mode: Mutex::new(Mode::Normal),
            requests: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (s, st) = (shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !st.load(Ordering::SeqCst) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = handle(stream, &s);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(2)),
                }
            }
        });
        Server { port, shared, stop, thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn add(&self, path: &str, content_type: &str, bytes: Vec<u8>) {
        self.shared.files.lock().unwrap().insert(path.to_string(), (content_type.to_string(), bytes));
    }

    /// Answers `from` with a 302 to `to` (like Hugging Face sending LFS files to its CDN).
    pub fn redirect(&self, from: &str, to: &str) {
        self.shared.redirects.lock().unwrap().insert(from.to_string(), to.to_string());
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = mode;
    }

    pub fn requests(&self) -> Vec<Request> {
        self.shared.requests.lock().unwrap().clone()
    }

    pub fn clear_requests(&self) {
        self.shared.requests.lock().unwrap().clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn handle(stream: TcpStream, s: &Shared) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut range = None;
    let mut authorization = None;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        let v = v.trim();
        if k.eq_ignore_ascii_case("range") {
            range = v.strip_prefix("bytes=").and_then(|r| {
                let (a, b) = r.split_once('-')?;
                Some((a.parse().ok()?, b.parse().ok()))
            });
        } else if k.eq_ignore_ascii_case("authorization") {
            authorization = Some(v.to_string());
        }
    }
    s.requests.lock().unwrap().push(Request { path: path.clone(), range, authorization });
    let mode = *s.mode.lock().unwrap();
    let file = s.files.lock().unwrap().get(path.split('?').next().unwrap_or("")).cloned();
    let mut out = stream;
    if let Some(to) = s.redirects.lock().unwrap().get(&path) {
        let head = format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        return out.write_all(head.as_bytes());
    }
    let Some((ctype, bytes)) = file else {
        return out.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    };
    let total = bytes.len() as u64;
    let (status, start, end) = match range {
        Some((a, b)) if mode != Mode::NoRange && a < total => (206, a, b.map_or(total, |b| (b + 1).min(total))),
        _ => (200, 0, total),
    };
    let mut body = bytes[start as usize..end as usize].to_vec();
    if let Mode::CorruptFrom(off) = mode {
        for (i, b) in body.iter_mut().enumerate() {
            if start + i as u64 >= off {
                *b = 0xff;
            }
        }
    }
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n",
        if status == 206 { "Partial Content" } else { "OK" },
        body.len()
    );
    if status == 206 {
        head += &format!("Content-Range: bytes {start}-{}/{total}\r\n", end - 1);
    }
    head += "\r\n";
    out.write_all(head.as_bytes())?;
    if mode == Mode::CutOnce && body.len() > 10_000 {
        *s.mode.lock().unwrap() = Mode::Normal;
        out.write_all(&body[..body.len() / 2])?;
        out.flush()?;
        return out.shutdown(std::net::Shutdown::Both);
    }
    out.write_all(&body)?;
    out.flush()
}
