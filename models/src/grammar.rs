//! The answer grammar every reticle model writes, and its total parser.
//!
//! ```text
//! completion := ws? ( "<think>" THINK "</think>" ws? )? "<answer>" ANSWER "</answer>" ws?
//! ANSWER     := ws? value ws?
//! value      := points | boxes | "[]" | count | label
//! points     := point ( ws? "," ws? point )*
//! point      := "(" int "," int ")"
//! boxes      := box ( ws? "," ws? box )*
//! box        := "[" int "," int "," int "," int ( "," conf )? "]"
//! count      := digit+                                (fits in a u32)
//! label      := any other text that has no tag in it
//! int        := digit+ (at most MAX_COORD)            conf := digit+ ( "." digit+ )?  (in 0..=1)
//! ```
//! Whitespace (`ws`, including newlines) is allowed around every number, bracket and comma.
//!
//! Decisions, all strict so that the format reward means something:
//! - coordinates are non-negative decimal integers: `-3`, `3.5`, `1e3` and `+3` are
//!   [`ParseError::BadNumber`]; larger than [`MAX_COORD`] is [`ParseError::NumberOutOfRange`];
//! - a box is written top-left corner first: `[30,2,3,40]` (x1 > x2) is
//!   [`ParseError::InvertedBox`]; a zero-width or zero-height box is allowed;
//! - a list holds points or boxes, never both ([`ParseError::MixedList`]); `[]` is the
//!   empty detection list ("nothing found");
//! - text after `</answer>`, and text between `</think>` and `<answer>`, is an error;
//! - tags are exact and case-sensitive; a tag inside the reasoning or the answer is an error;
//! - text before the first tag is an error for [`parse_in_mode`] (the format reward) and is
//!   ignored by [`parse`], which extracts the answer for the task rewards and evaluation.
//!
//! The parser is total: it returns a value or a typed error for every string, never panics,
//! and is fuzzed (`scripts/fuzz.sh`) and property-tested below.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::geometry::{BBox, Point};

/// The largest coordinate the grammar accepts. Far above any norm1000 or pixel frame, small
/// enough that every accepted value is exact in an `f64`.
pub const MAX_COORD: u64 = 1_000_000;

const THINK_OPEN: &str = "<think>";
const THINK_CLOSE: &str = "</think>";
const ANSWER_OPEN: &str = "<answer>";
const ANSWER_CLOSE: &str = "</answer>";

/// How a completion is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// `<think>…</think><answer>…</answer>`.
    Think,
    /// `<answer>…</answer>`.
    Direct,
}

/// One predicted box with the model's optional confidence in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Detection {
    pub bbox: BBox,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// What an answer says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// One or more points `(x,y)`.
    Points(Vec<Point>),
    /// Zero (`[]`) or more boxes `[x1,y1,x2,y2]` or `[x1,y1,x2,y2,conf]`.
    Boxes(Vec<Detection>),
    /// A bare non-negative integer.
    Count(u32),
    /// Any other text, trimmed.
    Label(String),
}

/// A parsed completion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    pub mode: Mode,
    /// The reasoning between `<think>` and `</think>`, as written (thinking mode only).
    pub think: Option<String>,
    /// The answer content between `<answer>` and `</answer>`, as written.
    pub text: String,
    pub value: Value,
}

