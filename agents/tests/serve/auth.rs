//! Bearer-token authentication and the loopback-only default.

use serde_json::json;

use crate::util::{data, fixture, ground_body, reticle, Server, TOKEN};

#[test]
fn with_a_token_v1_and_metrics_need_it_and_healthz_stays_open() {
    let data = data();
    let body = ground_body(&data.records[0]);
    let server = Server::start(&[], Some(TOKEN));

    let missing = server.post("/v1/ground", &body, None);
    missing.assert_error(401, "unauthorized");
    assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
    assert!(missing.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("missing"));
    let wrong = server.post("/v1/ground", &body, Some("test-token-0123456789abcdeX"));
    wrong.assert_error(401, "unauthorized");
    assert!(wrong.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("wrong"));
    server
        .post("/v1/ground", &body, Some(&TOKEN[..TOKEN.len() - 1]))
        .assert_error(401, "unauthorized");
    server
        .post("/v1/refer", &json!({}), None)
        .assert_error(401, "unauthorized");
    // A client still uploading a large body reads its 401, not a reset connection.
    let big = json!({"instruction": "x".repeat(3_000_000)});
    server
        .post("/v1/refer", &big, None)
        .assert_error(401, "unauthorized");
    server
        .get("/metrics", None)
        .assert_error(401, "unauthorized");
    server
        .get("/metrics", Some("nope"))
        .assert_error(401, "unauthorized");

    assert_eq!(server.get("/healthz", None).status, 200);
    assert_eq!(server.get("/openapi.json", None).status, 200);
    let ok = server.post("/v1/ground", &body, Some(TOKEN));
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(server.get("/metrics", Some(TOKEN)).status, 200);
    // The rejections were counted, and the token never reaches the log.
    let unauthorized = r#"reticle_http_requests_total{route="/v1/ground",status="401"}"#;
    assert_eq!(server.metric(unauthorized, Some(TOKEN)), 3.0);
    assert!(!server.stderr().contains(TOKEN), "{}", server.stderr());
}

#[test]
fn refuses_to_listen_beyond_loopback_without_a_strong_token() {
    let model = fixture();
    let model = model.to_str().unwrap();
    for (extra, message) in [
        (
            vec!["--addr", "0.0.0.0"],
            "refusing to listen on 0.0.0.0 without a token",
        ),
        (
            vec!["--addr", "::"],
            "refusing to listen on :: without a token",
        ),
        (
            vec!["--addr", "0.0.0.0", "--token", "short"],
            "use at least 16",
        ),
    ] {
        let out = reticle()
            .args(["serve", "--model", model, "--port", "0"])
            .args(&extra)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{extra:?} started");
        assert!(stderr.contains(message), "{extra:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{extra:?} printed {:?}", out.stdout);
    }
}

#[test]
fn with_a_token_it_listens_on_all_interfaces() {
    let server = Server::start(&["--addr", "0.0.0.0"], Some(TOKEN));
    assert!(
        server.base.starts_with("http://0.0.0.0:"),
        "{}",
        server.base
    );
    let port = server.addr.rsplit(':').next().unwrap();
    let local = Server::url_at(&format!("http://127.0.0.1:{port}"), "/metrics");
    let r = crate::util::get_url(&local, None);
    r.assert_error(401, "unauthorized");
    assert_eq!(crate::util::get_url(&local, Some(TOKEN)).status, 200);
}
