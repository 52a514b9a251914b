//! Crops from a sheet folder (`icons.jsonl`, `classes.json`, `images/`): for each cell, the
//! box the runtime would classify — the icon's own ink (an element proposal of its strokes)
//! or, when it sits on a button, the button's ink — jittered, as `reticle_models::icons`
//! cuts it.

use std::collections::BTreeMap;
use std::path::Path;

use rand::{Rng, SeedableRng};
use reticle_models::geometry::BBox;
use reticle_models::icons::{crop_input, ink_box, IconClass, INPUT, OTHER};
use serde::Deserialize;

use crate::error::{Error, Result};

#[derive(Debug, Deserialize)]
struct Cell {
    image: String,
    #[serde(rename = "box")]
    bbox: [f64; 4],
    cell: [u32; 4],
    label: String,
}

/// Crops (u8 ink maps, `INPUT²` each) and their labels (class index; `classes.len()` is
/// [`OTHER`]).
#[derive(Debug)]
pub struct IconSet {
    pub classes: Vec<IconClass>,
    pub crops: Vec<u8>,
    pub labels: Vec<i64>,
}

impl IconSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Crop `i` as floats in 0..1.
    pub fn crop(&self, i: usize) -> impl Iterator<Item = f32> + '_ {
        let n = INPUT * INPUT;
        self.crops[i * n..(i + 1) * n]
            .iter()
            .map(|v| *v as f32 / 255.0)
    }
}

fn bad(dir: &Path, message: String) -> Error {
    Error::Run {
        path: dir.to_path_buf(),
        message,
    }
}

/// Loads `dir`; `variants` crops per cell (alternately the icon's own ink and its cell's, each
/// side moved by up to `jitter` of the box), seeded by `seed`.
pub fn load_sheets(dir: &Path, variants: usize, jitter: f64, seed: u64) -> Result<IconSet> {
    let read =
        |f: &str| std::fs::read_to_string(dir.join(f)).map_err(|e| Error::io(dir.join(f), e));
    let classes: Vec<IconClass> = serde_json::from_str(&read("classes.json")?)
        .map_err(|e| bad(dir, format!("classes.json: {e}")))?;
    let index: BTreeMap<&str, i64> = classes
        .iter()
        .enumerate()
        .map(|(i, c)| (c.key.as_str(), i as i64))
        .chain([(OTHER, classes.len() as i64)])
        .collect();
    let mut by_image: BTreeMap<String, Vec<Cell>> = BTreeMap::new();
    for (n, line) in read("icons.jsonl")?.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let c: Cell = serde_json::from_str(line)
            .map_err(|e| bad(dir, format!("icons.jsonl line {}: {e}", n + 1)))?;
        if !index.contains_key(c.label.as_str()) {
            return Err(bad(
                dir,
                format!("icons.jsonl line {}: unknown label `{}`", n + 1, c.label),
            ));
        }
        by_image.entry(c.image.clone()).or_default().push(c);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut set = IconSet {
        classes: classes.clone(),
        crops: Vec::new(),
        labels: Vec::new(),
    };
    for (image, cells) in &by_image {
        let path = dir.join(image);
        let rgb = image::open(&path)
            .map_err(|e| bad(dir, format!("{}: {e}", path.display())))?
            .to_rgb8();
        for c in cells {
            let own = [
                c.bbox[0].floor().max(0.0) as u32,
                c.bbox[1].floor().max(0.0) as u32,
                c.bbox[2].ceil() as u32,
                c.bbox[3].ceil() as u32,
            ];
            for v in 0..variants {
                let region = if v % 2 == 0 { own } else { c.cell };
                let Some(b) = ink_box(&rgb, region).or_else(|| ink_box(&rgb, own)) else {
                    continue;
                };
                let mut j = |s: f64| s * rng.gen_range(-jitter..=jitter);
                let (w, h) = (b.width().max(4.0), b.height().max(4.0));
                let jb = BBox::new(b.x1 + j(w), b.y1 + j(h), b.x2 + j(w), b.y2 + j(h));
                let x = crop_input(&rgb, &jb);
                set.crops
                    .extend(x.iter().map(|v| (v * 255.0).round() as u8));
                set.labels.push(index[c.label.as_str()]);
            }
        }
    }
    if set.is_empty() {
        return Err(bad(dir, "no icon crops".into()));
    }
    Ok(set)
}
