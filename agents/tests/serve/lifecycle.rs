//! Graceful shutdown: SIGTERM stops new connections and lets the request in flight finish.

use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::util::{data, ground_body, sigterm, Raw, Server};

#[test]
fn sigterm_finishes_the_request_in_flight_then_exits_0() {
    let data = data();
    let mut server = Server::start(&[], None);
    let body = ground_body(&data.records[0]).to_string();

    let mut in_flight = Raw::post(&server.addr, "/v1/ground", body.len(), None);
    in_flight.send(&body.as_bytes()[..100]);
    let t0 = Instant::now();
    while server.metric("reticle_queue_waiting", None) != 1.0 {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "request never admitted"
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    sigterm(server.pid());
    // Still running, waiting for the request; no longer accepting connections.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.wait_exit(Duration::ZERO).is_none(),
        "exited with a request in flight"
    );
    assert!(
        TcpStream::connect(&server.addr).is_err(),
        "still accepting connections after SIGTERM"
    );

    in_flight.send(&body.as_bytes()[100..]);
    let r = in_flight.response();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["point"].is_array(), "{}", r.body);

    let status = server
        .wait_exit(Duration::from_secs(15))
        .expect("still running 15 s after its last request");
    assert!(status.success(), "{status}: {}", server.stderr());
}