/// Why a completion does not follow the grammar. Offsets are byte offsets into the whole
/// completion.
#[derive(thiserror::Error, Debug, Clone, PartialEq)]
pub enum ParseError {
    #[error("no `<answer>` tag")]
    MissingAnswer,
    #[error("thinking mode needs `<think>…</think>` before the answer")]
    MissingThink,
    #[error("direct mode has no `<think>` block")]
    UnexpectedThink,
    #[error("`<{tag}>` opened at byte {offset} is never closed")]
    UnclosedTag { tag: &'static str, offset: usize },
    #[error("text before the first tag at byte {offset}")]
    TextBeforeTag { offset: usize },
    #[error("text between `</think>` and `<answer>` at byte {offset}")]
    TextBetweenTags { offset: usize },
    #[error("text after `</answer>` at byte {offset}")]
    TextAfterAnswer { offset: usize },
    #[error("unexpected tag `{tag}` at byte {offset}")]
    StrayTag { tag: &'static str, offset: usize },
    #[error("empty answer")]
    EmptyAnswer,
    #[error("expected a non-negative integer at byte {offset}, found `{found}`")]
    BadNumber { offset: usize, found: String },
    #[error("number at byte {offset} is larger than {max}")]
    NumberOutOfRange { offset: usize, max: u64 },
    #[error("expected a confidence in 0..=1 at byte {offset}, found `{found}`")]
    BadConfidence { offset: usize, found: String },
    #[error("a {kind} has {expected} numbers, found {found} at byte {offset}")]
    WrongArity {
        kind: &'static str,
        expected: &'static str,
        found: usize,
        offset: usize,
    },
    #[error(
        "box at byte {offset} has its corners swapped (write [x1,y1,x2,y2] with x1<=x2, y1<=y2)"
    )]
    InvertedBox { offset: usize },
    #[error("points and boxes mixed in one list at byte {offset}")]
    MixedList { offset: usize },
    #[error("expected {expected} at byte {offset}, found `{found}`")]
    Syntax {
        offset: usize,
        expected: &'static str,
        found: String,
    },
}

impl Value {
    /// The point an answer designates: the first point, or the centre of the first box.
    pub fn first_point(&self) -> Option<Point> {
        match self {
            Value::Points(ps) => ps.first().copied(),
            Value::Boxes(ds) => ds.first().map(|d| d.bbox.center()),
            Value::Count(_) | Value::Label(_) => None,
        }
    }

    /// The value with every point and box corner passed through `f` (frame conversions).
    pub fn map_points(&self, f: impl Fn(Point) -> Point) -> Value {
        match self {
            Value::Points(ps) => Value::Points(ps.iter().map(|&p| f(p)).collect()),
            Value::Boxes(ds) => Value::Boxes(
                ds.iter()
                    .map(|d| Detection {
                        bbox: d.bbox.map_corners(&f),
                        confidence: d.confidence,
                    })
                    .collect(),
            ),
            Value::Count(_) | Value::Label(_) => self.clone(),
        }
    }

    /// The boxes of the answer, if it is a box list.
    pub fn boxes(&self) -> Option<&[Detection]> {
        match self {
            Value::Boxes(ds) => Some(ds),
            _ => None,
        }
    }
}

/// Parses a completion, detecting its mode: thinking mode when a `<think>` tag comes before
/// the first `<answer>` tag. Text before the first tag is ignored (see the module docs).
pub fn parse(text: &str) -> Result<Answer, ParseError> {
    parse_impl(text, None)
}

/// Parses a completion that must follow `mode` exactly, with nothing but whitespace
/// around its tags. This is what the format reward checks.
pub fn parse_in_mode(text: &str, mode: Mode) -> Result<Answer, ParseError> {
    parse_impl(text, Some(mode))
}

/// Writes a completion (SFT targets, examples). `think` is used in thinking mode only and
/// must not contain the grammar's tags.
///
/// Coordinates are rounded to the nearest integer and clamped to `0..=MAX_COORD` (a
/// non-finite one is written as 0), confidences are clamped to `[0, 1]` (a non-finite one is
/// dropped), so the output always parses. For integer coordinates in range, finite
/// confidences in `[0, 1]` and trimmed, tag-free labels that do not read as a number or a
/// list, `parse(format_answer(..))` gives back `value`. An empty point list is written as
/// `[]`, which parses as an empty box list.
pub fn format_answer(mode: Mode, think: Option<&str>, value: &Value) -> String {
    let mut out = String::new();
    if mode == Mode::Think {
        out.push_str(THINK_OPEN);
        out.push_str(think.unwrap_or(""));
        out.push_str(THINK_CLOSE);
    }
    out.push_str(ANSWER_OPEN);
    write_value(&mut out, value);
    out.push_str(ANSWER_CLOSE);
    out
}

