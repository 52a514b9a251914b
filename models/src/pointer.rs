//! The pointer policy's contract: how an instruction and the text spans read on a frame become
//! the inputs of the pointer graph, and how its outputs become a click. The trainer (tch) and
//! the runtime (ONNX Runtime) both call these functions, so a policy trains on exactly the
//! inputs it will run on.
//!
//! The pointer graph (`pointer.onnx`) scores **candidates**: the `cols × rows` patches of the
//! input image (one per `cell × cell` input pixels), then up to `max_candidates` text
//! candidates (each read line, plus each word of a line with several). Inputs, per batch row:
//!
//! | name | shape | type | meaning |
//! |---|---|---|---|
//! | `pixel_values` | `[B, C, H, W]` | f32 | the normalised image (as `preprocess`) |
//! | `instr_ids` | `[B, max_words, pieces_per_word]` | i64 | hashed pieces of each instruction word, 0 = padding |
//! | `instr_mask` | same | f32 | 1 where `instr_ids` is a piece |
//! | `span_ids` | `[B, S, pieces_per_span]` | i64 | hashed pieces of each text candidate |
//! | `span_mask` | same | f32 | 1 where `span_ids` is a piece |
//! | `span_boxes` | `[B, S, 4]` | f32 | the candidate's box, `x1 y1 x2 y2` as fractions of the image |
//! | `span_feats` | `[B, S, LEX_FEATURES]` | f32 | lexical overlap with the instruction ([`lexical_features`]) |
//! | `span_valid` | `[B, S]` | f32 | 1 for a candidate, 0 for padding |
//!
//! with `S = max_candidates`. Outputs: `logits [B, P + S]` over the `P = cols · rows` patches
//! then the text candidates (padding at −1e4), `offsets [B, P, 2]` (where to click inside each
//! patch, in cells from its centre) and `anchor_logits [B, P]` (the first pointing step: the
//! object a referring expression is relative to).
//!
//! A package whose manifest says `"nothing": true` has one more logit, last in `logits`
//! (`[B, P + S + 1]`): **nothing** — the instruction names nothing on the frame. The softmax
//! runs over the live candidates and it; [`nothing_wins`] is the greedy rule.

use serde::{Deserialize, Serialize};

use crate::elements::{self, Element};
use crate::geometry::{BBox, Point};
use crate::text::{normalize, TextSpan};

/// Lexical features per text candidate (see [`lexical_features`]).
pub const LEX_FEATURES: usize = 4;
/// Graph input names, in order.
pub const INPUTS: [&str; 8] = [
    "pixel_values",
    "instr_ids",
    "instr_mask",
    "span_ids",
    "span_mask",
    "span_boxes",
    "span_feats",
    "span_valid",
];
/// Graph output names, in order.
pub const OUTPUTS: [&str; 3] = ["logits", "offsets", "anchor_logits"];
/// The logit of a padding candidate.
pub const PAD_LOGIT: f32 = -1e4;

/// How text is turned into hashed pieces. Part of a pointer package's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TextConfig {
    /// Size of the hashed piece vocabulary (id 0 is padding).
    pub buckets: u32,
    /// Instruction words kept (the rest are dropped).
    pub max_words: usize,
    /// Pieces per instruction word: the word, then its character trigrams.
    pub pieces_per_word: usize,
    /// Text candidates kept, the most instruction-like first.
    pub max_candidates: usize,
    /// Pieces per text candidate (its words' pieces, in order).
    pub pieces_per_span: usize,
    /// Element proposals ([`crate::elements`]) kept as candidates beside the text, nearest
    /// to the most instruction-like text first; 0 (packages made before them) = none.
    pub max_elements: usize,
}

impl Default for TextConfig {
    fn default() -> Self {
        Self {
            buckets: 8192,
            max_words: 24,
            pieces_per_word: 12,
            max_candidates: 64,
            pieces_per_span: 32,
            max_elements: 0,
        }
    }
}

impl TextConfig {
    /// Checks the ranges; the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(16..=1 << 20).contains(&self.buckets) {
            return Err(format!(
                "text.buckets {} is outside 16..=1048576",
                self.buckets
            ));
        }
        for (name, v, max) in [
            ("text.max_words", self.max_words, 256),
            ("text.pieces_per_word", self.pieces_per_word, 64),
            ("text.max_candidates", self.max_candidates, 1024),
            ("text.pieces_per_span", self.pieces_per_span, 256),
        ] {
            if v == 0 || v > max {
                return Err(format!("{name} {v} is outside 1..={max}"));
            }
        }
        if self.max_elements > self.max_candidates {
            return Err(format!(
                "text.max_elements {} is more than text.max_candidates {}",
                self.max_elements, self.max_candidates
            ));
        }
        Ok(())
    }
}

/// The pointer section of a package manifest (`"pointer": {…}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointerSpec {
    /// The graph file, e.g. `pointer.onnx`.
    pub graph: String,
    /// Input pixels per patch side (the visual encoder's stride).
    pub cell: u32,
    #[serde(default)]
    pub text: TextConfig,
    /// The graph has a last logit for "the instruction names nothing here" (absent: no).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub nothing: bool,
    /// Calibration of the nothing decision, in nats (absent: 0, the uncalibrated rule): the
    /// greedy answer is "nothing here" when `ln p(nothing) + nothing_bias` exceeds the log
    /// mass of the chosen region ([`nothing_wins`]). Positive refuses more. Only a package
    /// with the nothing head may set it; `reticle calibrate` chooses it on validation data.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub nothing_bias: f32,
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

