//! The end-to-end tests (listed in [`ALL`]).

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reticle_models::dataset::{read_dataset, Record, Target};
use reticle_models::geometry::Point;

use crate::support::pointer_fixture;
use crate::util::{
    assert_refused, element_name, reports, stderr, step_lines, target_box, training_data, Xvfb,
};

pub const ALL: &[(&str, fn())] = &[
    (
        "plan_on_one_monitor_clicks_each_named_element_and_records_them",
        plan_on_one_monitor_clicks_each_named_element_and_records_them,
    ),
    (
        "second_monitor_offset_with_scale_two_click_type_and_double_click",
        second_monitor_offset_with_scale_two_click_type_and_double_click,
    ),
    (
        "scale_one_point_two_five_right_click_on_1920x1080",
        scale_one_point_two_five_right_click_on_1920x1080,
    ),
    (
        "dry_run_draws_the_target_and_clicks_nothing",
        dry_run_draws_the_target_and_clicks_nothing,
    ),
    (
        "safety_refusals_click_nothing",
        safety_refusals_click_nothing,
    ),
    (
        "a_pointer_package_below_min_confidence_clicks_nothing",
        a_pointer_package_below_min_confidence_clicks_nothing,
    ),
    (
        "the_shipped_default_presses_ok_on_a_real_xmessage_dialog",
        the_shipped_default_presses_ok_on_a_real_xmessage_dialog,
    ),
];

/// How long the app must stay silent after `reticle` exits before "no (more) clicks" holds.
const QUIET: Duration = Duration::from_millis(500);

