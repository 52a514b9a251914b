//! The grounding route, health, metrics, the OpenAPI document and error answers.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::util::{b64, data, fixture, ground_body, reticle, Raw, Server};

#[test]
fn ground_answers_the_same_point_as_reticle_ground() {
    let data = data();
    let server = Server::start(&[], None);
    for r in &data.records {
        let cli = reticle()
            .args(["ground", "--model", fixture().to_str().unwrap()])
            .args(["--image", r.image.to_str().unwrap()])
            .args([
                "--instruction",
                &r.instruction,
                "--provider",
                "cpu",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(
            cli.status.success(),
            "{}",
            String::from_utf8_lossy(&cli.stderr)
        );
        let cli: Value = serde_json::from_slice(&cli.stdout).unwrap();

        let reply = server.post("/v1/ground", &ground_body(r), None);
        assert_eq!(reply.status, 200, "{}", reply.body);
        let v = reply.json();
        assert!(v["point"].is_array(), "{v}");
        // Same package, same pixels, greedy decoding: the very same answer.
        for key in ["point", "size", "instruction", "provider"] {
            assert_eq!(v[key], cli[key], "{key}: serve {v} vs ground {cli}");
        }
        assert_eq!(v["result"]["text"], cli["result"]["text"]);
        assert_eq!(v["result"]["answer"], cli["result"]["answer"]);
    }
}

#[test]
fn healthz_is_ok_and_metrics_count_requests_by_route_and_status() {
    let data = data();
    let server = Server::start(&[], None);
    let h = server.get("/healthz", None);
    assert_eq!(h.status, 200);
    assert_eq!(h.json(), json!({"status": "ok"}));

    let ok = r#"reticle_http_requests_total{route="/v1/ground",status="200"}"#;
    let bad = r#"reticle_http_requests_total{route="/v1/ground",status="400"}"#;
    let count = r#"reticle_http_request_duration_seconds_count{route="/v1/ground"}"#;
    let (ok0, bad0, count0) = (
        server.metric(ok, None),
        server.metric(bad, None),
        server.metric(count, None),
    );
    for _ in 0..2 {
        assert_eq!(
            server
                .post("/v1/ground", &ground_body(&data.records[0]), None)
                .status,
            200
        );
    }
    assert_eq!(server.post_raw("/v1/ground", "{", None).status, 400);
    assert_eq!(server.metric(ok, None), ok0 + 2.0);
    assert_eq!(server.metric(bad, None), bad0 + 1.0);
    assert_eq!(server.metric(count, None), count0 + 3.0);

    let m = server.get("/metrics", None);
    assert!(m.header("content-type").unwrap().starts_with("text/plain"));
    for series in [
        "# TYPE reticle_http_request_duration_seconds histogram",
        r#"reticle_http_request_duration_seconds_bucket{route="/v1/ground",le="+Inf"} 3"#,
        r#"reticle_http_requests_total{route="/healthz",status="200"} 1"#,
        "reticle_http_requests_in_flight 1",
        "reticle_queue_rejections_total 0",
        "reticle_workers 1",
        "reticle_queue_capacity 16",
    ] {
        assert!(
            m.body.lines().any(|l| l == series),
            "{series} not in\n{}",
            m.body
        );
    }
}

#[test]
fn openapi_documents_exactly_the_routes_the_server_has() {
    let server = Server::start(&[], None);
    let doc = server.get("/openapi.json", None);
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
            // Every documented operation exists: neither 404 nor 405.
            let status = match method.as_str() {
                "get" => server.get(path, None).status,
                "post" => server.post_raw(path, "{}", None).status,
                other => panic!("unexpected method {other}"),
            };
            assert!(status != 404 && status != 405, "{method} {path}: {status}");
        }
    }
    let expected: BTreeSet<(String, String)> = [
        ("POST", "/v1/ground"),
        ("POST", "/v1/refer"),
        ("GET", "/healthz"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    assert_eq!(documented, expected);
    // The documented request examples are valid requests: ground answers, and refer
    // either answers or says that this (fixture) model's answer holds no point.
    let example = |op: &str| doc["components"]["schemas"][op]["example"].clone();
    let r = server.post("/v1/ground", &example("GroundRequest"), None);
    assert_eq!(r.status, 200, "ground example: {}", r.body);
    let r = server.post("/v1/refer", &example("ReferRequest"), None);
    if r.status != 200 {
        r.assert_error(422, "no_target");
    }
    // Undocumented paths and methods are JSON errors too.
    server
        .get("/v1/nothing", None)
        .assert_error(404, "not_found");
    server
        .get("/v1/ground", None)
        .assert_error(405, "method_not_allowed");
}

/// A camera for a `w`×`h` frame, 0.5 m above the base looking down.
fn camera(w: u32, h: u32) -> Value {
    json!({
        "fx": 500.0, "fy": 500.0, "cx": f64::from(w) / 2.0, "cy": f64::from(h) / 2.0,
        "width": w, "height": h, "depth_scale": 0.001,
        "extrinsics": {"translation": [0.0, 0.0, 0.5], "quaternion_xyzw": [1.0, 0.0, 0.0, 0.0]},
    })
}

/// A 16-bit depth PNG of `w`×`h`, every pixel `mm` millimetres.
fn depth_png(w: u32, h: u32, mm: u16) -> Vec<u8> {
    let img = image::ImageBuffer::<image::Luma<u16>, Vec<u16>>::from_pixel(w, h, image::Luma([mm]));
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[test]
fn bad_requests_get_clear_json_errors_and_the_server_keeps_serving() {
    let data = data();
    let r = &data.records[0];
    let png = std::fs::read(&r.image).unwrap();
    let (w, h) = image::image_dimensions(&r.image).unwrap();
    let server = Server::start(&["--max-body-bytes", "2000000"], None);
    let good = ground_body(r);
    let with = |key: &str, value: Value| {
        let mut v = good.clone();
        v[key] = value;
        v
    };
    let check = |path: &str, body: &str, status: u16, code: &str| {
        let reply = server.post_raw(path, body, None);
        reply.assert_error(status, code);
        reply
    };
    // 400: not JSON, not an object, missing, unknown or mistyped fields.
    let reply = check("/v1/ground", "{\"image\": ", 400, "invalid_request");
    assert!(reply.body.contains("EOF"), "{}", reply.body);
    check("/v1/ground", "[1, 2]", 400, "invalid_request");
    let reply = check("/v1/ground", r#"{"image": "aGk="}"#, 400, "invalid_request");
    assert!(
        reply.body.contains("instruction"),
        "names the field: {}",
        reply.body
    );
    check(
        "/v1/ground",
        &with("colour", json!(1)).to_string(),
        400,
        "invalid_request",
    );
    check(
        "/v1/ground",
        &with("instruction", json!(7)).to_string(),
        400,
        "invalid_request",
    );
    check(
        "/v1/ground",
        &with("options", json!({"temprature": 1})).to_string(),
        400,
        "invalid_request",
    );
    // 422: well-formed JSON with unusable values.
    check(
        "/v1/ground",
        &with("image", json!("not base64!")).to_string(),
        422,
        "invalid_base64",
    );
    check(
        "/v1/ground",
        &with("image", json!(b64(b"GIF89a not a png"))).to_string(),
        422,
        "invalid_image",
    );
    let truncated = b64(&png[..png.len() / 2]);
    check(
        "/v1/ground",
        &with("image", json!(truncated)).to_string(),
        422,
        "invalid_image",
    );
    check(
        "/v1/ground",
        &with("instruction", json!("   ")).to_string(),
        422,
        "invalid_instruction",
    );
    check(
        "/v1/ground",
        &with("options", json!({"temperature": -1})).to_string(),
        422,
        "invalid_options",
    );
    check(
        "/v1/ground",
        &with("options", json!({"max_new_tokens": 0})).to_string(),
        422,
        "invalid_options",
    );
    // A depth image for an RGB package is refused (as `reticle ground --depth` refuses it),
    // not silently ignored.
    let depth = json!(b64(&depth_png(w, h, 600)));
    let with_depth = with("depth", depth.clone());
    let resp = server.post("/v1/ground", &with_depth, None);
    assert_eq!(resp.status, 422, "{}", resp.body);
    assert!(
        resp.body.contains("does not use a depth image"),
        "{}",
        resp.body
    );
    check(
        "/v1/ground",
        &with("depth", json!(b64(&png))).to_string(),
        422,
        "invalid_input",
    );
    // /v1/refer: bad camera data and bad depth are 422 too.
    let refer = json!({
        "rgb": b64(&png), "depth": b64(&depth_png(w, h, 600)),
        "camera": camera(w, h), "instruction": r.instruction,
    });
    let refer_with = |key: &str, value: Value| {
        let mut v = refer.clone();
        v[key] = value;
        v.to_string()
    };
    let mut cam = camera(w, h);
    cam["fx"] = json!(-1.0);
    check(
        "/v1/refer",
        &refer_with("camera", cam),
        422,
        "invalid_camera",
    );
    check(
        "/v1/refer",
        &refer_with("camera", json!({"fx": 1})),
        422,
        "invalid_camera",
    );
    check(
        "/v1/refer",
        &refer_with("camera", camera(w + 1, h)),
        422,
        "invalid_image",
    );
    check(
        "/v1/refer",
        &refer_with("depth", json!(b64(&png))),
        422,
        "invalid_image",
    );
    check(
        "/v1/refer",
        &refer_with("window", json!(4)),
        422,
        "invalid_options",
    );
    // 413: a body announced over --max-body-bytes is refused before it is sent (a raw
    // connection: a client still writing the body could see the connection reset first).
    Raw::post(&server.addr, "/v1/ground", 2_000_001, None)
        .response()
        .assert_error(413, "payload_too_large");

    // After all that, the service still answers.
    let ok = server.post("/v1/ground", &good, None);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert!(ok.json()["point"].is_array());
    let target = server.post_raw("/v1/refer", &refer.to_string(), None);
    assert_eq!(target.status, 200, "{}", target.body);
    let t = target.json();
    // Every pixel is 0.6 m from the camera, which sits 0.5 m above the base looking down.
    let z = t["xyz_m"][2].as_f64().unwrap();
    assert!((z - (0.5 - 0.6)).abs() < 1e-9, "{t}");
    assert_eq!(t["depth_m"], 0.6);
}
