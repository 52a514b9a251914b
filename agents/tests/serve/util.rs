//! Helpers: a real `reticle serve` process on loopback, an HTTP client, a raw HTTP/1.1
//! connection for slow uploads, and the fixture's images.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use reticle_models::dataset::Record;
use reticle_suites::SuiteKind;
use serde_json::{json, Value};

/// A token long enough for the service.
pub const TOKEN: &str = "test-token-0123456789abcdef";

pub use crate::support::fixture;

/// `reticle` with quiet logging.
pub fn reticle() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reticle"));
    cmd.env("RUST_LOG", "warn,ort=error")
        .env_remove("RETICLE_TOKEN");
    cmd
}

/// Two records of the suite the fixture memorised (its first two training records).
pub fn data() -> crate::support::SuiteData {
    crate::support::suite(SuiteKind::Ui, 2, 21)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A valid `/v1/ground` body for `record`.
pub fn ground_body(record: &Record) -> Value {
    json!({
        "image": b64(&std::fs::read(&record.image).unwrap()),
        "instruction": record.instruction,
    })
}

/// A running `reticle serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `reticle serve` on a free loopback port with the fixture package, one worker
    /// with one thread, plus `extra` arguments; `token` goes in `RETICLE_TOKEN`.
    pub fn start(extra: &[&str], token: Option<&str>) -> Server {
        let mut cmd = reticle();
        cmd.args(["serve", "--model", fixture().to_str().unwrap()])
            .args(["--port", "0", "--provider", "cpu", "--threads", "1"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(t) = token {
            cmd.env("RETICLE_TOKEN", t);
        }
        let mut child = cmd.spawn().unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some(base) = line.trim().strip_prefix("listening on ") else {
            let status = child.wait().unwrap();
            std::thread::sleep(Duration::from_millis(100));
            panic!(
                "reticle serve did not start ({status}); stdout {line:?}, stderr:\n{}",
                stderr.lock().unwrap()
            );
        };
        let base = base.to_string();
        let addr = base.strip_prefix("http://").unwrap().to_string();
        Server {
            child,
            base,
            addr,
            stderr,
        }
    }

    pub fn url(&self, path: &str) -> String {
        Self::url_at(&self.base, path)
    }

    pub fn url_at(base: &str, path: &str) -> String {
        format!("{base}{path}")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits up to `limit` (zero: just looks) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return Some(s);
            }
            if t0.elapsed() >= limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GET with an optional bearer token.
    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        get_url(&self.url(path), token)
    }

    /// POST a raw body (JSON content type) with an optional bearer token.
    pub fn post_raw(&self, path: &str, body: &str, token: Option<&str>) -> Reply {
        let mut req = agent()
            .post(self.url(path))
            .header("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        Reply::from(req.send(body).unwrap())
    }

    pub fn post(&self, path: &str, body: &Value, token: Option<&str>) -> Reply {
        self.post_raw(path, &body.to_string(), token)
    }

    /// The value of one Prometheus sample line (0 when absent).
    pub fn metric(&self, series: &str, token: Option<&str>) -> f64 {
        let r = self.get("/metrics", token);
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM to `pid`.
pub fn sigterm(pid: u32) {
    let ok = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -TERM {pid} failed");
}

/// GET `url` with an optional bearer token.
pub fn get_url(url: &str, token: Option<&str>) -> Reply {
    let mut req = agent().get(url);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    Reply::from(req.call().unwrap())
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }

    /// Asserts an error answer: `status`, the JSON error shape and `code`.
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}", self.body);
        let v = self.json();
        assert_eq!(v["error"]["code"], code, "{v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(!msg.is_empty());
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{self:?}"
        );
    }
}

impl From<ureq::http::Response<ureq::Body>> for Reply {
    fn from(mut r: ureq::http::Response<ureq::Body>) -> Self {
        let status = r.status().as_u16();
        let headers = r
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = r.body_mut().read_to_string().unwrap();
        Reply {
            status,
            headers,
            body,
        }
    }
}

/// A raw HTTP/1.1 request whose body is sent in parts, to hold a request in flight
/// deterministically (the service admits a request before reading its body).
pub struct Raw {
    stream: TcpStream,
}

impl Raw {
    /// Sends the head of `POST path` announcing `content_length` body bytes.
    pub fn post(addr: &str, path: &str, content_length: usize, token: Option<&str>) -> Raw {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Content-Length: {content_length}\r\n{auth}Connection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        Raw { stream }
    }

    /// Sends the head of `POST path` with a chunked body (no length announced).
    pub fn post_chunked(addr: &str, path: &str) -> Raw {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
             Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).unwrap();
        Raw { stream }
    }

    /// Sends one chunk of a chunked body.
    pub fn send_chunk(&mut self, bytes: &[u8]) {
        self.send(format!("{:x}\r\n", bytes.len()).as_bytes());
        self.send(bytes);
        self.send(b"\r\n");
    }

    /// Sends part of the body.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
        self.stream.flush().unwrap();
    }

    /// Reads the response (the server closes the connection after it).
    pub fn response(mut self) -> Reply {
        let mut raw = Vec::new();
        self.stream.read_to_end(&mut raw).unwrap();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .unwrap_or_else(|| panic!("no HTTP response: {text:?}"));
        let mut lines = head.lines();
        let status = lines
            .next()
            .unwrap()
            .split(' ')
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Reply {
            status,
            headers,
            body: body.to_string(),
        }
    }
}
