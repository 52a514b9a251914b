//! `--record DIR`: every step becomes a dataset record that `reticle-train` reads.
//!
//! `DIR/data.jsonl` gets one `click` record per grounded step (the screenshot in
//! `DIR/images/<id>.png`, the instruction, and as target a small box around the point the
//! model chose: there is no ground truth at run time, so `meta.label` is `"predicted"`), with
//! the raw model output, the action, the outcome and the monitor geometry in `meta`. Steps
//! whose answer gave no point cannot be dataset records (a click record needs a target); they
//! are appended to `DIR/unparsed.jsonl` with the same fields so nothing is lost.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use image::RgbaImage;
use reticle_models::dataset::{JsonlWriter, Record, Target, Task};
use reticle_models::geometry::{BBox, Point};

use super::error::{Error, Result};

/// Half the side of the box recorded around a predicted point, in image pixels.
pub const TARGET_HALF_SIDE: f64 = 8.0;

/// Appends steps to a recording folder.
#[derive(Debug)]
pub struct Recorder {
    dir: PathBuf,
    data: JsonlWriter,
    run_id: String,
}

/// What the recorder needs from a step.
#[derive(Debug)]
pub struct StepRecord<'a> {
    pub step: usize,
    pub image: &'a RgbaImage,
    pub instruction: &'a str,
    /// The grounded point in image pixels, if the answer gave one.
    pub point: Option<Point>,
    /// Everything else, stored under `meta` (raw output, action, outcome, monitor, …).
    pub meta: serde_json::Value,
}

impl Recorder {
    /// Opens (creating if needed) `dir` for appending.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir.join("images"))
            .map_err(|e| reticle_models::Error::io(dir.join("images"), e))?;
        let data = JsonlWriter::append(&dir.join(reticle_models::dataset::DATA_FILE))?;
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        Ok(Self {
            dir: dir.to_path_buf(),
            data,
            run_id: format!("desktop-{ms}"),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes the screenshot and appends the record; returns the record id.
    pub fn write(&mut self, step: &StepRecord<'_>) -> Result<String> {
        let id = format!("{}-{:03}", self.run_id, step.step);
        let image_path = self.dir.join("images").join(format!("{id}.png"));
        let mut bytes = Vec::new();
        step.image
            .write_to(
                &mut std::io::Cursor::new(&mut bytes),
                image::ImageFormat::Png,
            )
            .map_err(|e| Error::Record(format!("encoding {}: {e}", image_path.display())))?;
        reticle_models::fsutil::write_atomic(&image_path, &bytes)?;
        let (w, h) = (
            f64::from(step.image.width()),
            f64::from(step.image.height()),
        );
        match step.point {
            Some(p) => {
                let r = TARGET_HALF_SIDE;
                let target = BBox::new(
                    (p.x - r).max(0.0),
                    (p.y - r).max(0.0),
                    (p.x + r).min(w),
                    (p.y + r).min(h),
                );
                let record = Record {
                    id: id.clone(),
                    image: image_path,
                    depth: None,
                    camera: None,
                    instruction: step.instruction.to_string(),
                    task: Task::Click,
                    target: Target::Box(target),
                    cot: None,
                    meta: Some(step.meta.clone()),
                };
                self.data.write(&record)?;
            }
            None => {
                let path = self.dir.join("unparsed.jsonl");
                let line = serde_json::json!({
                    "id": id,
                    "image": format!("images/{id}.png"),
                    "instruction": step.instruction,
                    "meta": step.meta,
                });
                append_line(&path, &line)?;
            }
        }
        tracing::info!(id = %id, dir = %self.dir.display(), "step recorded");
        Ok(id)
    }
}

fn append_line(path: &Path, v: &serde_json::Value) -> Result<()> {
    use std::io::Write as _;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| reticle_models::Error::io(path, e))?;
    let mut line = v.to_string();
    line.push('\n');
    f.write_all(line.as_bytes())
        .map_err(|e| reticle_models::Error::io(path, e).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reticle_models::dataset::read_dataset;

    #[test]
    fn records_read_back_as_a_dataset_and_unparsed_steps_go_aside() {
        let dir = tempfile::tempdir().unwrap();
        let image = RgbaImage::from_pixel(40, 30, image::Rgba([1, 2, 3, 255]));
        let mut rec = Recorder::open(dir.path()).unwrap();
        let id = rec
            .write(&StepRecord {
                step: 0,
                image: &image,
                instruction: "click OK",
                point: Some(Point::new(35.0, 5.0)),
                meta: serde_json::json!({"outcome": "clicked"}),
            })
            .unwrap();
        rec.write(&StepRecord {
            step: 1,
            image: &image,
            instruction: "click Nothing",
            point: None,
            meta: serde_json::json!({"outcome": "refused"}),
        })
        .unwrap();
        let records = read_dataset(dir.path()).unwrap();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(r.id, id);
        assert_eq!(r.target, Target::Box(BBox::new(27.0, 0.0, 40.0, 13.0)));
        assert_eq!(image::image_dimensions(&r.image).unwrap(), (40, 30));
        assert_eq!(r.meta.as_ref().unwrap()["outcome"], "clicked");
        let unparsed = std::fs::read_to_string(dir.path().join("unparsed.jsonl")).unwrap();
        assert!(unparsed.contains("click Nothing"), "{unparsed}");
        assert!(dir.path().join(format!("images/{id}.png")).exists());
    }
}
