//! Plain HTTP GETs with timeouts, an optional bearer token and an optional byte range.

use std::io::Read;
use std::time::Duration;

use crate::weights::WeightsError;

/// A response: status (200 or 206), the body, and where the body starts in the file.
pub(super) struct Body {
    pub partial: bool,
    pub start: u64,
    pub reader: Box<dyn Read + Send + Sync>,
}

pub(super) struct Client {
    agent: ureq::Agent,
    token: Option<String>,
}

impl Client {
    pub fn new(connect: Duration, read: Duration, token: Option<String>) -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(connect)
            .timeout_read(read)
            .redirects(10)
            .user_agent(concat!("brushwork/", env!("CARGO_PKG_VERSION")))
            .build();
        Client { agent, token }
    }

    /// GET `url`, asking for bytes `start..end` (end exclusive). A server that ignores Range
    /// answers 200 with the whole file: `partial` is false and `start` is 0.
    pub fn get_range(&self, url: &str, start: u64, end: u64) -> Result<Body, WeightsError> {
        let mut req = self.agent.get(url).set("Range", &format!("bytes={start}-{}", end.saturating_sub(1)));
        if let Some(token) = &self.token {
            req = req.set("Authorization", &format!("Bearer {token}"));
        }
        let err = |msg: String| WeightsError::Download { url: url.to_string(), msg };
        let resp = match req.call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, r)) => {
                let hint = match code {
                    401 | 403 => " (set HF_TOKEN if the repository needs a login)",
                    404 => " (not found)",
                    _ => "",
                };
                return Err(err(format!("HTTP {code} {}{hint}", r.status_text())));
            }
            Err(ureq::Error::Transport(t)) => {
                // ureq's text starts with the URL, which the error already names.
                let text = t.to_string();
                let text = text.strip_prefix(&format!("{url}: ")).unwrap_or(&text).to_string();
                return Err(err(text));
            }
        };
        match resp.status() {
            206 => {
                let got = resp.header("Content-Range").and_then(parse_content_range_start);
                if got != Some(start) {
                    return Err(err(format!(
                        "asked for bytes from {start}, the server sent Content-Range {:?}",
                        resp.header("Content-Range").unwrap_or("(none)")
                    )));
                }
                Ok(Body { partial: true, start, reader: resp.into_reader() })
            }
            200 => Ok(Body { partial: false, start: 0, reader: resp.into_reader() }),
            code => Err(err(format!("unexpected HTTP {code}"))),
        }
    }
}

/// `bytes 100-199/1000` → 100.
fn parse_content_range_start(v: &str) -> Option<u64> {
    v.trim().strip_prefix("bytes")?.trim().split('-').next()?.trim().parse().ok()
}

/// Reads exactly `buf.len()` bytes or says the connection closed early.
pub(super) fn read_full(r: &mut dyn Read, buf: &mut [u8], url: &str) -> Result<(), WeightsError> {
    r.read_exact(buf)
        .map_err(|e| WeightsError::Download { url: url.to_string(), msg: format!("reading the body: {e}") })
}
