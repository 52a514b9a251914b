//! Importers for dataset formats people already have.
//!
//! - **VLM-R1 style** JSONL: `{"id", "image": path | [path], "conversations": [{"from":
//!   "human", "value": "<image>…"}, {"from": "gpt", "value": "…"}]}`. The human turn becomes
//!   the instruction; the answer is read with the answer grammar (bare or inside
//!   `<answer>` tags): one box → `refer` with a box target, several → `detect`, a point →
//!   `refer` with a point, an integer → `count`, other text → `classify`.
//! - **ScreenSpot style** JSON array or JSONL: `{"img_filename", "bbox", "instruction", …}`,
//!   bbox as `[x, y, w, h]` (ScreenSpot, ScreenSpot-v2) or `[x1, y1, x2, y2]`
//!   (ScreenSpot-Pro), chosen with [`BoxFormat`]. Each becomes a `click` record.
//!
//! Coordinates are taken as original image pixels unless [`ImportOptions::norm1000`] says
//! they are 0..1000 normalised, in which case each image's size is read to convert them.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::dataset::{Record, Target, Task};
use crate::error::{Error, Result};
use crate::geometry::{BBox, Point};
use crate::grammar::{self, Value};

/// How ScreenSpot boxes are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BoxFormat {
    /// `[x, y, width, height]`.
    #[default]
    Xywh,
    /// `[x1, y1, x2, y2]`.
    Xyxy,
}

/// Options shared by the importers.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Folder the image paths are relative to (default: the input file's folder).
    pub image_root: Option<PathBuf>,
    /// Coordinates are 0..1000 of the image rather than pixels.
    pub norm1000: bool,
    /// ScreenSpot box layout.
    pub box_format: BoxFormat,
}

#[derive(Deserialize)]
struct Turn {
    from: String,
    value: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(PathBuf),
    Many(Vec<PathBuf>),
}

#[derive(Deserialize)]
struct VlmR1Line {
    #[serde(default)]
    id: Option<serde_json::Value>,
    image: OneOrMany,
    conversations: Vec<Turn>,
}

#[derive(Deserialize)]
struct ScreenSpotItem {
    img_filename: PathBuf,
    bbox: [f64; 4],
    instruction: String,
    #[serde(flatten)]
    rest: serde_json::Map<String, serde_json::Value>,
}

/// The folder image paths are relative to, made absolute so that the records name their
/// images wherever the output is written (the writer makes them relative to it).
fn image_root(input: &Path, opts: &ImportOptions) -> Result<PathBuf> {
    let root = opts
        .image_root
        .clone()
        .unwrap_or_else(|| input.parent().map(Path::to_path_buf).unwrap_or_default());
    let root = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    };
    std::path::absolute(&root).map_err(|e| Error::io(&root, e))
}

