//! Checking a dataset before it costs a training run or an evaluation: every problem of
//! every record, not just the first, each named by `file:line`, record id and field.
//!
//! Beyond what reading a record checks (JSON shape, unknown fields, a target kind that fits
//! the task, finite coordinates, inverted boxes), [`check_dataset`] reads the header of
//! every image, depth image and mask the records name (no pixel is decoded) and checks:
//! - each file exists and is a decodable PNG or JPEG;
//! - boxes and points lie inside their image;
//! - a mask and a depth image have the size of their image;
//! - ids are unique within the file.

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::dataset::{Record, Target, DATA_FILE};
use crate::error::{Error, Result};
use crate::geometry::{BBox, Point};

/// Every top-level field a record may have.
pub const RECORD_FIELDS: [&str; 9] = [
    "id",
    "image",
    "depth",
    "camera",
    "instruction",
    "task",
    "target",
    "cot",
    "meta",
];

/// One thing wrong with one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    /// The record's id, when the line has one.
    pub id: Option<String>,
    /// The field at fault (`target.box`, `mask`, `image`, …; `line` when the line is not a
    /// JSON object).
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file.display(), self.line)?;
        if let Some(id) = &self.id {
            write!(f, "record {id}: ")?;
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A record that parsed, with where it came from (paths resolved against its file).
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub file: PathBuf,
    pub line: usize,
    pub record: Record,
}

/// What [`check_dataset`] found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// The records that parsed (those with problems in their files included).
    pub records: Vec<Located>,
    /// Every problem, in file and line order.
    pub problems: Vec<Problem>,
}

impl CheckReport {
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The JSONL file of a dataset given as a folder (holding `data.jsonl`) or a file.
pub fn dataset_file(path: &Path) -> Result<PathBuf> {
    if path.is_dir() {
        let file = path.join(DATA_FILE);
        if !file.is_file() {
            return Err(Error::io(
                &file,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "dataset folder has no data.jsonl",
                ),
            ));
        }
        Ok(file)
    } else {
        Ok(path.to_path_buf())
    }
}

/// Checks every record of a dataset (a folder holding `data.jsonl`, or a JSONL file).
/// Fails only when the JSONL file itself cannot be read; everything wrong inside it is a
/// [`Problem`] of the report.
pub fn check_dataset(path: &Path) -> Result<CheckReport> {
    let file = dataset_file(path)?;
    let root = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let reader = BufReader::new(File::open(&file).map_err(|e| Error::io(&file, e))?);
    let mut report = CheckReport::default();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (idx, line) in reader.lines().enumerate() {
        let line_no = idx + 1;
        let line = line.map_err(|e| Error::Record {
            path: file.clone(),
            line: line_no,
            message: e.to_string(),
        })?;
        if line.trim().is_empty() {
            continue;
        }
        let mut problem = |id: Option<&str>, field: &str, message: String| {
            report.problems.push(Problem {
                file: file.clone(),
                line: line_no,
                id: id.map(str::to_string),
                field: field.to_string(),
                message,
            })
        };
        let Some(mut record) = parse(&line, &mut problem) else {
            continue;
        };
        if let Some(first) = first_line.get(&record.id) {
            problem(
                Some(&record.id),
                "id",
                format!("duplicate id (first used on line {first})"),
            );
        } else {
            first_line.insert(record.id.clone(), line_no);
        }
        record.resolve(&root);
        check_files(&record, &mut |field, message| {
            problem(Some(&record.id), field, message)
        });
        report.records.push(Located {
            file: file.clone(),
            line: line_no,
            record,
        });
    }
    Ok(report)
}

