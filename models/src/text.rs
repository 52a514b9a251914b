//! Text read from an image by the perception stage: lines ([`TextSpan`]) with the words
//! inside them ([`Word`]), boxes in original image pixels.
//!
//! These types are the contract between the runtime's text reader (which produces them with
//! ONNX Runtime), `reticle data perceive` (which writes them beside a dataset as
//! [`SpansRecord`] lines) and the trainer (which reads that file and never links ONNX Runtime),
//! so a policy trains on exactly what the runtime will see.

use serde::{Deserialize, Serialize};

use crate::geometry::BBox;

/// Knobs of the runtime's text reader (PaddleOCR's names in comments). A package that reads
/// text pins them in its manifest, so training data and running read alike. Defaults are
/// the measured choices of docs/perception.md.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OcrConfig {
    /// Detection input size as a fraction of the image's (then padded to multiples of 32).
    pub det_scale: f32,
    /// Probability above which a pixel is text (`thresh`).
    pub det_thresh: f32,
    /// Mean probability a box needs (`box_thresh`).
    pub det_box_thresh: f32,
    /// Box expansion (`unclip_ratio`).
    pub det_unclip_ratio: f32,
    /// At most this many components are examined (`max_candidates`).
    pub det_max_candidates: usize,
    /// Crops recognised in one batch (`rec_batch_num`).
    pub rec_batch: usize,
    /// Narrowest recognition input; shorter crops are padded. PaddleOCR pads every crop to
    /// 320; measured here, padding short words to 48 reads as well and is 1.5× faster.
    pub rec_min_width: u32,
    /// Widest recognition input; longer lines are squeezed.
    pub rec_max_width: u32,
    /// Lines read with a lower mean confidence are dropped (`text_score`).
    pub min_score: f32,
    /// Larger images are refused (memory is bounded by this).
    pub max_pixels: u64,
}

impl Default for OcrConfig {
    fn default() -> Self {
        Self {
            det_scale: 1.0,
            det_thresh: 0.3,
            det_box_thresh: 0.5,
            det_unclip_ratio: 1.6,
            det_max_candidates: 1000,
            rec_batch: 8,
            rec_min_width: 48,
            rec_max_width: 3200,
            min_score: 0.5,
            max_pixels: 35_000_000,
        }
    }
}

impl OcrConfig {
    /// Checks every knob's range; the message names the knob.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let bad = |m: String| Err(m);
        if !(self.det_scale > 0.05 && self.det_scale <= 2.0) {
            return bad(format!("det_scale {} is outside (0.05, 2]", self.det_scale));
        }
        for (name, v) in [
            ("det_thresh", self.det_thresh),
            ("det_box_thresh", self.det_box_thresh),
            ("min_score", self.min_score),
        ] {
            if !(0.0..=1.0).contains(&v) {
                return bad(format!("{name} {v} is outside 0..=1"));
            }
        }
        if !(self.det_unclip_ratio > 0.0 && self.det_unclip_ratio <= 10.0) {
            return bad(format!(
                "det_unclip_ratio {} is outside (0, 10]",
                self.det_unclip_ratio
            ));
        }
        if self.rec_batch == 0 || self.rec_batch > 256 {
            return bad(format!("rec_batch {} is outside 1..=256", self.rec_batch));
        }
        if self.rec_min_width < 8
            || self.rec_max_width < self.rec_min_width
            || self.rec_max_width > 16384
        {
            return bad(format!(
                "rec_min_width {} / rec_max_width {}: need 8 <= min <= max <= 16384",
                self.rec_min_width, self.rec_max_width
            ));
        }
        if self.max_pixels == 0 || self.max_pixels > 200_000_000 {
            return bad(format!(
                "max_pixels {} is outside 1..=200000000",
                self.max_pixels
            ));
        }
        Ok(())
    }

    /// The detector's input size (before padding) for a region of `w × h`.
    pub fn det_size(&self, w: u32, h: u32) -> (u32, u32) {
        let f = |v: u32| ((v as f32 * self.det_scale).round() as u32).max(1);
        (f(w), f(h))
    }
}

/// One word inside a line, split at spaces; its box comes from the recogniser's time steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Word {
    pub text: String,
    #[serde(rename = "box")]
    pub bbox: BBox,
}

/// One detected line of text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextSpan {
    pub text: String,
    #[serde(rename = "box")]
    pub bbox: BBox,
    /// The recogniser's mean per-character confidence, 0..1.
    pub score: f32,
    #[serde(default)]
    pub words: Vec<Word>,
    /// Set when the span is not read text but an icon the icon reader named
    /// (`crate::icons`): the class key. Such a span's text is the class's names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
}