/// The largest `nothing_bias` magnitude a manifest may hold: e^8 ≈ 3,000 times the odds.
pub const MAX_NOTHING_BIAS: f32 = 8.0;

impl PointerSpec {
    /// Width of the `logits` output: patches, text candidates, and the nothing logit if any.
    pub fn logits_len(&self, width: u32, height: u32) -> usize {
        let (c, r) = self.grid(width, height);
        c * r + self.text.max_candidates + usize::from(self.nothing)
    }

    /// Patch grid `(cols, rows)` of an input of `width × height`.
    pub fn grid(&self, width: u32, height: u32) -> (usize, usize) {
        let c = self.cell.max(1);
        ((width / c) as usize, (height / c) as usize)
    }

    pub fn validate(&self, width: u32, height: u32) -> Result<(), String> {
        if self.graph.is_empty() {
            return Err("pointer.graph is empty".into());
        }
        if self.cell == 0 || width % self.cell != 0 || height % self.cell != 0 {
            return Err(format!(
                "pointer.cell {} must divide the input size {width}×{height}",
                self.cell
            ));
        }
        if !(self.nothing_bias.is_finite() && self.nothing_bias.abs() <= MAX_NOTHING_BIAS) {
            return Err(format!(
                "pointer.nothing_bias {} is outside -{MAX_NOTHING_BIAS}..={MAX_NOTHING_BIAS}",
                self.nothing_bias
            ));
        }
        if self.nothing_bias != 0.0 && !self.nothing {
            return Err(
                "pointer.nothing_bias is set but the graph has no nothing logit \
                 (`pointer.nothing` is false)"
                    .into(),
            );
        }
        self.text.validate()
    }
}

/// What a text candidate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    Line,
    /// One word of a line with several.
    Word,
    /// An element proposal ([`crate::elements`]): a control or icon found in the pixels; its
    /// text is its description (`element square frame`).
    Element,
}

/// A text candidate in original image pixels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextCandidate {
    pub text: String,
    #[serde(rename = "box")]
    pub bbox: BBox,
    pub kind: CandidateKind,
}

/// The words of a text as compared: [`normalize`]d, split at spaces, punctuation trimmed
/// from both ends (inner punctuation stays: `8:16`, `report.pdf`).
pub fn words(text: &str) -> Vec<String> {
    normalize(text)
        .split(' ')
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()).to_string())
        .filter(|w| !w.is_empty())
        .collect()
}

/// FNV-1a, so ids are the same on every platform and in every crate.
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

fn piece_id(piece: &str, buckets: u32) -> i64 {
    i64::from(fnv1a(piece.as_bytes()) % (buckets - 1) + 1)
}

/// The hashed pieces of one word: the whole word, then its character trigrams with
/// boundary marks (`<ok>` → `<ok`, `ok>`), at most `max`.
pub fn word_pieces(word: &str, buckets: u32, max: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(max);
    out.push(piece_id(&format!("w:{word}"), buckets));
    let chars: Vec<char> = format!("<{word}>").chars().collect();
    for win in chars.windows(3) {
        if out.len() >= max {
            break;
        }
        let tri: String = win.iter().collect();
        out.push(piece_id(&tri, buckets));
    }
    out.truncate(max);
    out
}

/// A word as compared with another: in a word with a letter, the digits a text reader
/// confuses with letters are folded (`0` → `o`, `1` and `|` → `l`), so that `0K` read from a
/// bitmap font matches "OK" and `Cance1` matches "Cancel"; numbers stay as they are. Letters
/// are never folded into each other (`i` → `l` would make "in" match `Ln`). Used for the
/// lexical features only; a candidate's pieces keep the text as read.
pub fn match_form(word: &str) -> String {
    if !word.chars().any(char::is_alphabetic) {
        return word.to_string();
    }
    word.chars()
        .map(|c| match c {
            '0' => 'o',
            '1' | '|' => 'l',
            c => c,
        })
        .collect()
}

/// Lexical overlap of a candidate's words with the instruction's, compared in
/// [`match_form`]: `[share of the candidate's words in the instruction, 1 if the candidate's
/// words appear as a contiguous run of the instruction's, share of the instruction's words
/// covered, 1 for a word of a longer line]`.
pub fn lexical_features(cand: &[String], instr: &[String], kind: CandidateKind) -> [f32; 4] {
    let cand: Vec<String> = cand.iter().map(|w| match_form(w)).collect();
    let instr: Vec<String> = instr.iter().map(|w| match_form(w)).collect();
    let (cand, instr) = (&cand[..], &instr[..]);
    // An element's description is not read text: "the small square" must not match it.
    if cand.is_empty() || kind == CandidateKind::Element {
        return [
            0.0,
            0.0,
            0.0,
            f32::from(u8::from(kind == CandidateKind::Word)),
        ];
    }
    let found = cand.iter().filter(|w| instr.contains(w)).count();
    let run = instr.len() >= cand.len()
        && (0..=instr.len() - cand.len()).any(|s| instr[s..s + cand.len()] == cand[..]);
    let covered = instr.iter().filter(|w| cand.contains(w)).count();
    [
        found as f32 / cand.len() as f32,
        f32::from(u8::from(run)),
        covered as f32 / instr.len().max(1) as f32,
        f32::from(u8::from(kind == CandidateKind::Word)),
    ]
}

