//! The camera files in `examples/robot` parse, agree with each other, and fit the scene they
//! describe.

use std::path::{Path, PathBuf};

use nalgebra::{Point3, Vector3};
use reticle_agents::robot::{self, CameraModel, ReferOptions};

use crate::util::{dist, scenes, Pose};

fn example(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/robot")
        .join(name)
}

#[test]
fn toml_and_json_examples_are_the_same_camera_and_fit_the_spatial_demo_scene() {
    let toml = CameraModel::from_path(&example("camera.toml")).unwrap();
    let json = CameraModel::from_path(&example("camera.json")).unwrap();
    let (a, b) = (
        toml.camera_to_base().unwrap(),
        json.camera_to_base().unwrap(),
    );
    assert!((a.to_homogeneous() - b.to_homogeneous()).amax() < 1e-8);
    assert_eq!(
        (toml.fx, toml.cx, toml.width),
        (json.fx, json.cx, json.width)
    );
    assert_eq!(toml.workspace, json.workspace);

    // `reticle data gen --suite spatial --n 1 --seed 0`: the scene the example describes.
    let scenes = scenes(1, 0);
    let r = &scenes.records[0];
    let k = r.camera.unwrap();
    assert_eq!(
        (toml.fx, toml.fy, toml.cx, toml.cy, toml.width, toml.height),
        (k.fx, k.fy, k.cx, k.cy, k.width, k.height)
    );
    let pose = Pose::table(r);
    let depth = robot::read_depth_png(r.depth.as_ref().unwrap()).unwrap();
    for o in r.meta.as_ref().unwrap()["objects"].as_array().unwrap() {
        let p: [u32; 2] = serde_json::from_value(o["pixel"].clone()).unwrap();
        let truth: [f64; 3] = serde_json::from_value(o["surface_point"].clone()).unwrap();
        let pixel = [f64::from(p[0]) + 0.5, f64::from(p[1]) + 0.5];
        // Default options: outside the workspace would be an error.
        let loc = robot::locate(&toml, &depth, pixel, &ReferOptions::default()).unwrap();
        assert!(loc.within_workspace);
        let e = dist(loc.xyz_m, pose.to_base(truth));
        assert!(e < 0.005, "{:.2} mm", e * 1e3);
    }
}

#[test]
fn the_opencv_example_puts_the_camera_behind_the_base_looking_down() {
    let c = CameraModel::from_path(&example("camera-opencv.toml")).unwrap();
    assert!(c.lens().is_some());
    assert_eq!(c.frame_id, "base_link");
    // OpenCV's cx is measured from the first pixel's centre: +0.5 in reticle's convention.
    assert_eq!(c.principal_point(), [324.3, 238.6]);
    let iso = c.camera_to_base().unwrap();
    let origin = iso * Point3::origin();
    assert!(
        (origin - Point3::new(-0.5, 0.0, 0.6)).norm() < 1e-9,
        "{origin}"
    );
    // The optical axis points forward and 45° down; image right is the robot's right (−y).
    let h = std::f64::consts::FRAC_1_SQRT_2;
    let axis = iso.rotation * Vector3::z();
    assert!((axis - Vector3::new(h, 0.0, -h)).norm() < 1e-8, "{axis}");
    let right = iso.rotation * Vector3::x();
    assert!(
        (right - Vector3::new(0.0, -1.0, 0.0)).norm() < 1e-8,
        "{right}"
    );
}
