//! Connections are bounded: a header-read timeout closes idle and slow-header connections,
//! at most `--max-connections` are open, load shedding is logged at most once per interval
//! at WARN, and an oversized upload reads its 413. Every test uses a bounded number of
//! loopback sockets and ends by itself (read timeouts on every socket).

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{data, ground_body, Raw, Server};

/// Sockets the process `pid` holds open (Linux `/proc/PID/fd`).
fn open_sockets(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Whether the server closed `s` (EOF or reset) within its read timeout; data before the
/// close (a 503, say) is read and returned.
fn closed_by_server(s: &mut TcpStream) -> (bool, String) {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (true, String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return (false, String::from_utf8_lossy(&got).into_owned())
            }
            Err(_) => return (true, String::from_utf8_lossy(&got).into_owned()),
        }
    }
}

#[test]
fn idle_and_slow_header_connections_are_closed_after_the_header_timeout() {
    let server = Server::start(&["--header-timeout-ms", "500"], None);
    let t0 = Instant::now();
    let mut conns: Vec<TcpStream> = (0..6).map(|_| connect(&server.addr)).collect();
    // Half send nothing, half the start of a request head and then nothing.
    for s in conns.iter_mut().skip(3) {
        s.write_all(b"POST /v1/ground HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
    }
    for s in &mut conns {
        let (closed, _) = closed_by_server(s);
        assert!(closed, "a connection stayed open {:?}", t0.elapsed());
    }
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // The server goes on.
    assert_eq!(server.get("/healthz", None).status, 200);
}

#[test]
fn open_connections_are_capped_and_the_extra_ones_get_503() {
    let server = Server::start(
        &["--max-connections", "4", "--header-timeout-ms", "60000"],
        None,
    );
    let before = open_sockets(server.pid());
    let mut idle: Vec<TcpStream> = (0..4).map(|_| connect(&server.addr)).collect();
    // Let the server accept them before the extra ones arrive.
    std::thread::sleep(Duration::from_millis(200));
    let mut extra: Vec<TcpStream> = (0..16).map(|_| connect(&server.addr)).collect();
    for s in &mut extra {
        let (closed, text) = closed_by_server(s);
        assert!(closed, "an extra connection stayed open");
        assert!(text.starts_with("HTTP/1.1 503 "), "{text:?}");
        assert!(text.contains("retry-after: 1"), "{text:?}");
    }
    // A refused socket is closed right after its 503 is written; give the last one a moment.
    let t0 = Instant::now();
    let mut held = open_sockets(server.pid()) - before;
    while held > 4 && t0.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(20));
        held = open_sockets(server.pid()) - before;
    }
    eprintln!("20 client connections, the server holds {held} sockets");
    assert!(
        held <= 4,
        "the server holds {held} sockets for 4 allowed connections"
    );
    // Once the idle ones go, there is room again, and /metrics counts the refusals.
    for s in &mut idle {
        s.shutdown(std::net::Shutdown::Both).unwrap();
    }
    drop(idle);
    let t0 = Instant::now();
    // Until the server has seen the idle ones close, this request is refused too (and
    // counted): under load that can take a moment.
    let mut own_refusals = 0.0;
    loop {
        let r =
            std::panic::catch_unwind(|| server.metric("reticle_connections_refused_total", None));
        if let Ok(n) = r {
            assert_eq!(n, 16.0 + own_refusals);
            break;
        }
        own_refusals += 1.0;
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no room after closing"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn load_shedding_is_logged_at_warn_at_most_once_per_interval() {
    let data = data();
    let server = Server::start(&["--workers", "1", "--queue", "0"], None);
    let body = ground_body(&data.records[0]).to_string();
    // One request admitted and held in flight by a slow upload: every other one is shed.
    let mut slow = Raw::post(&server.addr, "/v1/ground", body.len(), None);
    slow.send(&body.as_bytes()[..100]);
    let t0 = Instant::now();
    while server.metric("reticle_queue_waiting", None) != 1.0 {
        assert!(t0.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(10));
    }
    let shed = 30;
    for _ in 0..shed {
        server
            .post_raw("/v1/ground", &body, None)
            .assert_error(503, "overloaded");
    }
    assert_eq!(
        server.metric("reticle_queue_rejections_total", None),
        f64::from(shed)
    );
    slow.send(&body.as_bytes()[100..]);
    assert_eq!(slow.response().status, 200);
    let log = server.stderr();
    let errors = log.lines().filter(|l| l.contains("ERROR")).count();
    let warns = log.lines().filter(|l| l.contains("load shedding")).count();
    eprintln!("{shed} shed requests: {errors} ERROR lines, {warns} WARN lines");
    assert_eq!(errors, 0, "{log}");
    assert_eq!(warns, 1, "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("WARN") && l.contains("load shedding")),
        "{log}"
    );
}

/// Like Python's `http.client`: send the whole request, body included, then read the answer.
#[test]
fn an_oversized_upload_reads_its_413_instead_of_a_broken_pipe() {
    let limit = 1 << 20;
    let server = Server::start(&["--max-body-bytes", &limit.to_string()], None);
    let body = vec![b' '; 3 * limit];
    let mut s = connect(&server.addr);
    let head = format!(
        "POST /v1/ground HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        server.addr,
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    s.write_all(&body)
        .unwrap_or_else(|e| panic!("the upload broke before the answer: {e}"));
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    assert!(text.starts_with("HTTP/1.1 413 "), "{text:?}");
    assert!(text.contains("payload_too_large"), "{text:?}");
}

#[test]
fn workers_beyond_the_cap_are_refused_before_loading() {
    let out = crate::util::reticle()
        .args(["serve", "--model", crate::util::fixture().to_str().unwrap()])
        .args(["--port", "0", "--provider", "cpu", "--workers", "100000"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "workers must be in 1..=64 (each loads its own copy of the model), got 100000"
        ),
        "{err}"
    );
}