/// The inputs of one frame as a policy sees it — the training encoder and the runtime both
/// call this: the element proposals found on the frame when `cfg.max_elements` > 0
/// (`components` gives the frame's edge components, [`elements::Components::find`] on its
/// original pixels, and is called only then), then [`text_inputs`] over `spans` and them.
pub fn frame_inputs<E, C: std::borrow::Borrow<elements::Components>>(
    instruction: &str,
    spans: &[TextSpan],
    (width, height): (u32, u32),
    cfg: &TextConfig,
    components: impl FnOnce() -> Result<C, E>,
) -> Result<TextInputs, E> {
    let elements = if cfg.max_elements > 0 {
        components()?
            .borrow()
            .elements(&elements::text_boxes(spans))
    } else {
        Vec::new()
    };
    Ok(text_inputs(
        instruction,
        spans,
        &elements,
        width,
        height,
        cfg,
    ))
}

/// The candidates of a frame, cut to `cfg.max_candidates`: every line with a letter or digit,
/// plus each word of a line with several, ordered by lexical overlap with the instruction
/// (then reading order) — except that up to `cfg.max_elements` element proposals go right
/// after the text that overlaps the instruction, the nearest to the best such text first (in
/// reading order when no text overlaps).
pub fn candidates(
    spans: &[TextSpan],
    elements: &[Element],
    instruction: &str,
    cfg: &TextConfig,
) -> Vec<TextCandidate> {
    let instr = words(instruction);
    let mut all: Vec<(f32, usize, TextCandidate)> = Vec::new();
    let mut push = |text: &str, bbox: BBox, kind: CandidateKind| {
        let w = words(text);
        if w.is_empty() || !(bbox.width() > 0.0 && bbox.height() > 0.0) {
            return;
        }
        let f = lexical_features(&w, &instr, kind);
        let order = all.len();
        all.push((
            f[0] + f[1] + f[2],
            order,
            TextCandidate {
                text: text.to_string(),
                bbox,
                kind,
            },
        ));
    };
    for span in spans {
        push(&span.text, span.bbox, CandidateKind::Line);
        if span.words.len() > 1 {
            for w in &span.words {
                push(&w.text, w.bbox, CandidateKind::Word);
            }
        }
    }
    for (text, bbox) in run_together(spans, &instr) {
        push(&text, bbox, CandidateKind::Word);
    }
    all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let matched = all.iter().take_while(|c| c.0 > 0.0).count();
    let mut els: Vec<&Element> = elements.iter().collect();
    if let Some(best) = all.first().filter(|c| c.0 > 0.0) {
        let at = best.2.bbox.center();
        let dist = |e: &Element| {
            let c = e.bbox.center();
            (c.x - at.x).powi(2) + (c.y - at.y).powi(2)
        };
        els.sort_by(|a, b| dist(a).total_cmp(&dist(b)));
    }
    let mut out: Vec<TextCandidate> = Vec::with_capacity(cfg.max_candidates);
    let mut rest = all.into_iter().map(|(_, _, c)| c);
    out.extend(rest.by_ref().take(matched));
    out.extend(
        els.into_iter()
            .take(cfg.max_elements)
            .map(|e| TextCandidate {
                text: e.description(),
                bbox: e.bbox,
                kind: CandidateKind::Element,
            }),
    );
    out.extend(rest);
    out.truncate(cfg.max_candidates);
    out
}

/// Instruction words never looked for inside a read word (they would cut "Theme" or "Often").
const RUN_TOGETHER_SKIP: [&str; 24] = [
    "the", "a", "an", "to", "of", "in", "on", "at", "for", "and", "or", "with", "this", "that",
    "it", "my", "click", "press", "tap", "select", "open", "button", "field", "link",
];

