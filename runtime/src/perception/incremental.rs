//! [`IncrementalReader`]: reads successive screenshots of one screen, re-reading only what
//! changed — and giving exactly what a full read of the new screenshot gives.
//!
//! The screen is cut into 32-pixel tiles whose bytes are hashed. Between two frames of the
//! same size:
//! - no tile changed: the previous spans are returned as they are (a few milliseconds);
//! - otherwise the detector runs on the whole frame, as a full read does, and only the lines
//!   whose crop is new — a box not seen in the previous frame, or one whose pixels changed —
//!   are recognised; the others reuse what was read in them last time.
//!
//! Detecting on the changed regions alone was tried first: it is faster, but the detector's
//! probability map is not exactly the same on a crop as on the whole frame, so boxes near the
//! thresholds (icon glyphs) came and went. Recognition is deterministic per crop (crops are
//! batched only with crops of their own width bucket), so this design is exact:
//! `incremental read == cold read` is tested on synthetic screens (runtime/tests/ocr).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use reticle_models::text::TextSpan;
use serde::Serialize;

use super::det::LineBox;
use super::frame::RgbFrame;
use super::reader::{ReadTimings, Reading, TextReader};
use super::rec::Recognized;
use crate::error::Result;
use crate::grounder::ImageInput;

/// Side of the hashed tiles, in pixels.
const TILE: u32 = 32;
const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// What an incremental read did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IncrementalStats {
    /// A full read ran (first frame, or a new size).
    pub cold: bool,
    pub tiles: usize,
    pub changed_tiles: usize,
    /// Lines detected (0 when nothing changed and the previous spans were returned).
    pub lines: usize,
    /// Lines recognised anew.
    pub recognized: usize,
    /// Lines whose previous reading was reused.
    pub reused: usize,
}

/// A line's crop: its box and a hash of its pixels.
type CropKey = ([u32; 4], u64);

#[derive(Debug)]
struct State {
    width: u32,
    height: u32,
    hashes: Vec<u64>,
    spans: Vec<TextSpan>,
    read: HashMap<CropKey, Recognized>,
}

/// Successive reads of one screen. Holds the previous frame's tile hashes, spans and the
/// recognition of each of its lines.
#[derive(Debug)]
pub struct IncrementalReader {
    reader: Arc<TextReader>,
    prev: Option<State>,
}

impl IncrementalReader {
    pub fn new(reader: Arc<TextReader>) -> Self {
        Self { reader, prev: None }
    }

    /// Forgets the previous frame: the next read is a full read.
    pub fn reset(&mut self) {
        self.prev = None;
    }

