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
///
/// Written as an object with exactly one key ([`Target::KINDS`]); anything else is refused
/// naming the keys found (extra data about a record belongs in its `meta`).
#[derive(Debug, Clone, PartialEq, Serialize)]
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

impl<'de> Deserialize<'de> for Target {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        use serde::de::Error as _;
        let map = serde_json::Map::<String, serde_json::Value>::deserialize(d)?;
        let (key, value) = match map.iter().next() {
            Some((k, v)) if map.len() == 1 && Target::KINDS.contains(&k.as_str()) => {
                (k.as_str(), v.clone())
            }
            _ => {
                let got = if map.is_empty() {
                    "no key".to_string()
                } else {
                    map.keys()
                        .map(String::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(D::Error::custom(format!(
                    "target must have exactly one of {}; got {got} (put other data in `meta`)",
                    Target::KINDS.join(", ")
                )));
            }
        };
        let field = |e: serde_json::Error| D::Error::custom(format!("target.{key}: {e}"));
        Ok(match key {
            "box" => Target::Box(
                stored_box(serde_json::from_value(value).map_err(field)?)
                    .map_err(|m| D::Error::custom(format!("target.box: {m}")))?,
            ),
            "boxes" => {
                let raw: Vec<[f64; 4]> = serde_json::from_value(value).map_err(field)?;
                let mut boxes = Vec::with_capacity(raw.len());
                for (i, b) in raw.into_iter().enumerate() {
                    boxes.push(
                        stored_box(b)
                            .map_err(|m| D::Error::custom(format!("target.boxes[{i}]: {m}")))?,
                    );
                }
                Target::Boxes(boxes)
            }
            "point" => Target::Point(serde_json::from_value(value).map_err(field)?),
            "mask" => Target::Mask(serde_json::from_value(value).map_err(field)?),
            "label" => Target::Label(serde_json::from_value(value).map_err(field)?),
            // The only kind left in `KINDS`.
            _ => Target::Count(serde_json::from_value(value).map_err(field)?),
        })
    }
}

/// A box as written in a record. Unlike [`BBox::new`], inverted corners are refused: a box
/// written `[x2, y2, x1, y1]` is a mistake in the data (often a width read as a corner), not
/// a box to guess at.
fn stored_box([x1, y1, x2, y2]: [f64; 4]) -> std::result::Result<BBox, String> {
    if x2 < x1 || y2 < y1 {
        return Err(format!(
            "box [{x1}, {y1}, {x2}, {y2}] is inverted: write [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2"
        ));
    }
    Ok(BBox::new(x1, y1, x2, y2))
}

/// One dataset record. Unknown fields are refused (a misspelt `cot` or `depht` would
/// otherwise be dropped without a word).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
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
    /// Whether this is a click or refer record whose instruction names nothing on the image:
    /// its target is `{"boxes": []}`, and the right answer is the empty list `[]` (a pointer
    /// policy's "nothing here"), not a click.
    pub fn names_nothing(&self) -> bool {
        matches!(self.task, Task::Click | Task::Refer)
            && matches!(&self.target, Target::Boxes(b) if b.is_empty())
    }

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
        let ok = self.names_nothing()
            || matches!(
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
    pub(crate) fn resolve(&mut self, root: &Path) {
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

    /// Makes absolute paths relative to `root`, the folder of the file being written, with
    /// `..` where a file lies outside it, so that reading the file back finds the same files.
    /// Relative paths are already relative to `root` (the suites write them that way).
    fn relativize(&mut self, root: &Path) -> Result<()> {
        let rel = |p: &mut PathBuf| -> Result<()> {
            if p.is_absolute() {
                *p = relative_path(p, root)?;
            }
            Ok(())
        };
        rel(&mut self.image)?;
        if let Some(d) = &mut self.depth {
            rel(d)?;
        }
        if let Target::Mask(m) = &mut self.target {
            rel(m)?;
        }
        Ok(())
    }
}

/// `path` made absolute against the working directory, with `.` and `..` resolved
/// lexically (symbolic links are not followed).
fn lexical_absolute(path: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let path = if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    };
    let abs = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    let mut out = PathBuf::new();
    for c in abs.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

/// `path` relative to the folder `root` (`../images/a.png` when needed). Paths on another
/// root (a different Windows drive) stay absolute.
pub fn relative_path(path: &Path, root: &Path) -> Result<PathBuf> {
    use std::path::Component;
    let (path, root) = (lexical_absolute(path)?, lexical_absolute(root)?);
    let (a, b): (Vec<Component>, Vec<Component>) =
        (path.components().collect(), root.components().collect());
    let common = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return Ok(path);
    }
    let mut out = PathBuf::new();
    for _ in common..b.len() {
        out.push("..");
    }
    for c in &a[common..] {
        out.push(c);
    }
    Ok(out)
}

impl Target {
    /// Every target kind, as the JSON key that names it.
    pub const KINDS: [&'static str; 6] = ["box", "boxes", "point", "mask", "label", "count"];

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
        rec.relativize(&self.root)?;
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
        rec.relativize(&root)?;
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
    fn relative_paths_climb_out_of_the_output_folder() -> Result<()> {
        let rel = |p: &str, root: &str| relative_path(Path::new(p), Path::new(root));
        assert_eq!(
            rel("/w/raw/images/x.png", "/w/data/r1")?,
            Path::new("../../raw/images/x.png")
        );
        assert_eq!(
            rel("/w/data/r1/images/x.png", "/w/data/r1")?,
            Path::new("images/x.png")
        );
        assert_eq!(
            rel("/w/data/./r1/../r1/x.png", "/w/data/r1/")?,
            Path::new("x.png")
        );
        // An absolute path outside the output folder is written relative and read back.
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let out = dir.path().join("data/r1/data.jsonl");
        let mut rec = sample();
        rec.image = dir.path().join("raw/images/a1.png");
        write_jsonl(&out, std::slice::from_ref(&rec))?;
        let text = fs::read_to_string(&out).map_err(|e| Error::io(&out, e))?;
        assert!(
            text.contains(r#""image":"../../raw/images/a1.png""#),
            "{text}"
        );
        let back = read_jsonl(&out)?;
        assert_eq!(
            lexical_absolute(&back[0].image)?,
            lexical_absolute(&rec.image)?
        );
        Ok(())
    }

    #[test]
    fn target_keys_are_named() {
        let line = serde_json::to_string(&sample()).unwrap().replace(
            r#"{"box":[1.0,2.0,30.0,40.0]}"#,
            r#"{"box":[1,2,3,4],"label_box":[1,2,3,4]}"#,
        );
        let err = parse_line(&line).unwrap_err();
        assert!(
            err.contains("target must have exactly one of box, boxes, point, mask, label, count; got box, label_box"),
            "{err}"
        );
        let err = parse_line(
            &line
                .replace(r#","label_box":[1,2,3,4]"#, "")
                .replace("[1,2,3,4]", "[3,4,1,2]"),
        )
        .unwrap_err();
        assert!(
            err.contains("target.box: box [3, 4, 1, 2] is inverted"),
            "{err}"
        );
        let err = parse_line(&line.replace(r#""task""#, r#""tsak":1,"task""#)).unwrap_err();
        assert!(err.contains("unknown field `tsak`"), "{err}");
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
