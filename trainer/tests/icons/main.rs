//! `reticle-train icons` end to end on drawn sheets: three shapes (a cross, a bar, a hollow
//! square) and "other" (a filled dot) in random sizes, colours and themes; training lifts
//! held-out accuracy above 90 %, the exported `icons.onnx` passes `onnx.checker` and gives
//! tch's probabilities under ONNX Runtime (≤ 1e-4), and a rerun reuses the trained stage.

use std::path::Path;
use std::process::Command;

use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use reticle_trainer::icons::command::{run, IconsJob, STAGE_FILE};
use reticle_trainer::icons::IconTrainConfig;

const CELL: u32 = 52;
const GRID: u32 = 8;
const LABELS: [&str; 4] = ["close", "minus", "maximize", "other"];

/// Writes a sheet folder: `sheets` images of 8 × 8 cells, each a random shape.
fn sheets(dir: &Path, sheets: usize, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    std::fs::create_dir_all(dir.join("images"))?;
    let classes = serde_json::json!([
        {"key": "close", "names": ["close", "x"]},
        {"key": "minus", "names": ["minimise", "minus"]},
        {"key": "maximize", "names": ["maximise"]},
    ]);
    std::fs::write(dir.join("classes.json"), classes.to_string())?;
    let mut lines = String::new();
    for s in 0..sheets {
        let mut img = RgbImage::new(CELL * GRID, CELL * GRID);
        let image = format!("images/sheet-{s}.png");
        for c in 0..GRID * GRID {
            let (cx, cy) = ((c % GRID) * CELL, (c / GRID) * CELL);
            let dark = rng.gen_bool(0.5);
            let bg = if dark {
                rng.gen_range(0..60u8)
            } else {
                rng.gen_range(190..=255u8)
            };
            let fg = [0, 1, 2].map(|_| {
                if dark {
                    rng.gen_range(170..=255u8)
                } else {
                    rng.gen_range(0..90u8)
                }
            });
            for y in cy..cy + CELL {
                for x in cx..cx + CELL {
                    img.put_pixel(x, y, Rgb([bg; 3]));
                }
            }
            let size = rng.gen_range(12..=28u32);
            let (x0, y0) = (
                cx + rng.gen_range(4..CELL - size - 2),
                cy + rng.gen_range(4..CELL - size - 2),
            );
            let label = LABELS[rng.gen_range(0..LABELS.len())];
            let t = (size / 8).max(2);
            for dy in 0..size {
                for dx in 0..size {
                    let on = match label {
                        "close" => dx.abs_diff(dy) < t || (size - 1 - dx).abs_diff(dy) < t,
                        "minus" => dy.abs_diff(size / 2) < t,
                        "maximize" => dx < t || dy < t || dx >= size - t || dy >= size - t,
                        _ => {
                            let r = size as f64 / 2.0;
                            (dx as f64 - r).hypot(dy as f64 - r) < r * 0.8
                        }
                    };
                    if on {
                        img.put_pixel(x0 + dx, y0 + dy, Rgb(fg));
                    }
                }
            }
            lines.push_str(
                &serde_json::json!({
                    "image": image, "box": [x0, y0, x0 + size, y0 + size],
                    "cell": [cx, cy, cx + CELL, cy + CELL], "label": label,
                    "set": "drawn", "file": ""
                })
                .to_string(),
            );
            lines.push('\n');
        }
        img.save(dir.join(&image))?;
    }
    std::fs::write(dir.join("icons.jsonl"), lines)?;
    Ok(())
}

const CHECK: &str = r#"
import json, sys
import numpy as np, onnx, onnxruntime as ort
out = sys.argv[1]
onnx.checker.check_model(onnx.load(f"{out}/icons.onnx"), full_check=True)
p = json.load(open(f"{out}/icons-parity.json"))
s = ort.InferenceSession(f"{out}/icons.onnx", providers=["CPUExecutionProvider"])
x = np.array(p["crops"], dtype=np.float32).reshape(-1, 1, 32, 32)
got = s.run(["probs"], {"crops": x})[0]
print(float(np.abs(got - np.array(p["probs"], dtype=np.float32)).max()))
"#;

#[test]
fn training_names_drawn_icons_and_the_graph_matches_tch() {
    let dir = tempfile::tempdir().unwrap();
    let (train, eval, out) = (
        dir.path().join("train"),
        dir.path().join("eval"),
        dir.path().join("out"),
    );
    sheets(&train, 3, 1).unwrap();
    sheets(&eval, 1, 2).unwrap();
    let config = IconTrainConfig {
        steps: 150,
        batch_size: 64,
        ..IconTrainConfig::default()
    };
    let job = IconsJob {
        data: Some(train),
        eval: Some(eval),
        out: out.clone(),
        config,
        install: vec![],
    };
    let stage = run(&job, tch::Device::Cpu).unwrap();
    assert_eq!(stage.classes.len(), 3);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("eval.json")).unwrap()).unwrap();
    let top1 = report["top1"].as_f64().unwrap();
    assert!(top1 > 0.9, "held-out top-1 {top1}: {report}");
    assert!(out.join(STAGE_FILE).is_file() && out.join("icons.onnx").is_file());

    let python = reticle_trainer::export::parity::tools_python().unwrap();
    let o = Command::new(python)
        .arg("-c")
        .arg(CHECK)
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let diff: f64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert!(diff <= 1e-4, "ONNX Runtime differs from tch by {diff}");

    // A rerun finds the stage and does not train (no data needed).
    let again = IconsJob {
        data: None,
        eval: None,
        ..job
    };
    assert_eq!(run(&again, tch::Device::Cpu).unwrap(), stage);
    // Without a stage and without data: an error that says what is needed.
    let empty = IconsJob {
        out: dir.path().join("nothing"),
        ..again
    };
    let err = run(&empty, tch::Device::Cpu).unwrap_err().to_string();
    assert!(err.contains("--data and --eval"), "{err}");
}
