//! Dataset records: one JSON object per line (JSONL), paths relative to the JSONL file.
//!
//! ```json
//! {"id":"ui-000001","image":"images/ui-000001.png","instruction":"click Save",
//!  "task":"click","target":{"box":[412,300,488,328]}}
//! ```
//!
//! The same format is written by the synthetic suites, by the agents' `--record`, and by the
//! importers in [`crate::import`]; the trainer reads it for SFT, GRPO and evaluation.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::camera::Intrinsics;
use crate::error::{Error, Result};
use crate::geometry::{BBox, Point};

/// What a record asks the model to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Point at a UI element (target: box).
    Click,
    /// Box every object of a kind (target: boxes).
    Detect,
    /// Point at what a referring expression names (target: mask or point).
    Refer,
    /// Name the image's class (target: label).
    Classify,
    /// Count objects (target: count).
    Count,
}

impl Task {
    pub const ALL: [Task; 5] = [
        Task::Click,
        Task::Detect,
        Task::Refer,
        Task::Classify,
        Task::Count,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            Task::Click => "click",
            Task::Detect => "detect",
            Task::Refer => "refer",
            Task::Classify => "classify",
            Task::Count => "count",
        }
    }
}

impl std::fmt::Display for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The ground truth of a record, in original image pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Box(BBox),
    Boxes(Vec<BBox>),
    Point(Point),
    /// A mask PNG, relative to the JSONL file (resolved to an absolute path when read).
    Mask(PathBuf),
    Label(String),
    Count(u32),
}

/// One dataset record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    /// The image, relative to the JSONL file on disk (absolute once read).
    pub image: PathBuf,
    /// Optional aligned 16-bit depth PNG.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub depth: Option<PathBuf>,
    /// Camera intrinsics for `depth`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera: Option<Intrinsics>,
    pub instruction: String,
    pub task: Task,
    pub target: Target,
    /// Reference reasoning for SFT with thinking.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cot: Option<String>,
    /// Free-form extra data (suite parameters, recorded actions, 3-D positions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Value>,
}

impl Record {
    /// Checks the invariants serde cannot: non-empty id, instruction and image, a target
    /// kind that fits the task, finite coordinates.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("empty `id`".into());
        }
        if self.instruction.trim().is_empty() {
            return Err(format!("record {}: empty `instruction`", self.id));
        }
        if self.image.as_os_str().is_empty() {
            return Err(format!("record {}: empty `image`", self.id));
        }
        let ok = matches!(
            (&self.task, &self.target),
            (
                Task::Click | Task::Refer,
                Target::Box(_) | Target::Point(_) | Target::Mask(_)
            ) | (Task::Detect, Target::Boxes(_) | Target::Box(_))
                | (Task::Classify, Target::Label(_))
                | (Task::Count, Target::Count(_))
        );
        if !ok {
            return Err(format!(
                "record {}: task `{}` cannot have a `{}` target",
                self.id,
                self.task,
                self.target.kind()
            ));
        }
        let finite = match &self.target {
            Target::Box(b) => b.is_finite(),
            Target::Boxes(bs) => bs.iter().all(BBox::is_finite),
            Target::Point(p) => p.is_finite(),
            _ => true,
        };
        if !finite {
            return Err(format!("record {}: non-finite target coordinates", self.id));
        }
        if let Some(cam) = &self.camera {
            cam.validate()
                .map_err(|e| format!("record {}: {e}", self.id))?;
        }
        Ok(())
    }

    /// Makes relative paths absolute against `root`.
    fn resolve(&mut self, root: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = root.join(&*p);
            }
        };
        abs(&mut self.image);
        if let Some(d) = &mut self.depth {
            abs(d);
        }
        if let Target::Mask(m) = &mut self.target {
            abs(m);
        }
    }

    /// Makes paths under `root` relative to it (for writing).
    fn relativize(&mut self, root: &Path) {
        let rel = |p: &mut PathBuf| {
            if let Ok(r) = p.strip_prefix(root) {
                *p = r.to_path_buf();
            }
        };
        rel(&mut self.image);
        if let Some(d) = &mut self.depth {
            rel(d);
        }
        if let Target::Mask(m) = &mut self.target {
            rel(m);
        }
    }
}

impl Target {
    /// The JSON key of this target kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Box(_) => "box",
            Target::Boxes(_) => "boxes",
            Target::Point(_) => "point",
            Target::Mask(_) => "mask",
            Target::Label(_) => "label",
            Target::Count(_) => "count",
        }
    }
}

/// Parses one JSONL line; `Ok(None)` for blank lines.
pub fn parse_line(line: &str) -> std::result::Result<Option<Record>, String> {
    if line.trim().is_empty() {
        return Ok(None);
    }
    let rec: Record = serde_json::from_str(line).map_err(|e| e.to_string())?;
    rec.validate()?;
    Ok(Some(rec))
}