/// Parts of run-together read words. A reader may read adjacent labels as one word — on a
/// black root window xmessage's `Cancel` `OK` buttons read `Cance10K` — and then nothing on
/// the screen says "OK". Where no read word is an instruction word (in [`match_form`]) but a
/// read word begins or ends with it, leaving at least two more characters, and the word's
/// case changes there (lower case before the cut, a capital after it: `Cance1|0K`, not
/// `User|name` or `Up|date`), that part becomes a candidate of its own, its box cut from the
/// word's in proportion to the characters.
fn run_together(spans: &[TextSpan], instr: &[String]) -> Vec<(String, BBox)> {
    // (compared form, raw characters, box) of each read word; the raw text keeps its case.
    let read: Vec<(Vec<char>, Vec<char>, BBox)> = crate::text::read_words(spans)
        .filter_map(|(t, b)| {
            let raw: Vec<char> = t
                .trim_matches(|c: char| !c.is_alphanumeric())
                .chars()
                .collect();
            match &words(t)[..] {
                [w] if w.chars().count() == raw.len() => {
                    Some((match_form(w).chars().collect(), raw, b))
                }
                _ => None,
            }
        })
        .collect();
    // A cut at `k` of `raw`: a lower-case letter before it, a capital first after it.
    let case_changes = |raw: &[char], k: usize| {
        raw[..k].iter().any(|c| c.is_lowercase())
            && raw[k..]
                .iter()
                .find(|c| c.is_alphabetic())
                .is_some_and(|c| c.is_uppercase())
    };
    let seen: Vec<String> = spans
        .iter()
        .flat_map(|s| words(&s.text))
        .map(|w| match_form(&w))
        .collect();
    let mut out = Vec::new();
    let mut looked: Vec<String> = Vec::new();
    for iw in instr {
        let f: Vec<char> = match_form(iw).chars().collect();
        let form: String = f.iter().collect();
        if f.len() < 2
            || RUN_TOGETHER_SKIP.contains(&form.as_str())
            || seen.contains(&form)
            || looked.contains(&form)
        {
            continue;
        }
        looked.push(form);
        for (m, raw, b) in &read {
            // match_form maps character to character, so `m` and `raw` line up.
            let (n, k) = (m.len(), f.len());
            if n < k + 2 {
                continue;
            }
            let cut = b.width() * k as f64 / n as f64;
            if m[..k] == f[..] && case_changes(raw, k) {
                let part: String = raw[..k].iter().collect();
                out.push((part, BBox::new(b.x1, b.y1, b.x1 + cut, b.y2)));
            }
            if m[n - k..] == f[..] && case_changes(raw, n - k) {
                let part: String = raw[n - k..].iter().collect();
                out.push((part, BBox::new(b.x2 - cut, b.y1, b.x2, b.y2)));
            }
        }
    }
    out
}

/// The hashed pieces of a candidate: its words' pieces in order; an element's description
/// words are marked (`e:frame`), so they never share a piece with read text.
fn candidate_pieces(c: &TextCandidate, cfg: &TextConfig) -> Vec<i64> {
    let mut pieces = Vec::with_capacity(cfg.pieces_per_span);
    for w in words(&c.text) {
        let w = if c.kind == CandidateKind::Element {
            format!("e:{w}")
        } else {
            w
        };
        pieces.extend(word_pieces(&w, cfg.buckets, cfg.pieces_per_word));
    }
    pieces.truncate(cfg.pieces_per_span);
    pieces
}

/// The text inputs of one batch row (flat, row-major in the shapes of the module table).
#[derive(Debug, Clone, PartialEq)]
pub struct TextInputs {
    pub instr_ids: Vec<i64>,
    pub instr_mask: Vec<f32>,
    pub span_ids: Vec<i64>,
    pub span_mask: Vec<f32>,
    pub span_boxes: Vec<f32>,
    pub span_feats: Vec<f32>,
    pub span_valid: Vec<f32>,
    /// The candidates in slot order (slots past `candidates.len()` are padding).
    pub candidates: Vec<TextCandidate>,
}

/// Builds the text inputs for `instruction` over `spans` read on an image of
/// `width × height` original pixels and the `elements` proposed on it (see [`frame_inputs`]).
pub fn text_inputs(
    instruction: &str,
    spans: &[TextSpan],
    elements: &[Element],
    width: u32,
    height: u32,
    cfg: &TextConfig,
) -> TextInputs {
    let (lw, kw, s, ks) = (
        cfg.max_words,
        cfg.pieces_per_word,
        cfg.max_candidates,
        cfg.pieces_per_span,
    );
    let instr = words(instruction);
    let mut out = TextInputs {
        instr_ids: vec![0; lw * kw],
        instr_mask: vec![0.0; lw * kw],
        span_ids: vec![0; s * ks],
        span_mask: vec![0.0; s * ks],
        span_boxes: vec![0.0; s * 4],
        span_feats: vec![0.0; s * LEX_FEATURES],
        span_valid: vec![0.0; s],
        candidates: candidates(spans, elements, instruction, cfg),
    };
    for (i, w) in instr.iter().take(lw).enumerate() {
        for (j, id) in word_pieces(w, cfg.buckets, kw).into_iter().enumerate() {
            out.instr_ids[i * kw + j] = id;
            out.instr_mask[i * kw + j] = 1.0;
        }
    }
    let (fw, fh) = (f64::from(width.max(1)), f64::from(height.max(1)));
    for (i, c) in out.candidates.iter().enumerate() {
        let cw = words(&c.text);
        for (j, id) in candidate_pieces(c, cfg).into_iter().enumerate() {
            out.span_ids[i * ks + j] = id;
            out.span_mask[i * ks + j] = 1.0;
        }
        let b = c.bbox;
        let nb = [b.x1 / fw, b.y1 / fh, b.x2 / fw, b.y2 / fh];
        for (k, v) in nb.into_iter().enumerate() {
            out.span_boxes[i * 4 + k] = v.clamp(0.0, 1.0) as f32;
        }
        let f = lexical_features(&cw, &instr, c.kind);
        out.span_feats[i * LEX_FEATURES..(i + 1) * LEX_FEATURES].copy_from_slice(&f);
        out.span_valid[i] = 1.0;
    }
    out
}