/// Parses one line into a record, reporting each field that does not fit.
fn parse(line: &str, problem: &mut dyn FnMut(Option<&str>, &str, String)) -> Option<Record> {
    let value: Value = match serde_json::from_str(line) {
        Ok(v) => v,
        Err(e) => {
            problem(None, "line", format!("not JSON: {e}"));
            return None;
        }
    };
    let Some(object) = value.as_object() else {
        problem(None, "line", "not a JSON object".into());
        return None;
    };
    let id_owned = object.get("id").and_then(Value::as_str).map(str::to_string);
    let id = id_owned.as_deref();
    let mut bad = false;
    for key in object.keys() {
        if !RECORD_FIELDS.contains(&key.as_str()) {
            problem(
                id,
                key,
                format!("unknown field (a record has {})", RECORD_FIELDS.join(", ")),
            );
            bad = true;
        }
    }
    // Each known field on its own, so that a problem names its field.
    for (key, v) in object {
        let v = v.clone();
        let err = match key.as_str() {
            "id" | "instruction" => serde_json::from_value::<String>(v).err(),
            "image" => serde_json::from_value::<PathBuf>(v).err(),
            "depth" => serde_json::from_value::<Option<PathBuf>>(v).err(),
            "camera" => serde_json::from_value::<Option<crate::camera::Intrinsics>>(v).err(),
            "task" => serde_json::from_value::<crate::dataset::Task>(v).err(),
            "target" => serde_json::from_value::<Target>(v).err(),
            "cot" => serde_json::from_value::<Option<String>>(v).err(),
            _ => None,
        };
        if let Some(e) = err {
            problem(id, key, e.to_string());
            bad = true;
        }
    }
    for key in ["id", "image", "instruction", "task", "target"] {
        if !object.contains_key(key) {
            problem(id, key, "missing field".into());
            bad = true;
        }
    }
    if bad {
        return None;
    }
    let record: Record = match serde_json::from_value(value) {
        Ok(r) => r,
        Err(e) => {
            problem(id, "record", e.to_string());
            return None;
        }
    };
    if let Err(message) = record.validate() {
        // `validate` names the record itself; keep only what is wrong.
        let prefix = format!("record {}: ", record.id);
        let message = message
            .strip_prefix(&prefix)
            .unwrap_or(&message)
            .to_string();
        problem(id, "record", message);
        return None;
    }
    Some(record)
}