/// Reads every record of a JSONL file, resolving paths against the file's folder. The
/// first malformed line is reported as `file:line: message`.
pub fn read_jsonl(path: &Path) -> Result<Vec<Record>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut out = Vec::new();
    for (idx, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::Record {
            path: path.to_path_buf(),
            line: idx + 1,
            message: e.to_string(),
        })?;
        match parse_line(&line) {
            Ok(Some(mut rec)) => {
                rec.resolve(&root);
                out.push(rec);
            }
            Ok(None) => {}
            Err(message) => {
                return Err(Error::Record {
                    path: path.to_path_buf(),
                    line: idx + 1,
                    message,
                })
            }
        }
    }
    Ok(out)
}

/// Reads a dataset given as a JSONL file or a folder holding `data.jsonl`.
pub fn read_dataset(path: &Path) -> Result<Vec<Record>> {
    if path.is_dir() {
        let file = path.join(DATA_FILE);
        if !file.exists() {
            return Err(Error::io(
                &file,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "dataset folder has no data.jsonl",
                ),
            ));
        }
        read_jsonl(&file)
    } else {
        read_jsonl(path)
    }
}

/// The JSONL file name inside a dataset folder.
pub const DATA_FILE: &str = "data.jsonl";

/// Appends records to a JSONL file, writing paths relative to the file's folder.
///
/// Each record is one `write` of a full line followed by a flush, so a crash leaves at
/// most a partial last line (which the reader reports with its line number).
#[derive(Debug)]
pub struct JsonlWriter {
    path: PathBuf,
    root: PathBuf,
    out: BufWriter<File>,
}

impl JsonlWriter {
    /// Opens `path` for appending, creating it and its folder if needed.
    pub fn append(path: &Path) -> Result<Self> {
        let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
        if !root.as_os_str().is_empty() {
            fs::create_dir_all(&root).map_err(|e| Error::io(&root, e))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        Ok(Self {
            path: path.to_path_buf(),
            root,
            out: BufWriter::new(file),
        })
    }

    /// Validates and appends one record.
    pub fn write(&mut self, record: &Record) -> Result<()> {
        record.validate().map_err(|m| Error::invalid("record", m))?;
        let mut rec = record.clone();
        rec.relativize(&self.root);
        let mut line = serde_json::to_string(&rec)?;
        line.push('\n');
        self.out
            .write_all(line.as_bytes())
            .and_then(|()| self.out.flush())
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// Writes a whole JSONL file atomically (temporary file, then rename).
pub fn write_jsonl(path: &Path, records: &[Record]) -> Result<()> {
    let root = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let mut buf = String::new();
    for r in records {
        r.validate().map_err(|m| Error::invalid("record", m))?;
        let mut rec = r.clone();
        rec.relativize(&root);
        buf.push_str(&serde_json::to_string(&rec)?);
        buf.push('\n');
    }
    crate::fsutil::write_atomic(path, buf.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Record {
            id: "a1".into(),
            image: "images/a1.png".into(),
            depth: None,
            camera: None,
            instruction: "click Save".into(),
            task: Task::Click,
            target: Target::Box(BBox::new(1.0, 2.0, 30.0, 40.0)),
            cot: None,
            meta: None,
        }
    }

    #[test]
    fn json_shape_is_the_documented_one() {
        let json = serde_json::to_string(&sample()).unwrap();
        assert_eq!(
            json,
            r#"{"id":"a1","image":"images/a1.png","instruction":"click Save","task":"click","target":{"box":[1.0,2.0,30.0,40.0]}}"#
        );
    }

    #[test]
    fn round_trip_resolves_paths_relative_to_file() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("sub/data.jsonl");
        let mut w = JsonlWriter::append(&path)?;
        let mut rec = sample();
        rec.image = dir.path().join("sub/images/a1.png");
        w.write(&rec)?;
        drop(w);
        let text = fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        assert!(text.contains(r#""image":"images/a1.png""#), "{text}");
        let back = read_dataset(&dir.path().join("sub"))?;
        assert_eq!(back, vec![rec]);
        Ok(())
    }

    #[test]
    fn malformed_line_names_file_and_line() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let path = dir.path().join("d.jsonl");
        let good = serde_json::to_string(&sample())?;
        let cases = [
            (format!("{good}\n\n{{\"id\": 3}}\n"), 3, "invalid type"),
            (
                format!("{good}\n{}\n", good.replace("\"click\"", "\"jump\"")),
                2,
                "unknown variant",
            ),
            (good.replace("\"box\"", "\"label\""), 1, "invalid type"),
            (
                good.replace(r#"{"box":[1.0,2.0,30.0,40.0]}"#, r#"{"count":3}"#),
                1,
                "cannot have a `count` target",
            ),
            (good.replace("click Save", " "), 1, "empty `instruction`"),
        ];
        for (text, line, needle) in cases {
            fs::write(&path, text).map_err(|e| Error::io(&path, e))?;
            let err = read_jsonl(&path).unwrap_err().to_string();
            let prefix = format!("{}:{line}: ", path.display());
            assert!(err.starts_with(&prefix), "{err}");
            assert!(err.contains(needle), "{err}");
        }
        Ok(())
    }
}