/// Where a candidate clicks, in original pixels: a patch's centre moved by its offset (in
/// cells, clamped to ±1), or a text candidate's box centre.
#[allow(clippy::too_many_arguments)]
pub fn click_point(
    index: usize,
    offsets: &[f32],
    grid: (usize, usize),
    cell: u32,
    input: (u32, u32),
    original: (u32, u32),
    text: &[TextCandidate],
) -> Option<Point> {
    let (cols, rows) = grid;
    let p = cols * rows;
    if index >= p {
        let c = text.get(index - p)?;
        return Some(c.bbox.center());
    }
    let (r, c) = (index / cols, index % cols);
    let dx = offsets
        .get(index * 2)
        .copied()
        .unwrap_or(0.0)
        .clamp(-1.0, 1.0);
    let dy = offsets
        .get(index * 2 + 1)
        .copied()
        .unwrap_or(0.0)
        .clamp(-1.0, 1.0);
    let cell = f64::from(cell);
    let x = (c as f64 + 0.5 + f64::from(dx)) * cell;
    let y = (r as f64 + 0.5 + f64::from(dy)) * cell;
    let sx = f64::from(original.0) / f64::from(input.0.max(1));
    let sy = f64::from(original.1) / f64::from(input.1.max(1));
    Some(Point::new(
        (x * sx).clamp(0.0, f64::from(original.0) - 0.5),
        (y * sy).clamp(0.0, f64::from(original.1) - 0.5),
    ))
}