    /// Reads `image`, re-reading only what changed since the previous call.
    pub fn read<'a>(
        &mut self,
        image: impl Into<ImageInput<'a>>,
    ) -> Result<(Reading, IncrementalStats)> {
        let t0 = Instant::now();
        let reader = Arc::clone(&self.reader);
        let cfg = reader.config();
        let mut guard = reader.lock()?;
        let e = &mut *guard;
        e.frame.load(image.into(), cfg.max_pixels)?;
        let (gw, gh) = (e.frame.width.div_ceil(TILE), e.frame.height.div_ceil(TILE));
        let hashes = tile_hashes(&e.frame, gw, gh);
        let t1 = Instant::now();
        let mut stats = IncrementalStats {
            tiles: hashes.len(),
            ..Default::default()
        };
        let prev = self
            .prev
            .take()
            .filter(|p| (p.width, p.height) == (e.frame.width, e.frame.height));
        stats.cold = prev.is_none();
        if let Some(p) = &prev {
            stats.changed_tiles = hashes.iter().zip(&p.hashes).filter(|(a, b)| a != b).count();
        }
        let (spans, read, t2) = match prev {
            Some(p) if stats.changed_tiles == 0 => (p.spans, p.read, Instant::now()),
            prev => {
                let boxes = e.detect_lines(cfg)?;
                let t2 = Instant::now();
                let mut old = prev.map(|p| p.read).unwrap_or_default();
                let keys: Vec<CropKey> = boxes.iter().map(|b| crop_key(&e.frame, b)).collect();
                let fresh: Vec<usize> = (0..boxes.len())
                    .filter(|&i| !old.contains_key(&keys[i]))
                    .collect();
                let fresh_boxes: Vec<LineBox> = fresh.iter().map(|&i| boxes[i]).collect();
                let mut new_read = e.rec.recognize(&e.frame, &fresh_boxes, cfg)?.into_iter();
                stats.lines = boxes.len();
                stats.recognized = fresh.len();
                stats.reused = boxes.len() - fresh.len();
                let mut read = HashMap::with_capacity(boxes.len());
                let mut all = Vec::with_capacity(boxes.len());
                for (i, key) in keys.into_iter().enumerate() {
                    let r = if fresh.binary_search(&i).is_ok() {
                        new_read.next()
                    } else {
                        old.remove(&key)
                    };
                    // Both exist by construction: `fresh` lists exactly the keys not in `old`
                    // (a key seen twice in one frame is recognised once and reused).
                    let r = r.or_else(|| read.get(&key).cloned()).unwrap_or_default();
                    read.insert(key, r.clone());
                    all.push(r);
                }
                (reader.spans(&boxes, all), read, t2)
            }
        };
        let t3 = Instant::now();
        let reading = Reading {
            width: e.frame.width,
            height: e.frame.height,
            spans: spans.clone(),
            timings: ReadTimings {
                prepare: t1 - t0,
                detect: t2.saturating_duration_since(t1),
                recognize: t3.saturating_duration_since(t2),
                total: t3 - t0,
            },
        };
        self.prev = Some(State {
            width: e.frame.width,
            height: e.frame.height,
            hashes,
            spans,
            read,
        });
        Ok((reading, stats))
    }
}

fn mix(h: u64, v: u64) -> u64 {
    (h ^ v).wrapping_mul(K).rotate_left(31)
}

fn hash_bytes(mut h: u64, bytes: &[u8]) -> u64 {
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        h = mix(h, u64::from_le_bytes(b));
    }
    for &b in words.remainder() {
        h = mix(h, u64::from(b));
    }
    h
}

/// One 64-bit hash per tile of the RGB frame.
fn tile_hashes(frame: &RgbFrame, gw: u32, gh: u32) -> Vec<u64> {
    let mut hashes = vec![0u64; (gw * gh) as usize];
    let stride = frame.width as usize * 3;
    let t = TILE as usize;
    for y in 0..frame.height as usize {
        let row = &frame.data[y * stride..(y + 1) * stride];
        let hrow = &mut hashes[(y / t) * gw as usize..(y / t + 1) * gw as usize];
        for (tx, chunk) in row.chunks(t * 3).enumerate() {
            hrow[tx] = hash_bytes(mix(hrow[tx], y as u64), chunk);
        }
    }
    hashes
}

/// A line's box and the hash of the pixels the recogniser will crop.
fn crop_key(frame: &RgbFrame, b: &LineBox) -> CropKey {
    let clamp = |v: f32, max: u32| (v.max(0.0) as u32).min(max);
    let (x1, x2) = (clamp(b.x1, frame.width), clamp(b.x2.ceil(), frame.width));
    let (y1, y2) = (clamp(b.y1, frame.height), clamp(b.y2.ceil(), frame.height));
    let stride = frame.width as usize * 3;
    let mut h = mix(0, u64::from(x1) << 32 | u64::from(y1));
    for y in y1 as usize..y2 as usize {
        h = hash_bytes(
            h,
            &frame.data[y * stride + x1 as usize * 3..y * stride + x2 as usize * 3],
        );
    }
    let tight = b.tight.map(|v| v.to_bits());
    (
        [x1, y1, x2, y2],
        mix(h, u64::from(tight[0]) << 32 | u64::from(tight[3])),
    )
}