fn record_err(path: &Path, line: usize, message: impl Into<String>) -> Error {
    Error::Record {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

/// Scales from normalised 0..1000 to pixels of `image` (identity when not normalised).
fn scale_for(image: &Path, opts: &ImportOptions) -> std::result::Result<(f64, f64), String> {
    if !opts.norm1000 {
        return Ok((1.0, 1.0));
    }
    let (w, h) = crate::imageio::open_dimensions(image)
        .map_err(|e| format!("cannot read size of {}: {e}", image.display()))?;
    Ok((w as f64 / 1000.0, h as f64 / 1000.0))
}

/// Strips the `<image>` placeholder and whitespace from a human turn.
fn clean_instruction(text: &str) -> String {
    text.replace("<image>", " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads an answer that may be bare (`[1,2,3,4]`) or tagged (`<answer>…</answer>`).
fn parse_answer(text: &str) -> std::result::Result<Value, String> {
    let tagged = if text.contains("<answer>") {
        text.to_string()
    } else {
        format!("<answer>{}</answer>", text.trim())
    };
    grammar::parse(&tagged)
        .map(|a| a.value)
        .map_err(|e| format!("unreadable answer `{}`: {e}", text.trim()))
}

/// Imports a VLM-R1-style JSONL file.
pub fn import_vlm_r1(input: &Path, opts: &ImportOptions) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(input).map_err(|e| Error::io(input, e))?;
    let root = image_root(input, opts)?;
    let mut out = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        let raw: VlmR1Line =
            serde_json::from_str(line).map_err(|e| record_err(input, line_no, e.to_string()))?;
        let image = match raw.image {
            OneOrMany::One(p) => p,
            OneOrMany::Many(v) => v
                .into_iter()
                .next()
                .ok_or_else(|| record_err(input, line_no, "empty `image` list"))?,
        };
        let human = raw
            .conversations
            .iter()
            .find(|t| t.from == "human" || t.from == "user")
            .ok_or_else(|| record_err(input, line_no, "no human turn in `conversations`"))?;
        let gpt = raw
            .conversations
            .iter()
            .find(|t| t.from == "gpt" || t.from == "assistant")
            .ok_or_else(|| record_err(input, line_no, "no gpt turn in `conversations`"))?;
        let image = root.join(image);
        let (sx, sy) = scale_for(&image, opts).map_err(|m| record_err(input, line_no, m))?;
        let value = parse_answer(&gpt.value).map_err(|m| record_err(input, line_no, m))?;
        let (task, target) = match value {
            Value::Boxes(mut d) if d.len() == 1 => {
                (Task::Refer, Target::Box(d.remove(0).bbox.scale(sx, sy)))
            }
            Value::Boxes(d) => (
                Task::Detect,
                Target::Boxes(d.iter().map(|d| d.bbox.scale(sx, sy)).collect()),
            ),
            Value::Points(p) if p.len() == 1 => (
                Task::Refer,
                Target::Point(Point::new(p[0].x * sx, p[0].y * sy)),
            ),
            Value::Points(_) => {
                return Err(record_err(
                    input,
                    line_no,
                    "several points cannot be a target",
                ))
            }
            Value::Count(n) => (Task::Count, Target::Count(n)),
            Value::Label(l) => (Task::Classify, Target::Label(l)),
        };
        let id = match raw.id {
            Some(serde_json::Value::String(s)) => s,
            Some(v) => v.to_string(),
            None => format!("vlmr1-{line_no:06}"),
        };
        let rec = Record {
            id,
            image,
            depth: None,
            camera: None,
            instruction: clean_instruction(&human.value),
            task,
            target,
            cot: None,
            meta: Some(serde_json::json!({"source": "vlm-r1", "line": line_no})),
        };
        rec.validate().map_err(|m| record_err(input, line_no, m))?;
        out.push(rec);
    }
    Ok(out)
}

/// Imports ScreenSpot-style records (a JSON array, or one object per line).
pub fn import_screenspot(input: &Path, opts: &ImportOptions) -> Result<Vec<Record>> {
    let text = std::fs::read_to_string(input).map_err(|e| Error::io(input, e))?;
    let root = image_root(input, opts)?;
    // (line number, item) pairs; a JSON array reports errors at line 1 with serde's position.
    let items: Vec<(usize, ScreenSpotItem)> = if text.trim_start().starts_with('[') {
        let v: Vec<ScreenSpotItem> =
            serde_json::from_str(&text).map_err(|e| record_err(input, e.line(), e.to_string()))?;
        v.into_iter().map(|i| (0, i)).collect()
    } else {
        let mut v = Vec::new();
        for (idx, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let item = serde_json::from_str(line)
                .map_err(|e| record_err(input, idx + 1, e.to_string()))?;
            v.push((idx + 1, item));
        }
        v
    };
    let mut out = Vec::with_capacity(items.len());
    for (n, (line_no, item)) in items.into_iter().enumerate() {
        let line = if line_no == 0 { n + 1 } else { line_no };
        let image = root.join(&item.img_filename);
        let (sx, sy) = scale_for(&image, opts).map_err(|m| record_err(input, line, m))?;
        let [a, b, c, d] = item.bbox;
        let bbox = match opts.box_format {
            BoxFormat::Xywh => BBox::from_xywh(a, b, c, d),
            BoxFormat::Xyxy => BBox::new(a, b, c, d),
        }
        .scale(sx, sy);
        let stem = item
            .img_filename
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut meta = item.rest;
        meta.insert("source".into(), "screenspot".into());
        let rec = Record {
            id: format!("screenspot-{n:06}-{stem}"),
            image,
            depth: None,
            camera: None,
            instruction: item.instruction.trim().to_string(),
            task: Task::Click,
            target: Target::Box(bbox),
            cot: None,
            meta: Some(serde_json::Value::Object(meta)),
        };
        let what = if line_no == 0 { "item" } else { "line" };
        rec.validate()
            .map_err(|m| record_err(input, line, format!("{what} {line}: {m}")))?;
        out.push(rec);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn vlm_r1_lines_become_records() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        let input = write(
            dir.path(),
            "r1.jsonl",
            concat!(
                r#"{"id": 7, "image": "a.png", "conversations": [{"from": "human", "value": "<image>Where is the red car?"}, {"from": "gpt", "value": "[10,20,30,40]"}]}"#,
                "\n",
                r#"{"image": ["b.png"], "conversations": [{"from": "human", "value": "<image>Detect cats."}, {"from": "gpt", "value": "<answer>[1,1,5,5],[6,6,9,9]</answer>"}]}"#,
                "\n",
                "\n",
                r#"{"image": "c.png", "conversations": [{"from": "human", "value": "How many?"}, {"from": "gpt", "value": "3"}]}"#,
                "\n",
            ),
        );
        let recs = import_vlm_r1(&input, &ImportOptions::default())?;
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].id, "7");
        assert_eq!(recs[0].instruction, "Where is the red car?");
        assert_eq!(recs[0].task, Task::Refer);
        assert_eq!(
            recs[0].target,
            Target::Box(BBox::new(10.0, 20.0, 30.0, 40.0))
        );
        assert_eq!(recs[0].image, dir.path().join("a.png"));
        assert_eq!(recs[1].task, Task::Detect);
        assert_eq!(recs[2].target, Target::Count(3));
        Ok(())
    }

    #[test]
    fn vlm_r1_errors_name_line() {
        let dir = tempfile::tempdir().unwrap();
        let input = write(
            dir.path(),
            "bad.jsonl",
            concat!(
                r#"{"image": "a.png", "conversations": [{"from": "human", "value": "x"}, {"from": "gpt", "value": "[1,2,3,4]"}]}"#,
                "\n",
                r#"{"image": "a.png", "conversations": [{"from": "human", "value": "x"}]}"#,
                "\n",
            ),
        );
        let err = import_vlm_r1(&input, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.jsonl:2: no gpt turn"), "{err}");
    }

    #[test]
    fn screenspot_xywh_and_norm1000() -> Result<()> {
        let dir = tempfile::tempdir().map_err(|e| Error::io("tempdir", e))?;
        image::RgbImage::new(200, 100)
            .save(dir.path().join("s.png"))
            .map_err(|e| Error::invalid("test image", e.to_string()))?;
        let input = write(
            dir.path(),
            "ss.json",
            r#"[{"img_filename": "s.png", "bbox": [10, 20, 30, 40], "instruction": "open settings", "data_type": "icon"}]"#,
        );
        let recs = import_screenspot(&input, &ImportOptions::default())?;
        assert_eq!(
            recs[0].target,
            Target::Box(BBox::new(10.0, 20.0, 40.0, 60.0))
        );
        assert_eq!(recs[0].task, Task::Click);
        assert_eq!(recs[0].meta.as_ref().unwrap()["data_type"], "icon");
        let opts = ImportOptions {
            norm1000: true,
            box_format: BoxFormat::Xyxy,
            ..Default::default()
        };
        let recs = import_screenspot(&input, &opts)?;
        // 200x100 image: x scale 0.2, y scale 0.1.
        assert_eq!(recs[0].target, Target::Box(BBox::new(2.0, 2.0, 6.0, 4.0)));
        let bad = write(dir.path(), "bad.jsonl", "{\"img_filename\": \"s.png\"}\n");
        let err = import_screenspot(&bad, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("bad.jsonl:1: missing field"), "{err}");
        Ok(())
    }
}