/// The centre of patch `index` in original pixels.
pub fn patch_center(
    index: usize,
    grid: (usize, usize),
    cell: u32,
    input: (u32, u32),
    original: (u32, u32),
) -> Point {
    let cols = grid.0.max(1);
    let (r, c) = (index / cols, index % cols);
    let cell = f64::from(cell);
    let sx = f64::from(original.0) / f64::from(input.0.max(1));
    let sy = f64::from(original.1) / f64::from(input.1.max(1));
    Point::new((c as f64 + 0.5) * cell * sx, (r as f64 + 0.5) * cell * sy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::Word;

    fn span(text: &str, x: f64) -> TextSpan {
        let words = text
            .split(' ')
            .enumerate()
            .map(|(i, w)| Word {
                text: w.into(),
                bbox: BBox::new(x + i as f64 * 40.0, 0.0, x + i as f64 * 40.0 + 30.0, 10.0),
            })
            .collect();
        TextSpan {
            icon: None,
            text: text.into(),
            bbox: BBox::new(x, 0.0, x + 100.0, 10.0),
            score: 0.9,
            words,
        }
    }

    #[test]
    fn words_fold_case_and_trim_punctuation() {
        assert_eq!(
            words("Click  the “OK” button!"),
            ["click", "the", "ok", "button"]
        );
        assert_eq!(words("report.pdf 8:16"), ["report.pdf", "8:16"]);
        assert!(words("… —").is_empty());
    }

    #[test]
    fn matching_candidates_come_first_and_features_say_why() {
        let spans = [
            span("Save", 0.0),
            span("Cancel", 200.0),
            span("Keep me signed", 400.0),
        ];
        let cfg = TextConfig::default();
        let c = candidates(&spans, &[], "click the Cancel button", &cfg);
        assert_eq!(c[0].text, "Cancel");
        // A line with three words adds its words.
        assert_eq!(c.len(), 3 + 3);
        let t = text_inputs("toggle keep me signed", &spans, &[], 1000, 100, &cfg);
        assert_eq!(t.candidates[0].text, "Keep me signed");
        assert_eq!(&t.span_feats[..4], &[1.0, 1.0, 0.75, 0.0]);
        assert_eq!(t.span_valid.iter().sum::<f32>(), 6.0);
        assert_eq!(t.span_boxes[0], 0.4);
        // "toggle": the word and the 6 trigrams of "<toggle>".
        assert_eq!(t.instr_mask[..cfg.pieces_per_word].iter().sum::<f32>(), 7.0);
        assert_eq!(t.instr_ids[4 * cfg.pieces_per_word], 0);
    }

    #[test]
    fn run_together_labels_are_cut_where_nothing_else_reads_the_named_word() {
        // xmessage's `Cancel` `OK` on a black root, as PP-OCRv6 reads it.
        let merged = TextSpan {
            icon: None,
            text: "Cance10K".into(),
            bbox: BBox::new(571.0, 403.0, 652.0, 423.0),
            score: 0.84,
            words: vec![],
        };
        let cfg = TextConfig::default();
        let c = candidates(
            std::slice::from_ref(&merged),
            &[],
            "click the OK button",
            &cfg,
        );
        assert_eq!(c[0].text, "0K");
        assert_eq!(c[0].kind, CandidateKind::Word);
        // The last two of eight characters.
        assert!((c[0].bbox.x1 - (652.0 - 81.0 * 2.0 / 8.0)).abs() < 1e-9);
        assert_eq!(c[0].bbox.x2, 652.0);
        let c = candidates(std::slice::from_ref(&merged), &[], "click Cancel", &cfg);
        assert_eq!(c[0].text, "Cance1");
        assert!((c[0].bbox.x2 - (571.0 + 81.0 * 6.0 / 8.0)).abs() < 1e-9);
        // Not where another word reads "OK", nor for "the", nor leaving one character.
        let ok = span("OK", 0.0);
        let c = candidates(&[merged.clone(), ok], &[], "click the OK button", &cfg);
        assert_eq!(c.len(), 2);
        let theme = span("Themes", 0.0);
        assert_eq!(
            candidates(&[theme], &[], "click the Save button", &cfg).len(),
            1
        );
        assert_eq!(
            candidates(&[span("Oks", 0.0)], &[], "click OK", &cfg).len(),
            1
        );
    }

    #[test]
    fn elements_follow_the_matching_text_nearest_first_and_never_match_words() {
        let spans = [span("Save", 0.0), span("Remember me", 300.0)];
        let el = |x: f64| Element {
            bbox: BBox::new(x, 0.0, x + 12.0, 12.0),
            shape: vec!["square", "frame"],
        };
        let els = [el(0.0), el(280.0), el(600.0)];
        let mut cfg = TextConfig {
            max_elements: 2,
            ..TextConfig::default()
        };
        let c = candidates(&spans, &els, "tick the square box Remember me", &cfg);
        let kinds: Vec<_> = c.iter().map(|c| c.kind).collect();
        // The matching line and its two words, then the two elements nearest to the line.
        assert_eq!(
            &kinds[..3],
            [CandidateKind::Line; 1]
                .iter()
                .chain(&[CandidateKind::Word; 2])
                .copied()
                .collect::<Vec<_>>()
        );
        assert_eq!(c[3].kind, CandidateKind::Element);
        assert_eq!(c[3].bbox.x1, 280.0);
        assert_eq!(c[4].bbox.x1, 600.0);
        assert_eq!(c[5].text, "Save");
        assert_eq!(c.len(), 6);
        let t = text_inputs("tick the square box", &spans, &els, 1000, 100, &cfg);
        let e = t
            .candidates
            .iter()
            .position(|c| c.kind == CandidateKind::Element)
            .unwrap();
        assert_eq!(t.candidates[e].text, "element square frame");
        // "square" in the instruction does not make the description lexically similar…
        assert_eq!(&t.span_feats[e * 4..e * 4 + 4], &[0.0; 4]);
        // …and its pieces are marked, unlike the word "square".
        let ks = cfg.pieces_per_span;
        assert_eq!(
            t.span_ids[e * ks],
            word_pieces("e:element", cfg.buckets, 12)[0]
        );
        assert!(
            !t.span_ids[e * ks..(e + 1) * ks].contains(&word_pieces("square", cfg.buckets, 12)[0])
        );
        cfg.max_elements = 0;
        assert!(candidates(&spans, &els, "tick", &cfg)
            .iter()
            .all(|c| c.kind != CandidateKind::Element));
        cfg.max_elements = 65;
        assert!(cfg.validate().unwrap_err().contains("text.max_elements"));
    }

    #[test]
    fn reading_confusions_still_match() {
        let f = |c: &str, i: &str| lexical_features(&words(c), &words(i), CandidateKind::Line);
        assert_eq!(f("0K", "click the OK button")[0], 1.0);
        assert_eq!(f("Cance1", "click Cancel")[0], 1.0);
        assert_eq!(f("Fi1e", "open the File menu")[1], 1.0);
        assert_eq!(f("Save", "click OK")[0], 0.0);
        // Numbers stay numbers; letters never fold into each other.
        assert_eq!(match_form("10115"), "10115");
        assert_eq!(f("10115", "the field with 10115")[0], 1.0);
        assert_eq!(f("Ln", "click Tools in the menu bar")[0], 0.0);
    }

    #[test]
    fn pieces_are_stable_and_bounded() {
        let a = word_pieces("cancel", 8192, 12);
        assert_eq!(a, word_pieces("cancel", 8192, 12));
        assert_eq!(a.len(), 7); // the word + 6 trigrams of "<cancel>"
        assert!(a.iter().all(|&i| (1..8192).contains(&i)));
        assert_eq!(word_pieces("internationalisation", 8192, 12).len(), 12);
    }

    #[test]
    fn clicks_map_back_to_original_pixels() {
        let grid = (4, 2);
        let off = vec![0.0; 16];
        let p = click_point(5, &off, grid, 8, (32, 16), (64, 32), &[]).unwrap();
        assert_eq!((p.x, p.y), (24.0, 24.0));
        let t = [TextCandidate {
            text: "OK".into(),
            bbox: BBox::new(10.0, 10.0, 20.0, 20.0),
            kind: CandidateKind::Line,
        }];
        assert_eq!(
            click_point(8, &off, grid, 8, (32, 16), (64, 32), &t)
                .unwrap()
                .x,
            15.0
        );
        assert!(click_point(9, &off, grid, 8, (32, 16), (64, 32), &t).is_none());
    }
}

/// Where a greedy pointer clicks: GUI-Actor's rule. Text candidates spread their probability
/// over the patches they cover, the patches at or above `REGION_THRESHOLD` × the highest
/// form 4-connected regions, and the region with the most probability wins. The click is the
/// centre of a text candidate over the region when it is the most probable single candidate
/// there, else the region's probability-weighted centre (a one-patch region: the patch's
/// refined point); the confidence is the region's probability: a large target
/// whose mass is spread over many patches is as sure as a small one.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub point: Point,
    /// Probability mass of the chosen region (0..1).
    pub confidence: f32,
    /// The most probable candidate inside the region (a patch or a text candidate).
    pub best: usize,
    /// Patches of the region.
    pub region: Vec<usize>,
}