/// Checks the files a (resolved) record names and its coordinates against its image.
fn check_files(record: &Record, problem: &mut dyn FnMut(&str, String)) {
    let header = |path: &Path| -> std::result::Result<(u32, u32), String> {
        if !path.is_file() {
            return Err(format!("{} does not exist", path.display()));
        }
        crate::imageio::open_dimensions(path).map_err(|e| e.to_string())
    };
    let size = match header(&record.image) {
        Ok(s) => Some(s),
        Err(m) => {
            problem("image", m);
            None
        }
    };
    let same_size = |what: &str, (w, h): (u32, u32)| match size {
        Some((iw, ih)) if (iw, ih) != (w, h) => {
            Some(format!("{what} is {w}x{h} but the image is {iw}x{ih}"))
        }
        _ => None,
    };
    if let Some(d) = &record.depth {
        match header(d) {
            Ok(s) => {
                if let Some(m) = same_size("depth image", s) {
                    problem("depth", m);
                }
            }
            Err(m) => problem("depth", m),
        }
    }
    if let (Some(k), Some((iw, ih))) = (&record.camera, size) {
        if (k.width, k.height) != (iw, ih) {
            problem(
                "camera",
                format!(
                    "intrinsics are for {}x{} but the image is {iw}x{ih}",
                    k.width, k.height
                ),
            );
        }
    }
    let Some((w, h)) = size else {
        if let Target::Mask(m) = &record.target {
            if let Err(msg) = header(m) {
                problem("target.mask", msg);
            }
        }
        return;
    };
    let (w, h) = (f64::from(w), f64::from(h));
    let inside_box = |b: &BBox| b.x1 >= 0.0 && b.y1 >= 0.0 && b.x2 <= w && b.y2 <= h;
    let inside_point = |p: &Point| p.x >= 0.0 && p.y >= 0.0 && p.x <= w && p.y <= h;
    let outside = |what: String| format!("{what} lies outside the {w}x{h} image");
    match &record.target {
        Target::Box(b) if !inside_box(b) => problem(
            "target.box",
            outside(format!("box [{}, {}, {}, {}]", b.x1, b.y1, b.x2, b.y2)),
        ),
        Target::Boxes(bs) => {
            for (i, b) in bs.iter().enumerate() {
                if !inside_box(b) {
                    problem(
                        &format!("target.boxes[{i}]"),
                        outside(format!("box [{}, {}, {}, {}]", b.x1, b.y1, b.x2, b.y2)),
                    );
                }
            }
        }
        Target::Point(p) if !inside_point(p) => {
            problem("target.point", outside(format!("point [{}, {}]", p.x, p.y)))
        }
        Target::Mask(m) => match header(m) {
            Ok(s) => {
                if let Some(msg) = same_size("mask", s) {
                    problem("target.mask", msg);
                }
            }
            Err(msg) => problem("target.mask", msg),
        },
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(path: &Path, w: u32, h: u32) {
        image::GrayImage::new(w, h).save(path).unwrap();
    }

    /// `check(lines, expected)`: every expected `(line, id, field, needle)` is reported and
    /// nothing else.
    fn check(lines: &[&str], expected: &[(usize, Option<&str>, &str, &str)]) {
        let dir = tempfile::tempdir().unwrap();
        png(&dir.path().join("a.png"), 100, 50);
        png(&dir.path().join("m.png"), 100, 50);
        png(&dir.path().join("small.png"), 10, 5);
        std::fs::write(dir.path().join("junk.png"), b"not an image").unwrap();
        let file = dir.path().join("data.jsonl");
        std::fs::write(&file, lines.join("\n")).unwrap();
        let report = check_dataset(dir.path()).unwrap();
        let got: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
        assert_eq!(report.problems.len(), expected.len(), "{got:#?}");
        for (p, (line, id, field, needle)) in report.problems.iter().zip(expected) {
            assert_eq!(p.line, *line, "{p}");
            assert_eq!(p.id.as_deref(), *id, "{p}");
            assert_eq!(p.field, *field, "{p}");
            assert!(p.message.contains(needle), "{p}");
            assert!(p
                .to_string()
                .starts_with(&format!("{}:{line}: ", file.display())));
        }
    }

    const OK: &str = r#"{"id":"ok","image":"a.png","instruction":"click Save","task":"click","target":{"box":[1,2,30,40]}}"#;

    #[test]
    fn a_good_record_has_no_problem() {
        check(&[OK], &[]);
        check(
            &[&OK.replace(r#"{"box":[1,2,30,40]}"#, r#"{"mask":"m.png"}"#)],
            &[],
        );
    }

    #[test]
    fn every_problem_is_reported_with_line_id_and_field() {
        let r = |id: &str, target: &str| {
            OK.replace("\"ok\"", &format!("\"{id}\""))
                .replace(r#"{"box":[1,2,30,40]}"#, target)
        };
        let lines = [
            r("inv", r#"{"box":[30,40,1,2]}"#),
            r("out", r#"{"box":[1,2,130,40]}"#),
            r("pt", r#"{"point":[-1,2]}"#),
            r("mask", r#"{"mask":"small.png"}"#),
            r("junkmask", r#"{"mask":"junk.png"}"#),
            OK.to_string(),
            OK.to_string(),
            OK.replace("\"ok\"", "\"extra\"")
                .replace("\"task\"", "\"labels\":1,\"task\""),
            r("two", r#"{"box":[1,2,3,4],"label_box":[1,2,3,4]}"#),
            OK.replace("\"ok\"", "\"img\"").replace("a.png", "junk.png"),
            OK.replace("\"ok\"", "\"gone\"")
                .replace("a.png", "missing.png"),
            "{not json".to_string(),
            OK.replace("\"ok\"", "\"dets\"")
                .replace("\"click\"", "\"detect\"")
                .replace(
                    r#"{"box":[1,2,30,40]}"#,
                    r#"{"boxes":[[1,2,3,4],[0,0,101,5]]}"#,
                ),
        ];
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        check(
            &lines,
            &[
                (1, Some("inv"), "target", "target.box: box [30, 40, 1, 2] is inverted"),
                (2, Some("out"), "target.box", "lies outside the 100x50 image"),
                (3, Some("pt"), "target.point", "lies outside the 100x50 image"),
                (4, Some("mask"), "target.mask", "mask is 10x5 but the image is 100x50"),
                (5, Some("junkmask"), "target.mask", "not a readable PNG/JPEG image"),
                (7, Some("ok"), "id", "duplicate id (first used on line 6)"),
                (8, Some("extra"), "labels", "unknown field"),
                (
                    9,
                    Some("two"),
                    "target",
                    "target must have exactly one of box, boxes, point, mask, label, count; got box, label_box",
                ),
                (10, Some("img"), "image", "not a readable PNG/JPEG image"),
                (11, Some("gone"), "image", "missing.png does not exist"),
                (12, None, "line", "not JSON"),
                (13, Some("dets"), "target.boxes[1]", "lies outside"),
            ],
        );
    }
}