/// Every well-formed `(x,y)` written in free text, in order, e.g. the anchor location in
/// "The red cube is at (312,140)." Malformed or out-of-range points are skipped.
pub fn points_in_text(text: &str) -> Vec<Point> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut pos = 0;
    while let Some(rel) = bytes
        .get(pos..)
        .and_then(|b| b.iter().position(|&c| c == b'('))
    {
        let start = pos + rel;
        let mut cur = Cursor::new(text, start, 0);
        match cur.point() {
            Ok(p) => {
                out.push(p);
                pos = cur.pos;
            }
            Err(_) => pos = start + 1,
        }
    }
    out
}

fn write_value(out: &mut String, value: &Value) {
    // `write!` into a String cannot fail; the results are ignored for that reason.
    match value {
        Value::Points(ps) if ps.is_empty() => out.push_str("[]"),
        Value::Points(ps) => {
            for (idx, p) in ps.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                let _ = write!(out, "({},{})", coord(p.x), coord(p.y));
            }
        }
        Value::Boxes(ds) if ds.is_empty() => out.push_str("[]"),
        Value::Boxes(ds) => {
            for (idx, d) in ds.iter().enumerate() {
                if idx > 0 {
                    out.push(',');
                }
                let b = &d.bbox;
                let (x1, x2) = ordered(coord(b.x1), coord(b.x2));
                let (y1, y2) = ordered(coord(b.y1), coord(b.y2));
                let _ = write!(out, "[{x1},{y1},{x2},{y2}");
                if let Some(c) = d.confidence.filter(|c| c.is_finite()) {
                    // `Display` for f64 is the shortest text that reads back to the same
                    // value and never uses an exponent, so the confidence round-trips.
                    let _ = write!(out, ",{}", c.clamp(0.0, 1.0));
                }
                out.push(']');
            }
        }
        Value::Count(n) => {
            let _ = write!(out, "{n}");
        }
        Value::Label(s) => out.push_str(s.trim()),
    }
}

fn coord(v: f64) -> u64 {
    if v.is_finite() {
        // The clamp keeps the value in u64 range, so the cast is exact.
        v.round().clamp(0.0, MAX_COORD as f64) as u64
    } else {
        0
    }
}

fn ordered(a: u64, b: u64) -> (u64, u64) {
    (a.min(b), a.max(b))
}

/// The offset of the first non-whitespace byte of `s[from..to]`, if any.
fn first_text(s: &str, from: usize, to: usize) -> Option<usize> {
    let seg = s.get(from..to)?;
    let lead = seg.len() - seg.trim_start().len();
    (lead < seg.len()).then_some(from + lead)
}