/// The greedy answer of a policy with a nothing logit: "nothing here" when its probability
/// `p_nothing`, times `e^bias` (the manifest's `nothing_bias`; 0 uncalibrated), exceeds the
/// mass of the region the click rule would choose (or when there is no region at all). The
/// trainer's evaluation (bias 0) and the runtime both decide with this.
pub fn nothing_wins(p_nothing: f32, selection: Option<&Selection>, bias: f32) -> bool {
    selection.is_none_or(|s| nothing_margin(p_nothing, s.confidence) + bias > 0.0)
}

/// `ln p_nothing − ln region`: the smallest bias at which "nothing here" would win is its
/// negation. Both probabilities are floored at `f32::MIN_POSITIVE`, so the margin is finite.
pub fn nothing_margin(p_nothing: f32, region: f32) -> f32 {
    p_nothing.max(f32::MIN_POSITIVE).ln() - region.max(f32::MIN_POSITIVE).ln()
}

/// Fraction of the highest patch mass a patch needs to join a region.
pub const REGION_THRESHOLD: f32 = 0.3;
/// A patch in a region holds at least this many times the uniform probability.
pub const UNIFORM_FACTOR: f32 = 4.0;

/// The patches (row-major) a box in original pixels overlaps.
fn covered_patches(b: &BBox, grid: (usize, usize), original: (u32, u32)) -> Vec<usize> {
    let (cols, rows) = grid;
    let fx = cols as f64 / f64::from(original.0.max(1));
    let fy = rows as f64 / f64::from(original.1.max(1));
    let c0 = (b.x1 * fx).floor().clamp(0.0, cols as f64 - 1.0) as usize;
    let c1 = ((b.x2 * fx).ceil() as usize).clamp(c0 + 1, cols);
    let r0 = (b.y1 * fy).floor().clamp(0.0, rows as f64 - 1.0) as usize;
    let r1 = ((b.y2 * fy).ceil() as usize).clamp(r0 + 1, rows);
    (r0..r1)
        .flat_map(|r| (c0..c1).map(move |c| r * cols + c))
        .collect()
}

/// Applies the greedy rule to `probs` (`P` patch probabilities then one per text candidate,
/// summing to 1 over the live slots).
pub fn select(
    probs: &[f32],
    offsets: &[f32],
    grid: (usize, usize),
    cell: u32,
    input: (u32, u32),
    original: (u32, u32),
    text: &[TextCandidate],
) -> Option<Selection> {
    let (cols, rows) = grid;
    let p = cols * rows;
    if p == 0 || probs.len() < p {
        return None;
    }
    let mut mass: Vec<f32> = probs[..p].to_vec();
    let mut cover: Vec<Vec<usize>> = Vec::with_capacity(text.len());
    for (k, c) in text.iter().enumerate() {
        let cells = covered_patches(&c.bbox, grid, original);
        let share = probs.get(p + k).copied().unwrap_or(0.0) / cells.len().max(1) as f32;
        for &i in &cells {
            mass[i] += share;
        }
        cover.push(cells);
    }
    let top = mass.iter().copied().fold(0.0f32, f32::max);
    if top.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    // A patch joins a region only when it is clearly above the uniform level: a flat
    // distribution has no region, and then the single most probable candidate is the click
    // and its own probability the confidence (else a flat map would be one huge region
    // holding all the mass, i.e. "sure").
    let floor = UNIFORM_FACTOR / probs.len() as f32;
    let thr = (top * REGION_THRESHOLD).max(floor);
    if top < floor {
        let best = (0..probs.len()).fold(0, |b, i| if probs[i] > probs[b] { i } else { b });
        return Some(Selection {
            point: click_point(best, offsets, grid, cell, input, original, text)?,
            confidence: probs[best],
            best,
            region: if best < p { vec![best] } else { Vec::new() },
        });
    }
    let mut label = vec![usize::MAX; p];
    let mut best_region: Option<(f32, Vec<usize>)> = None;
    for start in 0..p {
        if label[start] != usize::MAX || mass[start] < thr {
            continue;
        }
        let mut region = vec![start];
        label[start] = start;
        let mut i = 0;
        while i < region.len() {
            let cur = region[i];
            i += 1;
            let (r, c) = (cur / cols, cur % cols);
            let mut visit = |n: usize| {
                if label[n] == usize::MAX && mass[n] >= thr {
                    label[n] = start;
                    region.push(n);
                }
            };
            if c > 0 {
                visit(cur - 1);
            }
            if c + 1 < cols {
                visit(cur + 1);
            }
            if r > 0 {
                visit(cur - cols);
            }
            if r + 1 < rows {
                visit(cur + cols);
            }
        }
        let total: f32 = region.iter().map(|&i| mass[i]).sum();
        if best_region.as_ref().is_none_or(|(t, _)| total > *t) {
            best_region = Some((total, region));
        }
    }
    let (confidence, mut region) = best_region?;
    region.sort_unstable();
    // The region says where; the most probable single candidate in it says the exact point:
    // a patch of it (its refined point) or a text candidate over it (its box centre).
    let mut best = region
        .iter()
        .copied()
        .fold(region[0], |b, i| if probs[i] > probs[b] { i } else { b });
    for (k, cells) in cover.iter().enumerate() {
        let pk = probs.get(p + k).copied().unwrap_or(0.0);
        if pk > probs[best] && cells.iter().any(|i| region.binary_search(i).is_ok()) {
            best = p + k;
        }
    }
    let point = if region.len() == 1 || best >= p {
        click_point(best, offsets, grid, cell, input, original, text)?
    } else {
        // Spread over several patches (a checkbox straddling cells, a field): their
        // probability-weighted centre.
        let (mut sx, mut sy, mut sw) = (0.0f64, 0.0f64, 0.0f64);
        for &i in &region {
            let c = patch_center(i, grid, cell, input, original);
            let w = f64::from(mass[i]);
            sx += c.x * w;
            sy += c.y * w;
            sw += w;
        }
        Point::new(sx / sw, sy / sw)
    };
    Some(Selection {
        point,
        confidence: confidence.min(1.0),
        best,
        region,
    })
}