fn clicks(events: Vec<serde_json::Value>) -> Vec<serde_json::Value> {
    events
        .into_iter()
        .filter(|e| e["event"] == "click")
        .collect()
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Asserts that `click` (an app event) is a `button` press on `record`'s target element,
/// shown by an app window at `origin`.
fn assert_hit(click: &serde_json::Value, record: &Record, button: u64, origin: (i64, i64)) {
    assert_eq!(click["event"], "click", "{click}");
    assert_eq!(click["button"], button, "{click}");
    assert_eq!(
        click["hit"],
        element_name(record).as_str(),
        "{}: {:?} missed {:?}: {click}",
        record.id,
        record.instruction,
        target_box(record)
    );
    let (x, y) = (click["x"].as_i64().unwrap(), click["y"].as_i64().unwrap());
    assert_eq!(click["root_x"].as_i64().unwrap(), origin.0 + x, "{click}");
    assert_eq!(click["root_y"].as_i64().unwrap(), origin.1 + y, "{click}");
}

fn plan_on_one_monitor_clicks_each_named_element_and_records_them() {
    let data = training_data();
    let x = Xvfb::start(1280, 800);
    let work = tempfile::tempdir().unwrap();
    let screens = [&data.records[0], &data.records[2], &data.records[9]];
    let mut app = x.app(work.path(), 0, 0, &screens, true);
    x.warp_pointer(640, 400);
    let plan = work.path().join("plan.txt");
    let text: String = screens
        .iter()
        .map(|r| format!("{}\n", r.instruction))
        .collect();
    std::fs::write(&plan, format!("# three screens\n{text}")).unwrap();
    let rec = work.path().join("rec");
    let out = x.desktop(&[
        "run",
        arg(&plan),
        "--monitor",
        "0",
        "--record",
        arg(&rec),
        "--timeout",
        "20",
    ]);
    let steps = reports(&out);
    assert_eq!(steps.len(), 3, "{}", stderr(&out));
    let clicks = clicks(app.expect(3, QUIET));
    assert_eq!(clicks.len(), 3, "{clicks:?}");
    for (i, (click, r)) in clicks.iter().zip(screens).enumerate() {
        assert_eq!(click["screen"], i as u64);
        assert_hit(click, r, 1, (0, 0));
        let s = &steps[i];
        assert_eq!(s["outcome"], "acted", "{s}");
        assert_eq!(s["image_size"], serde_json::json!([1280, 800]));
        assert_eq!(s["monitor"]["scale_factor"], 1.0);
        assert_eq!(
            s["target"]["input"],
            serde_json::json!([click["root_x"], click["root_y"]])
        );
    }
    // The action log names every action.
    assert_eq!(stderr(&out).matches("desktop action").count(), 3);

    // The recording is a dataset `reticle data check` accepts: screenshots identical to
    // the screens shown, targets around the clicked points.
    let check = x
        .reticle()
        .args(["data", "check", arg(&rec)])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let recorded = read_dataset(&rec).unwrap();
    assert_eq!(recorded.len(), 3);
    for ((r, shown), click) in recorded.iter().zip(screens).zip(&clicks) {
        assert_eq!(r.instruction, shown.instruction);
        let got = image::open(&r.image).unwrap().to_rgb8();
        let want = image::open(&shown.image).unwrap().to_rgb8();
        assert!(
            got == want,
            "{}: the screenshot differs from the screen shown",
            r.id
        );
        let Target::Box(b) = r.target else {
            panic!("{:?}", r.target)
        };
        let p = Point::new(
            click["x"].as_f64().unwrap() + 0.5,
            click["y"].as_f64().unwrap() + 0.5,
        );
        assert!(b.contains(&p), "{b:?} does not hold the click {p:?}");
        let meta = r.meta.as_ref().unwrap();
        assert_eq!(meta["outcome"], "acted");
        assert_eq!(meta["label"], "predicted");
        assert_eq!(meta["action"], "click");
        assert!(meta["raw_output"].as_str().unwrap().contains("<answer>"));
        assert_eq!(meta["monitor"]["width"], 1280);
    }
}

fn second_monitor_offset_with_scale_two_click_type_and_double_click() {
    let data = training_data();
    let x = Xvfb::start(2560, 1100);
    // Two RandR monitors; only the right one has Xvfb's output, so xcap lists only it.
    x.set_monitors(&[
        ("LEFT", 0, 0, 1280, 800, false),
        ("RIGHT", 1280, 300, 1280, 800, true),
    ]);
    x.set_dpi(192);
    let out = x.desktop(&["monitors", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ms: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ms.as_array().unwrap().len(), 1, "{ms}");
    // Logical geometry: device pixels / 2.
    assert_eq!(
        (&ms[0]["x"], &ms[0]["y"], &ms[0]["width"], &ms[0]["height"]),
        (
            &serde_json::json!(640),
            &serde_json::json!(150),
            &serde_json::json!(640),
            &serde_json::json!(400)
        ),
        "{ms}"
    );
    assert_eq!(ms[0]["scale_factor"], 2.0);

    let work = tempfile::tempdir().unwrap();
    let screens = [&data.records[3], &data.records[7], &data.records[8]];
    let mut app = x.app(work.path(), 1280, 300, &screens, true);
    // No --monitor: the monitor under the pointer.
    x.warp_pointer(1900, 700);
    let plan = work.path().join("plan.json");
    let steps = serde_json::json!({"timeout_s": 20, "steps": [
        screens[0].instruction,
        {"instruction": screens[1].instruction, "type": "hunter2"},
        {"instruction": screens[2].instruction, "action": "double"},
    ]});
    std::fs::write(&plan, steps.to_string()).unwrap();
    let out = x.desktop(&["run", arg(&plan)]);
    let steps = reports(&out);
    assert_eq!(steps.len(), 3);
    for s in &steps {
        assert_eq!(s["image_size"], serde_json::json!([1280, 800]), "{s}");
        assert_eq!(s["monitor"]["x"], 640, "{s}");
    }
    let events = app.expect(4, QUIET);
    let clicks: Vec<_> = events.iter().filter(|e| e["event"] == "click").collect();
    assert_eq!(clicks.len(), 4, "{events:?}");
    assert_hit(clicks[0], screens[0], 1, (1280, 300));
    assert_hit(clicks[1], screens[1], 1, (1280, 300));
    assert_hit(clicks[2], screens[2], 1, (1280, 300));
    assert_eq!(clicks[2]["x"], clicks[3]["x"]);
    assert_hit(clicks[3], screens[2], 1, (1280, 300));
    let typed: String = events
        .iter()
        .filter(|e| e["event"] == "key")
        .map(|e| e["text"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(typed, "hunter2", "{events:?}");
    // The logical target is half the device position.
    let t = &steps[0]["target"];
    let input_x = t["input"][0].as_f64().unwrap();
    let logical_x = t["logical"][0].as_f64().unwrap();
    assert!((input_x - 2.0 * logical_x).abs() <= 1.0, "{t}");
}

fn scale_one_point_two_five_right_click_on_1920x1080() {
    let data = training_data();
    let x = Xvfb::start(1920, 1080);
    x.set_dpi(120);
    let work = tempfile::tempdir().unwrap();
    let r = &data.records[1];
    let mut app = x.app(work.path(), 0, 0, &[r], false);
    x.warp_pointer(900, 500);
    let out = x.desktop(&[
        "do",
        "--instruction",
        &r.instruction,
        "--action",
        "right",
        "--monitor",
        "0",
    ]);
    let steps = reports(&out);
    assert_eq!(steps[0]["monitor"]["width"], 1536, "{}", steps[0]);
    assert_eq!(steps[0]["monitor"]["scale_factor"], 1.25);
    assert_eq!(steps[0]["image_size"], serde_json::json!([1920, 1080]));
    let clicks = clicks(app.expect(1, QUIET));
    assert_eq!(clicks.len(), 1, "{clicks:?}");
    assert_hit(&clicks[0], r, 3, (0, 0));
}

fn dry_run_draws_the_target_and_clicks_nothing() {
    let data = training_data();
    let x = Xvfb::start(1024, 768);
    let work = tempfile::tempdir().unwrap();
    let r = &data.records[5];
    let mut app = x.app(work.path(), 0, 0, &[r], false);
    x.warp_pointer(500, 400);
    let png = work.path().join("dry.png");
    let out = x.desktop(&[
        "do",
        "--instruction",
        &r.instruction,
        "--dry-run",
        "--dry-run-image",
        arg(&png),
    ]);
    let steps = reports(&out);
    let s = &steps[0];
    assert_eq!(s["outcome"], "dry_run", "{s}");
    assert_eq!(s["annotated"], arg(&png));
    assert!(app.clicks(QUIET).is_empty(), "a dry run clicked");
    assert_eq!(x.pointer(), (500, 400), "a dry run moved the pointer");
    assert!(!stderr(&out).contains("desktop action"));

    let p = Point::new(
        s["point"][0].as_f64().unwrap(),
        s["point"][1].as_f64().unwrap(),
    );
    assert!(
        target_box(r).contains(&p),
        "{p:?} not in {:?}",
        target_box(r)
    );
    // The annotation is the screenshot (= the screen shown) plus red marks centred on the
    // target and nothing else.
    let got = image::open(&png).unwrap().to_rgb8();
    let shown = image::open(&r.image).unwrap().to_rgb8();
    assert_eq!(got.dimensions(), shown.dimensions());
    let (mut n, mut sx, mut sy) = (0usize, 0f64, 0f64);
    for (x_, y_, px) in got.enumerate_pixels() {
        if px != shown.get_pixel(x_, y_) {
            assert_eq!(px.0, [255, 0, 0], "non-red change at ({x_}, {y_})");
            n += 1;
            sx += f64::from(x_);
            sy += f64::from(y_);
        }
    }
    assert!(n > 50, "only {n} pixels were drawn");
    let centre = Point::new(sx / n as f64, sy / n as f64);
    assert!(
        (centre.x - p.x).abs() < 3.0 && (centre.y - p.y).abs() < 3.0,
        "marks centred at {centre:?}, target {p:?}"
    );
    assert!(target_box(r).contains(&centre));
}

fn safety_refusals_click_nothing() {
    let data = training_data();
    let x = Xvfb::start(1280, 800);
    let work = tempfile::tempdir().unwrap();
    let r = &data.records[0];
    let mut app = x.app(work.path(), 0, 0, &[r], false);
    let rec = work.path().join("rec");
    let instr = r.instruction.as_str();
    let base = ["do", "--instruction", instr, "--monitor", "0"];
    let with = |extra: &[&str]| -> Vec<String> {
        base.iter().chain(extra).map(ToString::to_string).collect()
    };
    let desktop = |args: Vec<String>| {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        x.desktop(&a)
    };
    x.warp_pointer(640, 400);

    // A target outside --bounds (a region that excludes the Install Now button).
    let out = desktop(with(&["--bounds", "0,0,300,300", "--record", arg(&rec)]));
    assert_refused(&out, "outside --bounds");
    assert_eq!(step_lines(&out)[0]["refusal"]["reason"], "outside_bounds");
    assert!(app.clicks(QUIET).is_empty());

    // An answer cut off after one token does not parse.
    let out = desktop(with(&["--max-new-tokens", "1", "--record", arg(&rec)]));
    assert_refused(&out, "does not parse");
    assert!(app.clicks(QUIET).is_empty());

    // --max-actions.
    let out = desktop(with(&["--max-actions", "0"]));
    assert_refused(&out, "--max-actions 0 reached");
    assert!(app.clicks(QUIET).is_empty());
    let out = desktop(with(&["--type", "x", "--max-actions", "1"]));
    assert_refused(&out, "--max-actions 1 reached");
    assert!(app.drain(QUIET).is_empty());
    let plan = work.path().join("twice.json");
    let step = serde_json::json!({"instruction": instr, "wait": false});
    std::fs::write(&plan, serde_json::json!([step, step]).to_string()).unwrap();
    let out = x.desktop(&["run", arg(&plan), "--monitor", "0", "--max-actions", "1"]);
    assert_refused(&out, "--max-actions 1 reached");
    let clicks = clicks(app.expect(1, QUIET));
    assert_eq!(clicks.len(), 1, "{clicks:?}");
    assert_hit(&clicks[0], r, 1, (0, 0));

    // --confirm cannot ask without a terminal: it refuses rather than act unasked.
    let out = desktop(with(&["--confirm"]));
    assert_refused(&out, "--confirm needs a terminal");
    assert!(app.clicks(QUIET).is_empty());

    // The corner failsafe, before anything happens: top-left, bottom-right.
    for (cx, cy) in [(0, 0), (1279, 799)] {
        x.warp_pointer(cx, cy);
        let out = desktop(with(&[]));
        assert_refused(&out, "failsafe");
        assert!(app.clicks(QUIET).is_empty());
        assert_eq!(x.pointer(), (cx, cy));
    }

    // The failsafe while a plan waits for the screen to change (this app never changes it):
    // one click, then the pointer goes to a corner and the run stops at once.
    x.warp_pointer(640, 400);
    let plan = work.path().join("wait.txt");
    std::fs::write(&plan, format!("{instr}\n{instr}\n")).unwrap();
    let mut child = x
        .reticle()
        .args([
            "desktop",
            "run",
            arg(&plan),
            "--monitor",
            "0",
            "--timeout",
            "60",
        ])
        .args(["--model", arg(&crate::util::fixture()), "--provider", "cpu"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let click = app
        .wait_click(Duration::from_secs(60))
        .expect("no first click");
    assert_hit(&click, r, 1, (0, 0));
    x.warp_pointer(1279, 0);
    let t = Instant::now();
    let out = loop {
        if child.try_wait().unwrap().is_some() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the failsafe did not stop the run"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_refused(&out, "failsafe");
    assert!(app.clicks(QUIET).is_empty());

    // The refused steps were recorded: the one with a point as a dataset record, the
    // unparseable one beside it.
    let check = x
        .reticle()
        .args(["data", "check", arg(&rec)])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
    let recorded = read_dataset(&rec).unwrap();
    assert_eq!(recorded.len(), 1);
    let meta = recorded[0].meta.as_ref().unwrap();
    assert_eq!(meta["outcome"], "refused");
    assert_eq!(meta["refusal"], "outside_bounds");
    let unparsed = std::fs::read_to_string(rec.join("unparsed.jsonl")).unwrap();
    assert_eq!(unparsed.lines().count(), 1);
    assert!(unparsed.contains("unparseable"), "{unparsed}");
    drop(app);
}

/// The pointer fixture has no OCR stage: it scores patches only, with a confidence near
/// 1/48, so the default `--min-confidence` (0.2) refuses; `--min-confidence 0` lets it act.
fn a_pointer_package_below_min_confidence_clicks_nothing() {
    let data = training_data();
    let x = Xvfb::start(1280, 800);
    let work = tempfile::tempdir().unwrap();
    let r = &data.records[0];
    let mut app = x.app(work.path(), 0, 0, &[r], false);
    x.warp_pointer(640, 400);
    let model = pointer_fixture();
    let run = |extra: &[&str]| {
        x.reticle()
            .args([
                "desktop",
                "do",
                "--instruction",
                &r.instruction,
                "--monitor",
                "0",
            ])
            .args(["--model", arg(&model), "--provider", "cpu"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    assert_refused(&out, "is below --min-confidence 0.2 for");
    assert!(stderr(&out).contains(&r.instruction), "{}", stderr(&out));
    let step = &step_lines(&out)[0];
    assert_eq!(step["refusal"]["reason"], "low_confidence", "{step}");
    assert!(step["confidence"].as_f64().unwrap() < 0.2, "{step}");
    assert!(app.clicks(QUIET).is_empty());

    let png = work.path().join("dry.png");
    let out = run(&[
        "--min-confidence",
        "0",
        "--dry-run",
        "--dry-run-image",
        arg(&png),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(step_lines(&out)[0]["outcome"], "dry_run");
    assert!(app.clicks(QUIET).is_empty());
    // A probability outside 0..=1 is refused before anything loads.
    let out = run(&["--min-confidence", "1.5"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("not a probability"),
        "{}",
        stderr(&out)
    );
}

/// A real X11 dialog the model never saw: `xmessage` with Cancel and OK buttons, whose exit
/// status says which button was pressed (2 = Cancel, 3 = OK), grounded by the shipped default
/// package (found as `reticle` finds it: no `--model`). The issue's target: "click the OK
/// button" presses OK. PP-OCRv6 reads xmessage's bitmap font as `Cance1 0K`; the contract's
/// match form folds those confusions. An instruction that names nothing on the screen is
/// refused for low confidence, and nothing is clicked.
fn the_shipped_default_presses_ok_on_a_real_xmessage_dialog() {
    let x = Xvfb::start(1280, 800);
    let dialog = || {
        std::process::Command::new("xmessage")
            .args([
                "-center",
                "-buttons",
                "Cancel:2,OK:3",
                "Save the changes to report.txt?",
            ])
            .env("DISPLAY", &x.display)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("xmessage (the x11-utils package) is installed by scripts/setup.sh")
    };
    // xmessage maps its window within a moment; give it time to draw.
    let wait_mapped = || std::thread::sleep(Duration::from_millis(1500));
    let ground = |instruction: &str| {
        x.reticle()
            .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
            .args([
                "desktop",
                "do",
                "--instruction",
                instruction,
                "--monitor",
                "0",
                "--provider",
                "cpu",
            ])
            .output()
            .unwrap()
    };
    let settle = |child: &mut std::process::Child| {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                return Some(s);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    // Nothing on the screen is a teleporter: no click, and the agent says why.
    let mut child = dialog();
    wait_mapped();
    let out = ground("click the Teleport to Mars button");
    // A package with the nothing head answers "nothing here"; one without it is unsure.
    let manifest = reticle_models::manifest::Manifest::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../models/default"
    )))
    .unwrap();
    let has_nothing_head = manifest.pointer.as_ref().is_some_and(|p| p.nothing);
    assert_refused(
        &out,
        if has_nothing_head {
            // …and what it outweighed: the dialog has a best click, just not a teleporter.
            "names nothing on the screen (probability"
        } else {
            "--min-confidence"
        },
    );
    if has_nothing_head {
        assert_refused(&out, "for its best click)");
    }
    assert!(
        settle(&mut child).is_none(),
        "the dialog was dismissed: a click happened"
    );
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = dialog();
    wait_mapped();
    let out = ground("click the OK button");
    let status = settle(&mut child);
    if status.is_none() {
        child.kill().unwrap();
        child.wait().unwrap();
    }
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(3),
        "exit 3 = OK, 2 = Cancel, none = not dismissed\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