/// What was read, word by word: each word of a span with its box, or the span itself when
/// it has no words (a reader without word boxes, a span given by a caller).
pub fn read_words(spans: &[TextSpan]) -> impl Iterator<Item = (&str, BBox)> + '_ {
    spans.iter().flat_map(|s| {
        let whole = s.words.is_empty().then_some((s.text.as_str(), s.bbox));
        whole
            .into_iter()
            .chain(s.words.iter().map(|w| (w.text.as_str(), w.bbox)))
    })
}

/// One line of a spans file (`reticle data perceive`): the spans of one image of a dataset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpansRecord {
    /// The image path exactly as the dataset's records write it.
    pub image: String,
    pub width: u32,
    pub height: u32,
    pub spans: Vec<TextSpan>,
}

/// Case-folds, collapses whitespace and folds typographic punctuation (dashes to `-`, `…` to
/// `...`, curly quotes to straight ones — what a user types for them): how read text is
/// compared with a label.
pub fn normalize(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\u{2010}'..='\u{2015}' | '\u{2212}' => folded.push('-'),
            '\u{2026}' => folded.push_str("..."),
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => folded.push('\''),
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' => folded.push('"'),
            c => folded.push(c),
        }
    }
    folded
        .split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether a drawn text is a label a reader can be asked to read: it has a letter or a
/// digit (password bullets, arrows and other glyph-only runs are not).
pub fn is_label(text: &str) -> bool {
    text.chars().any(char::is_alphanumeric)
}

/// Whether `label` was read: it equals a span or a contiguous run of a span's words, after
/// [`normalize`]. Returns the matching box (the span's, or the union of the words').
pub fn find_label(spans: &[TextSpan], label: &str) -> Option<BBox> {
    let want: Vec<String> = normalize(label).split(' ').map(str::to_string).collect();
    if want.iter().all(String::is_empty) {
        return None;
    }
    for span in spans {
        if normalize(&span.text) == want.join(" ") {
            return Some(span.bbox);
        }
        let words: Vec<String> = span.words.iter().map(|w| normalize(&w.text)).collect();
        if words.len() < want.len() {
            continue;
        }
        for start in 0..=words.len() - want.len() {
            if words[start..start + want.len()] == want[..] {
                let run = &span.words[start..start + want.len()];
                let b = run.iter().skip(1).fold(run[0].bbox, |acc, w| {
                    BBox::new(
                        acc.x1.min(w.bbox.x1),
                        acc.y1.min(w.bbox.y1),
                        acc.x2.max(w.bbox.x2),
                        acc.y2.max(w.bbox.y2),
                    )
                });
                return Some(b);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(text: &str, words: &[(&str, f64, f64)]) -> TextSpan {
        TextSpan {
            icon: None,
            text: text.into(),
            bbox: BBox::new(0.0, 0.0, 300.0, 20.0),
            score: 0.9,
            words: words
                .iter()
                .map(|&(t, x1, x2)| Word {
                    text: t.into(),
                    bbox: BBox::new(x1, 2.0, x2, 18.0),
                })
                .collect(),
        }
    }

    #[test]
    fn read_words_are_the_words_or_the_whole_span() {
        let spans = [
            span("Save as", &[("Save", 0.0, 40.0), ("as", 50.0, 70.0)]),
            span("OK", &[]),
        ];
        let read: Vec<(&str, f64)> = read_words(&spans).map(|(t, b)| (t, b.x2)).collect();
        assert_eq!(read, [("Save", 40.0), ("as", 70.0), ("OK", 300.0)]);
    }

    #[test]
    fn labels_match_whole_spans_and_word_runs() {
        let spans = [span(
            "Insert Format  Tools",
            &[
                ("Insert", 0.0, 50.0),
                ("Format", 60.0, 110.0),
                ("Tools", 120.0, 160.0),
            ],
        )];
        assert_eq!(
            find_label(&spans, "insert format tools"),
            Some(BBox::new(0.0, 0.0, 300.0, 20.0))
        );
        assert_eq!(
            find_label(&spans, "Tools"),
            Some(BBox::new(120.0, 2.0, 160.0, 18.0))
        );
        assert_eq!(
            find_label(&spans, "Format Tools"),
            Some(BBox::new(60.0, 2.0, 160.0, 18.0))
        );
        assert_eq!(find_label(&spans, "Tool"), None);
        let title = [span("notes.txt - Editor", &[])];
        assert!(find_label(&title, "notes.txt \u{2013} Editor").is_some());
        assert_eq!(
            normalize("Find\u{2026}  \u{201C}A\u{201D}"),
            "find... \"a\""
        );
        assert_eq!(find_label(&spans, "  "), None);
    }

    #[test]
    fn spans_serialize_with_box_keys() {
        let s = span("OK", &[("OK", 1.0, 9.0)]);
        let json = serde_json::to_value(&s).unwrap();
        assert_eq!(json["box"], serde_json::json!([0.0, 0.0, 300.0, 20.0]));
        assert_eq!(json["words"][0]["box"][0], 1.0);
        let back: TextSpan = serde_json::from_value(json).unwrap();
        assert_eq!(back, s);
    }
}
