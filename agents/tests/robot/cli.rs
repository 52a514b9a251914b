//! `reticle robot` end to end with the fixture package, and its errors.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use image::{ImageBuffer, Luma};
use reticle_agents::robot;
use reticle_models::dataset::Target;
use reticle_models::geometry::Point;

use crate::util::{arg, dist, fixture, reticle, scenes, stderr, stdout, Form, PlaneScene, Pose};

/// The `reticle robot` command for `image`, `depth`, `camera` and `instruction`.
fn command(image: &Path, depth: &Path, camera: &Path, instruction: &str) -> std::process::Command {
    let mut cmd = reticle();
    cmd.args(["robot", "--model", arg(&fixture())])
        .args(["--image", arg(image), "--depth", arg(depth)])
        .args(["--camera", arg(camera), "--instruction", instruction])
        .args(["--provider", "cpu"]);
    cmd
}

/// Runs `reticle robot` on record `i` of `scene` with `camera`, `depth` and `extra` arguments.
fn run(scene: &PlaneScene, i: usize, depth: &Path, camera: &Path, extra: &[&str]) -> Output {
    let r = &scene.records[i];
    command(&r.image, depth, camera, &r.instruction)
        .args(extra)
        .output()
        .unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    assert!(
        out.status.success(),
        "reticle robot failed ({}): {}",
        out.status,
        stderr(out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", stdout(out)))
}

/// A JSON array of finite numbers (JSON has no NaN: serde writes it as `null`).
fn floats<const N: usize>(v: &serde_json::Value) -> [f64; N] {
    let a: Vec<f64> = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|x| {
            x.as_f64()
                .filter(|f| f.is_finite())
                .unwrap_or_else(|| panic!("not a finite number: {x}"))
        })
        .collect();
    a.try_into().unwrap()
}

/// Asserts a failure whose stderr mentions every needle, with nothing on stdout.
fn fails_with(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert!(
        !out.status.success(),
        "expected a failure, got: {}",
        stdout(out)
    );
    for n in needles {
        assert!(err.contains(n), "stderr does not mention {n:?}:\n{err}");
    }
    assert!(stdout(out).is_empty(), "{}", stdout(out));
}

#[test]
fn robot_targets_are_the_model_points_on_the_plane_inside_the_workspace() {
    let n = 6;
    let scene = PlaneScene::new(n);
    // One process per record, all at once (each loads the package itself).
    let children: Vec<_> = (0..n)
        .map(|i| {
            let form = if i % 2 == 0 {
                Form::Matrix
            } else {
                Form::Quaternion
            };
            let camera = scene.camera(i, form, Some(scene.limits(i)), &format!("cam{i}.toml"));
            let annotated = scene.dir.path().join(format!("annotated{i}.png"));
            let r = &scene.records[i];
            let child = command(&r.image, &scene.depths[i], &camera, &r.instruction)
                .args(["--json", "--annotate", arg(&annotated)])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            (i, annotated, child)
        })
        .collect();
    let mut in_box = 0;
    let mut worst: f64 = 0.0;
    for (i, annotated, child) in children {
        let r = &scene.records[i];
        let v = json(&child.wait_with_output().unwrap());
        assert_eq!(v["frame_id"], "table");
        assert_eq!(v["instruction"], r.instruction.as_str());
        assert_eq!(v["within_workspace"], true, "{}: {v}", r.id);
        assert!(
            v["answer_text"].as_str().unwrap().contains("<answer>"),
            "{v}"
        );
        let xyz: [f64; 3] = floats(&v["xyz_m"]);
        let cam: [f64; 3] = floats(&v["camera_xyz_m"]);
        let pixel: [f64; 2] = floats(&v["pixel"]);
        let undistorted: [f64; 2] = floats(&v["undistorted_pixel"]);
        let depth_m = v["depth_m"].as_f64().unwrap();
        assert_eq!(pixel, undistorted, "no distortion in this camera");
        assert_eq!(cam[2], depth_m);
        // 25 valid depths: the plane fills the frame (unless the point is at the border).
        let valid = v["depth_valid_pixels"].as_u64().unwrap();
        assert!((9..=25).contains(&valid), "{valid}");
        let (min, max) = scene.limits(i);
        for a in 0..3 {
            assert!((min[a]..=max[a]).contains(&xyz[a]), "{}: {xyz:?}", r.id);
        }
        // The target is where the ray through the model's pixel meets the plane (to within
        // the depth PNG's 1 mm steps and the window's half-pixel offset), in the base frame.
        let want_cam = scene.plane.hit(&scene.cameras[i], pixel[0], pixel[1]);
        let want = scene.pose.to_base(want_cam);
        let e = dist(xyz, want).max(dist(cam, want_cam));
        assert!(
            e < 0.003,
            "{}: {:.2} mm from the plane point",
            r.id,
            e * 1e3
        );
        worst = worst.max(e);
        // The pixel is the model's answer in original image pixels: the memorised target.
        if let Target::Box(b) = &r.target {
            in_box += usize::from(b.contains(&Point::new(pixel[0], pixel[1])));
        }
        for t in [
            "preprocess_ms",
            "encode_ms",
            "decode_ms",
            "locate_ms",
            "total_ms",
        ] {
            assert!(v["timings"][t].as_f64().unwrap() >= 0.0, "{t}: {v}");
        }
        // The annotated copy differs from the frame only around the target pixel.
        let before = image::open(&r.image).unwrap().to_rgb8();
        let after = image::open(&annotated).unwrap().to_rgb8();
        assert_eq!(before.dimensions(), after.dimensions());
        let (u, w) = (pixel[0].round() as u32, pixel[1].round() as u32);
        let changed: Vec<(u32, u32)> = after
            .enumerate_pixels()
            .filter(|(x, y, p)| before.get_pixel(*x, *y) != *p)
            .map(|(x, y, _)| (x, y))
            .collect();
        assert!(!changed.is_empty(), "{}: nothing drawn", r.id);
        let reach = before.width().min(before.height()) / 40 + 3;
        assert!(
            changed
                .iter()
                .all(|&(x, y)| x.abs_diff(u) <= reach && y.abs_diff(w) <= reach),
            "{}: drawing away from the target pixel",
            r.id
        );
    }
    assert!(
        in_box >= n - 1,
        "only {in_box} of {n} targets on the memorised element"
    );
    eprintln!(
        "worst distance to the true plane point: {:.2} mm",
        worst * 1e3
    );
}

#[test]
fn text_output_workspace_limits_and_allow_outside() {
    let scene = PlaneScene::new(1);
    let depth = &scene.depths[0];
    let cam = scene.camera(0, Form::Matrix, None, "cam.toml");
    let out = run(&scene, 0, depth, &cam, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("target ") && text.contains(" m in table"),
        "{text}"
    );

    // A 2 cm box 1 m away from the target: refused, unless --allow-outside.
    let v = json(&run(&scene, 0, depth, &cam, &["--json"]));
    let xyz: [f64; 3] = floats(&v["xyz_m"]);
    let lo = [xyz[0] + 1.0, xyz[1], xyz[2]];
    let hi = [xyz[0] + 1.02, xyz[1] + 0.02, xyz[2] + 0.02];
    let small = scene.camera(0, Form::Matrix, Some((lo, hi)), "small.toml");
    fails_with(
        &run(&scene, 0, depth, &small, &["--json"]),
        &["outside the workspace limits", "frame `table`"],
    );
    let v = json(&run(
        &scene,
        0,
        depth,
        &small,
        &["--json", "--allow-outside"],
    ));
    assert_eq!(v["within_workspace"], false);
    assert_eq!(floats::<3>(&v["xyz_m"]), xyz);
}

/// A copy of `camera` with `from` replaced by `to`, saved as `out`.
fn edited(camera: &Path, from: &str, to: &str, out: PathBuf) -> PathBuf {
    let text = std::fs::read_to_string(camera).unwrap();
    assert!(text.contains(from), "{from} not in {text}");
    std::fs::write(&out, text.replacen(from, to, 1)).unwrap();
    out
}

#[test]
fn bad_inputs_fail_with_clear_errors() {
    let scene = PlaneScene::new(1);
    let depth = &scene.depths[0];
    let dir = scene.dir.path();
    let cam = scene.camera(0, Form::Quaternion, None, "cam.toml");
    let k = scene.cameras[0];

    // Missing depth file.
    let missing = dir.join("nope.png");
    fails_with(
        &run(&scene, 0, &missing, &cam, &[]),
        &["--depth", "nope.png"],
    );

    // An 8-bit depth PNG.
    let d16 = robot::read_depth_png(depth).unwrap();
    let d8 = image::GrayImage::from_fn(k.width, k.height, |x, y| {
        Luma([(d16.get_pixel(x, y).0[0] / 16) as u8])
    });
    let d8_path = dir.join("depth8.png");
    d8.save(&d8_path).unwrap();
    fails_with(
        &run(&scene, 0, &d8_path, &cam, &[]),
        &["depth8.png", "16-bit"],
    );

    // fx = 0.
    let fx0 = edited(
        &cam,
        &format!("fx = {}", k.fx),
        "fx = 0.0",
        dir.join("fx0.toml"),
    );
    fails_with(
        &run(&scene, 0, depth, &fx0, &[]),
        &["fx0.toml", "fx must be positive"],
    );

    // Camera size ≠ image size.
    let size = edited(
        &cam,
        &format!("width = {}", k.width),
        "width = 4000",
        dir.join("size.toml"),
    );
    fails_with(
        &run(&scene, 0, depth, &size, &[]),
        &["camera", "4000x", "size.toml"],
    );

    // Depth size ≠ image size.
    let half_path = dir.join("half.png");
    let half: ImageBuffer<Luma<u16>, Vec<u16>> =
        ImageBuffer::from_pixel(k.width / 2, k.height / 2, Luma([1000]));
    half.save(&half_path).unwrap();
    fails_with(
        &run(&scene, 0, &half_path, &cam, &[]),
        &["aligned", "half.png"],
    );

    // All-zero depth: the model answers, then no depth is valid at its pixel.
    let zero_path = dir.join("zero.png");
    let zero: ImageBuffer<Luma<u16>, Vec<u16>> = ImageBuffer::new(k.width, k.height);
    zero.save(&zero_path).unwrap();
    fails_with(
        &run(&scene, 0, &zero_path, &cam, &[]),
        &["no valid depth at pixel", "5x5"],
    );

    // A typo in a key, a missing extrinsics table, an even window.
    let typo = edited(&cam, "quaternion_xyzw", "quaternion", dir.join("typo.toml"));
    fails_with(
        &run(&scene, 0, depth, &typo, &[]),
        &["typo.toml", "unknown field `quaternion`"],
    );
    let no_ext = edited(
        &cam,
        "[extrinsics]",
        "[not_extrinsics]",
        dir.join("noext.toml"),
    );
    fails_with(&run(&scene, 0, depth, &no_ext, &[]), &["noext.toml"]);
    fails_with(
        &run(&scene, 0, depth, &cam, &["--window", "4"]),
        &["window", "odd"],
    );
}

#[test]
fn an_answer_that_is_not_a_point_is_an_error() {
    // The fixture was trained on `ui` screens only: on a tabletop scene its greedy answer
    // is not well-formed (deterministic: greedy decoding of a committed package).
    let scenes = scenes(1, 11);
    let r = &scenes.records[0];
    let k = r.camera.unwrap();
    let cam = crate::util::write_camera(
        &k,
        &Pose::table(r),
        Form::Matrix,
        None,
        &scenes.dir.path().join("cam.toml"),
    );
    let out = command(&r.image, r.depth.as_ref().unwrap(), &cam, &r.instruction)
        .output()
        .unwrap();
    fails_with(&out, &["the model's answer", "gives no target point"]);
}