/// The first grammar tag inside `s[from..to]`, as (tag, offset).
fn find_tag(
    s: &str,
    from: usize,
    to: usize,
    tags: &[&'static str],
) -> Option<(&'static str, usize)> {
    let seg = s.get(from..to)?;
    tags.iter()
        .filter_map(|t| seg.find(t).map(|i| (*t, from + i)))
        .min_by_key(|&(_, i)| i)
}

fn parse_impl(text: &str, strict: Option<Mode>) -> Result<Answer, ParseError> {
    let think_at = text.find(THINK_OPEN);
    let answer_at = text.find(ANSWER_OPEN);
    let mode = match (think_at, answer_at) {
        (None, None) => return Err(ParseError::MissingAnswer),
        (Some(t), Some(a)) if t < a => Mode::Think,
        (Some(_), None) => Mode::Think,
        _ => Mode::Direct,
    };
    match (strict, mode) {
        (Some(Mode::Think), Mode::Direct) => return Err(ParseError::MissingThink),
        (Some(Mode::Direct), Mode::Think) => return Err(ParseError::UnexpectedThink),
        _ => {}
    }
    let first_tag = match mode {
        Mode::Think => think_at,
        Mode::Direct => answer_at,
    }
    .unwrap_or(0);
    if strict.is_some() {
        if let Some(offset) = first_text(text, 0, first_tag) {
            return Err(ParseError::TextBeforeTag { offset });
        }
    }

    let mut pos = first_tag;
    let think =
        if mode == Mode::Think {
            let open = pos;
            let start = open + THINK_OPEN.len();
            let end = text[start..].find(THINK_CLOSE).map(|i| start + i).ok_or(
                ParseError::UnclosedTag {
                    tag: "think",
                    offset: open,
                },
            )?;
            if let Some((tag, offset)) =
                find_tag(text, start, end, &[THINK_OPEN, ANSWER_OPEN, ANSWER_CLOSE])
            {
                return Err(ParseError::StrayTag { tag, offset });
            }
            pos = end + THINK_CLOSE.len();
            let next = first_text(text, pos, text.len()).ok_or(ParseError::MissingAnswer)?;
            if !text[next..].starts_with(ANSWER_OPEN) {
                return Err(ParseError::TextBetweenTags { offset: next });
            }
            pos = next;
            Some(text[start..end].to_string())
        } else {
            None
        };

    let open = pos;
    let start = open + ANSWER_OPEN.len();
    let end =
        text[start..]
            .find(ANSWER_CLOSE)
            .map(|i| start + i)
            .ok_or(ParseError::UnclosedTag {
                tag: "answer",
                offset: open,
            })?;
    if let Some((tag, offset)) = find_tag(text, start, end, &[THINK_OPEN, THINK_CLOSE, ANSWER_OPEN])
    {
        return Err(ParseError::StrayTag { tag, offset });
    }
    if let Some(offset) = first_text(text, end + ANSWER_CLOSE.len(), text.len()) {
        return Err(ParseError::TextAfterAnswer { offset });
    }
    let content = &text[start..end];
    let value = parse_value(content, start)?;
    Ok(Answer {
        mode,
        think,
        text: content.to_string(),
        value,
    })
}

/// Parses the answer content; `base` is its offset in the completion, for error messages.
fn parse_value(content: &str, base: usize) -> Result<Value, ParseError> {
    let lead = content.len() - content.trim_start().len();
    let s = content.trim();
    let off = base + lead;
    let Some(&first) = s.as_bytes().first() else {
        return Err(ParseError::EmptyAnswer);
    };
    match first {
        b'(' | b'[' => Cursor::new(s, 0, off).list(),
        b'0'..=b'9' if s.bytes().all(|c| c.is_ascii_digit()) => {
            let n = integer(s, off, u64::from(u32::MAX))?;
            // `integer` bounds n by u32::MAX, so this conversion cannot fail.
            u32::try_from(n)
                .map(Value::Count)
                .map_err(|_| ParseError::NumberOutOfRange {
                    offset: off,
                    max: u64::from(u32::MAX),
                })
        }
        // A signed integer reads as a count the model got wrong, not as a label.
        b'-' | b'+' if s.len() > 1 && s.bytes().skip(1).all(|c| c.is_ascii_digit()) => {
            Err(ParseError::BadNumber {
                offset: off,
                found: clip(s),
            })
        }
        _ => Ok(Value::Label(s.to_string())),
    }
}

/// Parses a run of ASCII digits no larger than `max`, without overflow on huge input.
fn integer(tok: &str, offset: usize, max: u64) -> Result<u64, ParseError> {
    if tok.is_empty() || !tok.bytes().all(|c| c.is_ascii_digit()) {
        return Err(ParseError::BadNumber {
            offset,
            found: clip(tok),
        });
    }
    let mut n: u64 = 0;
    for c in tok.bytes() {
        n = n * 10 + u64::from(c - b'0');
        if n > max {
            return Err(ParseError::NumberOutOfRange { offset, max });
        }
    }
    Ok(n)
}

fn confidence(tok: &str, offset: usize) -> Result<f64, ParseError> {
    let bad = || ParseError::BadConfidence {
        offset,
        found: clip(tok),
    };
    let (int, frac) = tok.split_once('.').unwrap_or((tok, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
    if !digits(int) || !digits(frac) {
        return Err(bad());
    }
    // The pattern above is always valid float syntax; a very long one may read as
    // infinity, which the range check rejects.
    let v: f64 = tok.parse().map_err(|_| bad())?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(bad())
    }
}

/// Error text for a token: at most 32 characters of it.
fn clip(s: &str) -> String {
    s.chars().take(32).collect()
}

/// A byte cursor over answer content. `pos` indexes `s`; `base` converts it to an offset in
/// the completion. Every byte the cursor stops on is ASCII, so slicing at `pos` is safe.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    base: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum Item {
    Point(Point),
    Box(Detection),
}

impl<'a> Cursor<'a> {
    fn new(s: &'a str, pos: usize, base: usize) -> Self {
        Self { s, pos, base }
    }

    fn offset(&self) -> usize {
        self.base + self.pos
    }

    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|c| c.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// The character at the cursor, for error messages.
    fn found(&self) -> String {
        self.s
            .get(self.pos..)
            .and_then(|r| r.chars().next())
            .map_or_else(|| "end of answer".to_string(), String::from)
    }

    fn syntax(&self, expected: &'static str) -> ParseError {
        ParseError::Syntax {
            offset: self.offset(),
            expected,
            found: self.found(),
        }
    }

    /// `points | boxes | "[]"`, up to the end of the content.
    fn list(&mut self) -> Result<Value, ParseError> {
        if self.is_empty_list() {
            return Ok(Value::Boxes(Vec::new()));
        }
        let mut points = Vec::new();
        let mut boxes = Vec::new();
        loop {
            self.skip_ws();
            let at = self.offset();
            match self.item()? {
                Item::Point(p) if boxes.is_empty() => points.push(p),
                Item::Box(d) if points.is_empty() => boxes.push(d),
                _ => return Err(ParseError::MixedList { offset: at }),
            }
            self.skip_ws();
            match self.peek() {
                None => break,
                Some(b',') => self.pos += 1,
                Some(_) => return Err(self.syntax("`,` or the end of the answer")),
            }
        }
        Ok(if points.is_empty() {
            Value::Boxes(boxes)
        } else {
            Value::Points(points)
        })
    }

    /// True when the whole content is `[` ws? `]`.
    fn is_empty_list(&self) -> bool {
        self.s
            .get(self.pos..)
            .and_then(|r| r.strip_prefix('['))
            .is_some_and(|r| r.trim() == "]")
    }

    fn item(&mut self) -> Result<Item, ParseError> {
        match self.peek() {
            Some(b'(') => self.point().map(Item::Point),
            Some(b'[') => self.bbox().map(Item::Box),
            _ => Err(self.syntax("`(` or `[`")),
        }
    }

    /// Reads `open tok, tok, … close` and returns the tokens with their offsets.
    fn tuple(
        &mut self,
        close: u8,
        expected_close: &'static str,
    ) -> Result<Vec<(&'a str, usize)>, ParseError> {
        self.pos += 1; // the opening bracket
        let mut toks = Vec::new();
        loop {
            self.skip_ws();
            let start = self.pos;
            while self
                .peek()
                .is_some_and(|c| !c.is_ascii_whitespace() && !b",()[]".contains(&c))
            {
                self.pos += 1;
            }
            if self.pos == start {
                return Err(self.syntax("a number"));
            }
            toks.push((&self.s[start..self.pos], self.base + start));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(c) if c == close => {
                    self.pos += 1;
                    return Ok(toks);
                }
                _ => return Err(self.syntax(expected_close)),
            }
        }
    }

    fn point(&mut self) -> Result<Point, ParseError> {
        let at = self.offset();
        let toks = self.tuple(b')', "`,` or `)`")?;
        let [(x, xo), (y, yo)] = toks[..] else {
            return Err(ParseError::WrongArity {
                kind: "point",
                expected: "2",
                found: toks.len(),
                offset: at,
            });
        };
        Ok(Point::new(
            integer(x, xo, MAX_COORD)? as f64,
            integer(y, yo, MAX_COORD)? as f64,
        ))
    }

    fn bbox(&mut self) -> Result<Detection, ParseError> {
        let at = self.offset();
        let toks = self.tuple(b']', "`,` or `]`")?;
        if !(4..=5).contains(&toks.len()) {
            return Err(ParseError::WrongArity {
                kind: "box",
                expected: "4 (or 5 with a confidence)",
                found: toks.len(),
                offset: at,
            });
        }
        let mut c = [0.0; 4];
        for (v, (tok, off)) in c.iter_mut().zip(&toks) {
            *v = integer(tok, *off, MAX_COORD)? as f64;
        }
        if c[0] > c[2] || c[1] > c[3] {
            return Err(ParseError::InvertedBox { offset: at });
        }
        let confidence = match toks.get(4) {
            Some((tok, off)) => Some(confidence(tok, *off)?),
            None => None,
        };
        Ok(Detection {
            bbox: BBox::new(c[0], c[1], c[2], c[3]),
            confidence,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pts(v: &[(f64, f64)]) -> Value {
        Value::Points(v.iter().map(|&(x, y)| Point::new(x, y)).collect())
    }

    fn boxes(v: &[([f64; 4], Option<f64>)]) -> Value {
        Value::Boxes(
            v.iter()
                .map(|&(b, confidence)| Detection {
                    bbox: BBox::from(b),
                    confidence,
                })
                .collect(),
        )
    }

    /// Parses with mode detection and compares the value or the error.
    #[track_caller]
    fn check(input: &str, expected: Result<Value, ParseError>) {
        let got = parse(input).map(|a| a.value);
        assert_eq!(got, expected, "input: {input:?}");
    }

    #[track_caller]
    fn check_strict(input: &str, mode: Mode, expected: Result<Mode, ParseError>) {
        let got = parse_in_mode(input, mode).map(|a| a.mode);
        assert_eq!(got, expected, "input: {input:?}");
    }

    #[test]
    fn values() {
        check("<answer>(12,34)</answer>", Ok(pts(&[(12.0, 34.0)])));
        check(
            "<answer> ( 12 , 34 ) , (5,6)\n</answer>",
            Ok(pts(&[(12.0, 34.0), (5.0, 6.0)])),
        );
        check(
            "<answer>[1,2,30,40]</answer>",
            Ok(boxes(&[([1.0, 2.0, 30.0, 40.0], None)])),
        );
        check(
            "<answer>[1,2,30,40,0.87], [5, 5, 5, 9, 1]</answer>",
            Ok(boxes(&[
                ([1.0, 2.0, 30.0, 40.0], Some(0.87)),
                ([5.0, 5.0, 5.0, 9.0], Some(1.0)),
            ])),
        );
        check("<answer>[ ]</answer>", Ok(Value::Boxes(vec![])));
        check("<answer> 7 </answer>", Ok(Value::Count(7)));
        check("<answer>007</answer>", Ok(Value::Count(7)));
        check("<answer>4294967295</answer>", Ok(Value::Count(u32::MAX)));
        check(
            "<answer> golden retriever </answer>",
            Ok(Value::Label("golden retriever".into())),
        );
        check("<answer>3 cats</answer>", Ok(Value::Label("3 cats".into())));
        check("<answer>3.5</answer>", Ok(Value::Label("3.5".into())));
        check(
            "<think>the cube is at (3,4)</think>\n<answer>(1000000,0)</answer>\n",
            Ok(pts(&[(1_000_000.0, 0.0)])),
        );
    }

    #[test]
    fn errors() {
        use ParseError::*;
        let bad = |offset, found: &str| BadNumber {
            offset,
            found: found.into(),
        };
        check("", Err(MissingAnswer));
        check("(1,2)", Err(MissingAnswer));
        check(
            "<answer>(1,2)",
            Err(UnclosedTag {
                tag: "answer",
                offset: 0,
            }),
        );
        check(
            "<think>hmm<answer>(1,2)</answer>",
            Err(UnclosedTag {
                tag: "think",
                offset: 0,
            }),
        );
        check("<think>hmm</think>", Err(MissingAnswer));
        check(
            "<think>a</think> so <answer>1</answer>",
            Err(TextBetweenTags { offset: 17 }),
        );
        check(
            "<answer>1</answer> done",
            Err(TextAfterAnswer { offset: 19 }),
        );
        check(
            "<answer>1</answer><answer>2</answer>",
            Err(TextAfterAnswer { offset: 18 }),
        );
        check(
            "<answer>1<think></answer>",
            Err(StrayTag {
                tag: "<think>",
                offset: 9,
            }),
        );
        check(
            "<think>a<answer>1</answer></think><answer>2</answer>",
            Err(StrayTag {
                tag: "<answer>",
                offset: 8,
            }),
        );
        check("<answer>  </answer>", Err(EmptyAnswer));
        check("<answer>(-3,4)</answer>", Err(bad(9, "-3")));
        check("<answer>(3.5,4)</answer>", Err(bad(9, "3.5")));
        check("<answer>(3,1e3)</answer>", Err(bad(11, "1e3")));
        check("<answer>-2</answer>", Err(bad(8, "-2")));
        check(
            "<answer>(3,1000001)</answer>",
            Err(NumberOutOfRange {
                offset: 11,
                max: MAX_COORD,
            }),
        );
        check(
            "<answer>99999999999999999999999999</answer>",
            Err(NumberOutOfRange {
                offset: 8,
                max: u64::from(u32::MAX),
            }),
        );
        check(
            "<answer>[1,2,3,4,1.5]</answer>",
            Err(BadConfidence {
                offset: 17,
                found: "1.5".into(),
            }),
        );
        check(
            "<answer>[1,2,3,4,.5]</answer>",
            Err(BadConfidence {
                offset: 17,
                found: ".5".into(),
            }),
        );
        check(
            "<answer>(1,2,3)</answer>",
            Err(WrongArity {
                kind: "point",
                expected: "2",
                found: 3,
                offset: 8,
            }),
        );
        check(
            "<answer>[1,2,3]</answer>",
            Err(WrongArity {
                kind: "box",
                expected: "4 (or 5 with a confidence)",
                found: 3,
                offset: 8,
            }),
        );
        check(
            "<answer>[30,2,3,40]</answer>",
            Err(InvertedBox { offset: 8 }),
        );
        check(
            "<answer>(1,2),[1,2,3,4]</answer>",
            Err(MixedList { offset: 14 }),
        );
        check(
            "<answer>(1,2),</answer>",
            Err(Syntax {
                offset: 14,
                expected: "`(` or `[`",
                found: "end of answer".into(),
            }),
        );
        check(
            "<answer>(1,2) (3,4)</answer>",
            Err(Syntax {
                offset: 14,
                expected: "`,` or the end of the answer",
                found: "(".into(),
            }),
        );
        check(
            "<answer>(1,2]</answer>",
            Err(Syntax {
                offset: 12,
                expected: "`,` or `)`",
                found: "]".into(),
            }),
        );
        check(
            "<answer>(1,,2)</answer>",
            Err(Syntax {
                offset: 11,
                expected: "a number",
                found: ",".into(),
            }),
        );
        check(
            "<answer>[[1,2,3,4]]</answer>",
            Err(Syntax {
                offset: 9,
                expected: "a number",
                found: "[".into(),
            }),
        );
    }

    #[test]
    fn modes_and_surrounding_text() {
        use ParseError::*;
        let think = "  <think>x</think> <answer>1</answer>\n";
        let direct = "\n<answer>1</answer>  ";
        check_strict(think, Mode::Think, Ok(Mode::Think));
        check_strict(direct, Mode::Direct, Ok(Mode::Direct));
        check_strict(think, Mode::Direct, Err(UnexpectedThink));
        check_strict(direct, Mode::Think, Err(MissingThink));
        check_strict(
            "Sure! <answer>1</answer>",
            Mode::Direct,
            Err(TextBeforeTag { offset: 0 }),
        );
        check_strict(
            " ok <think>x</think><answer>1</answer>",
            Mode::Think,
            Err(TextBeforeTag { offset: 1 }),
        );
        check_strict(
            "<think></think><answer>1</answer>",
            Mode::Think,
            Ok(Mode::Think),
        );
        // The lenient parser skips a preamble, e.g. reasoning whose `<think>` was in the prompt.
        assert_eq!(
            parse("Sure! <answer>1</answer>").map(|a| a.mode),
            Ok(Mode::Direct)
        );
        assert_eq!(
            parse("I see.</think><answer>1</answer>").map(|a| a.mode),
            Ok(Mode::Direct)
        );
        let a = parse("<think> at (1,2) </think><answer> (3,4) </answer>").unwrap();
        assert_eq!(a.think.as_deref(), Some(" at (1,2) "));
        assert_eq!(a.text, " (3,4) ");
    }

    #[test]
    fn helpers() {
        let b = boxes(&[([0.0, 0.0, 10.0, 20.0], None)]);
        assert_eq!(b.first_point(), Some(Point::new(5.0, 10.0)));
        assert_eq!(Value::Count(3).first_point(), None);
        assert_eq!(Value::Boxes(vec![]).first_point(), None);
        let m = b.map_points(|p| Point::new(p.x * 2.0, 100.0 - p.y));
        assert_eq!(m, boxes(&[([0.0, 80.0, 20.0, 100.0], None)]));
        assert_eq!(
            points_in_text("Cube at (312,140); ball ( 5 , 6 ), not (1.5,2) or (7,8,9) or (3,"),
            vec![Point::new(312.0, 140.0), Point::new(5.0, 6.0)]
        );
        assert_eq!(points_in_text("((1,2)"), vec![Point::new(1.0, 2.0)]);
    }

    #[test]
    fn format_writes_the_grammar() {
        let v = boxes(&[
            ([1.4, 2.0, 3.0, 4.0], Some(0.5)),
            ([0.0, 0.0, 1.0, 1.0], Some(f64::NAN)),
        ]);
        assert_eq!(
            format_answer(Mode::Think, Some("look"), &v),
            "<think>look</think><answer>[1,2,3,4,0.5],[0,0,1,1]</answer>"
        );
        assert_eq!(
            format_answer(Mode::Direct, Some("ignored"), &pts(&[(-4.0, 2e9)])),
            "<answer>(0,1000000)</answer>"
        );
        assert_eq!(
            format_answer(Mode::Direct, None, &Value::Points(vec![])),
            "<answer>[]</answer>"
        );
    }

    fn arb_value() -> impl Strategy<Value = Value> {
        let c = || 0..=MAX_COORD;
        let point = (c(), c()).prop_map(|(x, y)| Point::new(x as f64, y as f64));
        let det = (c(), c(), c(), c(), proptest::option::of(0.0..=1.0f64)).prop_map(
            |(a, b, x, y, confidence)| Detection {
                bbox: BBox::new(a as f64, b as f64, x as f64, y as f64),
                confidence,
            },
        );
        prop_oneof![
            proptest::collection::vec(point, 1..5).prop_map(Value::Points),
            proptest::collection::vec(det, 0..5).prop_map(Value::Boxes),
            any::<u32>().prop_map(Value::Count),
            "[a-zA-Z][a-zA-Z0-9 .,!?'-]{0,20}[a-zA-Z]".prop_map(Value::Label),
        ]
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC*") {
            let _ = parse(&s);
            let _ = parse_in_mode(&s, Mode::Think);
            let _ = parse_in_mode(&s, Mode::Direct);
            let _ = points_in_text(&s);
        }

        #[test]
        fn parse_never_panics_near_the_grammar(
            s in "(<think>|</think>|<answer>|</answer>|[(),\\[\\] 0-9.\\-x]|\u{e9}){0,24}"
        ) {
            let _ = parse(&s);
            let _ = parse_in_mode(&s, Mode::Think);
            let _ = points_in_text(&s);
        }

        #[test]
        fn format_then_parse_round_trips(v in arb_value(), think in "[^<>]{0,30}", thinking: bool) {
            let mode = if thinking { Mode::Think } else { Mode::Direct };
            let text = format_answer(mode, Some(&think), &v);
            let a = parse_in_mode(&text, mode);
            prop_assert_eq!(a.as_ref().map(|a| &a.value), Ok(&v), "{}", text);
            let a = parse(&text).unwrap();
            prop_assert_eq!(a.mode, mode);
            if thinking {
                prop_assert_eq!(a.think.as_deref(), Some(think.as_str()));
            }
        }
    }
}
