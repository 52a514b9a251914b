//! The geometric pipeline (`robot::locate`) against the `spatial` suite's ground truth.

use reticle_agents::robot::{self, CameraModel, ReferOptions};

use crate::util::{dist, scenes, write_camera, Form, Pose};

/// The bound on deprojection error.
const TOLERANCE_M: f64 = 0.005;

#[test]
fn true_pixels_deproject_within_5_mm_of_the_true_points_in_camera_and_base_frames() {
    let scenes = scenes(16, 5);
    let mut worst_cam: f64 = 0.0;
    let mut worst_base: f64 = 0.0;
    let mut n_objects = 0;
    for r in &scenes.records {
        let depth = robot::read_depth_png(r.depth.as_ref().unwrap()).unwrap();
        let frame = Pose::table(r);
        let k = r.camera.unwrap();
        let cameras = [Form::Matrix, Form::Quaternion].map(|form| {
            let path = scenes.dir.path().join(format!("{}-{form:?}.toml", r.id));
            CameraModel::from_path(&write_camera(&k, &frame, form, None, &path)).unwrap()
        });
        let meta = r.meta.as_ref().unwrap();
        for o in meta["objects"].as_array().unwrap() {
            let p: [u32; 2] = serde_json::from_value(o["pixel"].clone()).unwrap();
            let truth: [f64; 3] = serde_json::from_value(o["surface_point"].clone()).unwrap();
            // The suite's pixel (u, v) is seen by the ray through its centre.
            let pixel = [f64::from(p[0]) + 0.5, f64::from(p[1]) + 0.5];
            let [by_matrix, by_quaternion] = cameras
                .each_ref()
                .map(|c| robot::locate(c, &depth, pixel, &ReferOptions::default()).unwrap());
            assert!(
                dist(by_matrix.xyz_m, by_quaternion.xyz_m) < 1e-9,
                "{}: matrix {:?} vs quaternion {:?}",
                r.id,
                by_matrix.xyz_m,
                by_quaternion.xyz_m
            );
            let e_cam = dist(by_matrix.camera_xyz_m, truth);
            let e_base = dist(by_matrix.xyz_m, frame.to_base(truth));
            assert!(
                e_cam < TOLERANCE_M && e_base < TOLERANCE_M,
                "{} object at {p:?}: {:.2} mm off in the camera frame, {:.2} mm in the base frame",
                r.id,
                e_cam * 1e3,
                e_base * 1e3
            );
            // The base frame is physical: objects rest on the table (z = 0 up to ~0.2 m),
            // in front of the camera.
            let [x, _, z] = by_matrix.xyz_m;
            assert!(
                (-0.01..0.25).contains(&z),
                "{}: object at height {z} m",
                r.id
            );
            assert!(x > 0.0, "{}: object behind the camera ({x} m)", r.id);
            assert_eq!(by_matrix.frame_id, "table");
            worst_cam = worst_cam.max(e_cam);
            worst_base = worst_base.max(e_base);
            n_objects += 1;
        }
    }
    assert!(n_objects >= 16 * 2, "only {n_objects} objects");
    eprintln!(
        "{n_objects} objects in 16 scenes: worst error {:.3} mm (camera frame), {:.3} mm (base frame)",
        worst_cam * 1e3,
        worst_base * 1e3
    );
}

#[test]
fn a_single_pixel_window_reproduces_the_suites_own_deprojection_to_a_millimetre() {
    // Window 1 reads exactly the depth the suite stored (rounded to 1 mm along z).
    let scenes = scenes(4, 9);
    let opts = ReferOptions {
        window: 1,
        ..ReferOptions::default()
    };
    for r in &scenes.records {
        let depth = robot::read_depth_png(r.depth.as_ref().unwrap()).unwrap();
        let camera = CameraModel::from_intrinsics(&r.camera.unwrap());
        for o in r.meta.as_ref().unwrap()["objects"].as_array().unwrap() {
            let p: [u32; 2] = serde_json::from_value(o["pixel"].clone()).unwrap();
            let truth: [f64; 3] = serde_json::from_value(o["surface_point"].clone()).unwrap();
            let pixel = [f64::from(p[0]) + 0.5, f64::from(p[1]) + 0.5];
            let loc = robot::locate(&camera, &depth, pixel, &opts).unwrap();
            // Identity extrinsics: the base frame is the camera frame.
            assert_eq!(loc.xyz_m, loc.camera_xyz_m);
            let e = dist(loc.camera_xyz_m, truth);
            // Depth is rounded to 0.5 mm along z, i.e. up to ~0.6 mm along an oblique ray.
            assert!(e < 0.0007, "{}: {:.3} mm", r.id, e * 1e3);
        }
    }
}