#[cfg(test)]
mod selection_tests {
    use super::*;

    #[test]
    fn a_flat_distribution_is_not_one_sure_region() {
        let mut probs = vec![1.0f32 / 8.0; 8];
        probs[3] = 0.13;
        probs[0] = 0.12;
        let s = select(&probs, &[0.0; 16], (4, 2), 8, (32, 16), (32, 16), &[]).unwrap();
        assert_eq!(s.best, 3);
        assert!((s.confidence - 0.13).abs() < 1e-6, "{}", s.confidence);
    }

    #[test]
    fn the_region_with_the_most_mass_wins_over_a_lone_peak() {
        // 8×4 grid: one lone patch at 0.2, a 3-patch region of 0.15 each (0.45 in all),
        // the rest spread thin.
        let mut probs = vec![0.35f32 / 28.0; 32];
        probs[0] = 0.2;
        for i in [13, 14, 15] {
            probs[i] = 0.15;
        }
        let s = select(&probs, &[0.0; 64], (8, 4), 8, (64, 32), (64, 32), &[]).unwrap();
        assert_eq!(s.region, vec![13, 14, 15]);
        assert!((s.confidence - 0.45).abs() < 1e-5, "{}", s.confidence);
        assert!((s.point.x - 52.0).abs() < 1e-6 && (s.point.y - 12.0).abs() < 1e-6);
    }

    #[test]
    fn a_text_candidate_spreads_over_its_patches_and_is_clicked_at_its_centre() {
        let t = [TextCandidate {
            text: "OK".into(),
            bbox: BBox::new(16.0, 0.0, 32.0, 8.0),
            kind: CandidateKind::Word,
        }];
        let mut probs = vec![0.01f32; 33];
        probs[32] = 0.68; // the text candidate
        let s = select(&probs, &[0.0; 64], (8, 4), 8, (64, 32), (64, 32), &t).unwrap();
        assert_eq!(s.best, 32);
        assert_eq!((s.point.x, s.point.y), (24.0, 4.0));
        assert_eq!(s.region, vec![2, 3]);
        assert!((s.confidence - 0.70).abs() < 1e-5, "{}", s.confidence);
    }

    #[test]
    fn the_nothing_bias_scales_the_odds_of_nothing() {
        let s = Selection {
            point: Point::new(0.0, 0.0),
            confidence: 0.4,
            best: 0,
            region: vec![0],
        };
        assert!(!nothing_wins(0.2, Some(&s), 0.0));
        // ln 0.2 + ln 2 = ln 0.4: not above; a hair more bias is.
        assert!(!nothing_wins(0.2, Some(&s), 2f32.ln() - 1e-4));
        assert!(nothing_wins(0.2, Some(&s), 2f32.ln() + 1e-4));
        assert!(!nothing_wins(0.5, Some(&s), -0.3));
        assert!(nothing_wins(0.0, None, -MAX_NOTHING_BIAS));
        assert!((nothing_margin(0.2, 0.4) + 2f32.ln()).abs() < 1e-6);
        assert!(nothing_margin(0.0, 0.0).is_finite());
    }

    #[test]
    fn a_nothing_bias_needs_the_head_and_a_finite_value_in_range() {
        let mut spec = PointerSpec {
            graph: "pointer.onnx".into(),
            cell: 8,
            text: TextConfig::default(),
            nothing: true,
            nothing_bias: -1.5,
        };
        assert_eq!(spec.validate(64, 48), Ok(()));
        for bad in [f32::NAN, f32::INFINITY, 8.5, -9.0] {
            spec.nothing_bias = bad;
            assert!(
                spec.validate(64, 48).unwrap_err().contains("nothing_bias"),
                "{bad}"
            );
        }
        spec.nothing_bias = 1.0;
        spec.nothing = false;
        assert!(spec
            .validate(64, 48)
            .unwrap_err()
            .contains("no nothing logit"));
        // Absent in JSON = 0, and 0 is not written.
        spec.nothing_bias = 0.0;
        let json = serde_json::to_string(&spec).unwrap();
        assert!(!json.contains("nothing_bias"), "{json}");
        assert_eq!(serde_json::from_str::<PointerSpec>(&json).unwrap(), spec);
    }
}
