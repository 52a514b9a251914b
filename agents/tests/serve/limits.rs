//! Back-pressure (503 + Retry-After), the request deadline (504) and the body limit (413).

use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::{data, ground_body, Raw, Server};

/// Polls `/metrics` until `series` reads `value` (a request admitted, a worker busy…).
fn wait_for(server: &Server, series: &str, value: f64) {
    let t0 = Instant::now();
    while server.metric(series, None) != value {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "{series} never reached {value}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_full_queue_answers_503_with_retry_after_and_recovers() {
    let data = data();
    let server = Server::start(
        &["--workers", "1", "--queue", "0", "--retry-after", "2"],
        None,
    );
    let body = ground_body(&data.records[0]).to_string();

    // One request admitted and held in flight: its body arrives slowly.
    let mut slow = Raw::post(&server.addr, "/v1/ground", body.len(), None);
    slow.send(&body.as_bytes()[..100]);
    wait_for(&server, "reticle_queue_waiting", 1.0);

    // Every worker busy or reserved, no queue: the next requests are shed at once.
    for path in ["/v1/ground", "/v1/refer"] {
        let r = server.post_raw(path, &body, None);
        r.assert_error(503, "overloaded");
        assert_eq!(r.header("retry-after"), Some("2"), "{r:?}");
    }
    // A shed request still uploading a large body reads its 503, not a reset connection.
    let big = format!("{{\"instruction\": \"{}\"}}", "x".repeat(3_000_000));
    server
        .post_raw("/v1/ground", &big, None)
        .assert_error(503, "overloaded");
    assert_eq!(server.metric("reticle_queue_rejections_total", None), 3.0);
    assert_eq!(
        server.get("/healthz", None).status,
        200,
        "health is never shed"
    );

    // The held request completes normally, and then there is room again.
    slow.send(&body.as_bytes()[100..]);
    let r = slow.response();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.json()["point"].is_array());
    let r = server.post_raw("/v1/ground", &body, None);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn parallel_requests_beyond_workers_and_queue_get_only_200_or_503() {
    let data = data();
    let server = Server::start(&["--workers", "1", "--queue", "1"], None);
    let body = ground_body(&data.records[0]).to_string();
    let barrier = std::sync::Barrier::new(8);
    let statuses: Vec<(u16, Option<String>)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    let r = server.post_raw("/v1/ground", &body, None);
                    (r.status, r.header("retry-after").map(str::to_string))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ok = statuses.iter().filter(|(s, _)| *s == 200).count();
    assert!(ok >= 1, "{statuses:?}");
    for (status, retry) in &statuses {
        assert!(*status == 200 || *status == 503, "{statuses:?}");
        assert_eq!(
            *status == 503,
            retry.as_deref() == Some("1"),
            "{statuses:?}"
        );
    }
    let shed = statuses.len() - ok;
    assert_eq!(
        server.metric("reticle_queue_rejections_total", None),
        shed as f64
    );
}

#[test]
fn a_request_past_its_deadline_gets_504_and_the_server_goes_on() {
    let data = data();
    let server = Server::start(&["--timeout-ms", "400"], None);
    let body = ground_body(&data.records[0]).to_string();
    let t0 = Instant::now();
    let mut stalled = Raw::post(&server.addr, "/v1/ground", body.len(), None);
    stalled.send(&body.as_bytes()[..100]);
    let r = stalled.response();
    r.assert_error(504, "timeout");
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(server.metric("reticle_request_timeouts_total", None), 1.0);
    let r = server.post_raw("/v1/ground", &body, None);
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn bodies_over_the_limit_get_413_announced_or_streamed() {
    let data = data();
    let body = ground_body(&data.records[0]).to_string();
    let limit = body.len() + 10;
    let server = Server::start(&["--max-body-bytes", &limit.to_string()], None);
    // Announced by Content-Length: refused before the body is sent.
    Raw::post(&server.addr, "/v1/ground", limit + 1, None)
        .response()
        .assert_error(413, "payload_too_large");
    // Streamed without a length: refused once the limit is passed.
    let mut chunked = Raw::post_chunked(&server.addr, "/v1/refer");
    chunked.send_chunk(&vec![b' '; limit + 1]);
    chunked.response().assert_error(413, "payload_too_large");
    // A body just under the limit is fine, chunked or not.
    let mut chunked = Raw::post_chunked(&server.addr, "/v1/ground");
    chunked.send_chunk(body.as_bytes());
    chunked.send(b"0\r\n\r\n");
    assert_eq!(chunked.response().status, 200);
    let r = server.post(
        "/v1/ground",
        &json!(serde_json::from_str::<serde_json::Value>(&body).unwrap()),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
}
