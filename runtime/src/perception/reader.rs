//! [`TextReader`]: an image → text spans, with the detector and recogniser on ONNX Runtime.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ort::session::Session;
use reticle_models::geometry::BBox;
use reticle_models::text::OcrConfig;
use reticle_models::text::TextSpan;
use serde::Serialize;

use super::det::{Detector, LineBox, Region};
use super::files::OcrFiles;
use super::frame::RgbFrame;
use super::rec::{Recognized, Recognizer};
use crate::error::{Error, Result};
use crate::grounder::ImageInput;
use crate::provider::{self, Provider};

/// How the reader's sessions are created (as [`crate::LoadOptions`] for the grounder).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReaderOptions {
    pub provider: Provider,
    pub intra_threads: Option<usize>,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            provider: Provider::Auto,
            intra_threads: None,
        }
    }
}

/// Per-stage durations of one read.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ReadTimings {
    /// Conversion to RGB (and tile hashing for incremental reads).
    pub prepare: Duration,
    pub detect: Duration,
    pub recognize: Duration,
    pub total: Duration,
}

impl Serialize for ReadTimings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut st = s.serialize_struct("ReadTimings", 4)?;
        st.serialize_field("prepare_ms", &ms(self.prepare))?;
        st.serialize_field("detect_ms", &ms(self.detect))?;
        st.serialize_field("recognize_ms", &ms(self.recognize))?;
        st.serialize_field("total_ms", &ms(self.total))?;
        st.end()
    }
}

/// What one read found.
#[derive(Debug, Clone, Serialize)]
pub struct Reading {
    pub width: u32,
    pub height: u32,
    /// Lines in reading order (top to bottom, then left to right).
    pub spans: Vec<TextSpan>,
    pub timings: ReadTimings,
}

/// The scratch state one read needs; behind a mutex (ort sessions run with `&mut`).
#[derive(Debug)]
pub(crate) struct Engines {
    pub det: Detector,
    pub rec: Recognizer,
    pub frame: RgbFrame,
}

impl Engines {
    /// The lines of the loaded frame, detected on its non-flat part.
    pub fn detect_lines(&mut self, cfg: &OcrConfig) -> Result<Vec<LineBox>> {
        match Region::content(&self.frame) {
            Some(region) => self.det.detect(&self.frame, region, cfg),
            None => Ok(Vec::new()),
        }
    }
}

/// PP-OCR detection + recognition on ONNX Runtime. `Send + Sync`; concurrent reads wait
/// for each other.
#[derive(Debug)]
pub struct TextReader {
    engines: Mutex<Engines>,
    config: OcrConfig,
    provider: Provider,
}

impl TextReader {
    /// Opens both graphs with `opts.provider` (an explicit CUDA request that cannot be met is
    /// an error; `auto` logs what it chose).
    pub fn load(files: &OcrFiles, config: &OcrConfig, opts: &ReaderOptions) -> Result<Self> {
        config
            .validate()
            .map_err(|m| Error::invalid("OCR config", m))?;
        crate::ort_lib::environment()?;
        let mut last = None;
        for p in provider::candidates(opts.provider)? {
            match open_engines(files, p, opts.intra_threads) {
                Ok(engines) => {
                    tracing::info!(
                        detector = %files.detector.display(),
                        recognizer = %files.recognizer.display(),
                        provider = %p,
                        "text reader loaded"
                    );
                    return Ok(Self {
                        engines: Mutex::new(engines),
                        config: config.clone(),
                        provider: p,
                    });
                }
                Err(e) if opts.provider == Provider::Auto && p != Provider::Cpu => {
                    tracing::warn!(provider = %p, error = %e, "auto: provider unusable for OCR, trying the next");
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::invalid("provider", "no execution provider to try")))
    }

    pub fn config(&self) -> &OcrConfig {
        &self.config
    }

    /// The provider really in use.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Reads every line of text in `image`.
    pub fn read<'a>(&self, image: impl Into<ImageInput<'a>>) -> Result<Reading> {
        let t0 = Instant::now();
        let mut guard = self.lock()?;
        let e = &mut *guard;
        e.frame.load(image.into(), self.config.max_pixels)?;
        let t1 = Instant::now();
        let boxes = e.detect_lines(&self.config)?;
        let t2 = Instant::now();
        let spans = self.recognize(e, boxes)?;
        let t3 = Instant::now();
        Ok(Reading {
            width: e.frame.width,
            height: e.frame.height,
            spans,
            timings: ReadTimings {
                prepare: t1 - t0,
                detect: t2 - t1,
                recognize: t3 - t2,
                total: t3 - t0,
            },
        })
    }

    pub(crate) fn lock(&self) -> Result<std::sync::MutexGuard<'_, Engines>> {
        self.engines
            .lock()
            .map_err(|_| Error::Ocr("a previous read panicked; reload the text reader".into()))
    }

    /// Recognises `boxes` and turns them into spans, dropping empty and low-confidence lines.
    pub(crate) fn recognize(&self, e: &mut Engines, boxes: Vec<LineBox>) -> Result<Vec<TextSpan>> {
        let read = e.rec.recognize(&e.frame, &boxes, &self.config)?;
        Ok(self.spans(&boxes, read))
    }

    /// Spans from boxes and what was read in them (same order), in reading order.
    pub(crate) fn spans(&self, boxes: &[LineBox], read: Vec<Recognized>) -> Vec<TextSpan> {
        let mut spans: Vec<TextSpan> = boxes
            .iter()
            .zip(read)
            .filter(|(_, r)| r.score >= self.config.min_score && !r.text.trim().is_empty())
            .map(|(b, r)| TextSpan {
                icon: None,
                text: r.text,
                bbox: BBox::new(
                    f64::from(b.tight[0]),
                    f64::from(b.tight[1]),
                    f64::from(b.tight[2]),
                    f64::from(b.tight[3]),
                ),
                score: r.score,
                words: r.words,
            })
            .collect();
        reading_order(&mut spans);
        spans
    }
}

/// Top to bottom, then left to right; lines whose tops differ by less than 10 px count as
/// one row (PaddleOCR's `sorted_boxes`).
pub(crate) fn reading_order(spans: &mut [TextSpan]) {
    spans.sort_by(|a, b| {
        a.bbox
            .y1
            .total_cmp(&b.bbox.y1)
            .then(a.bbox.x1.total_cmp(&b.bbox.x1))
    });
    for i in 1..spans.len() {
        let mut j = i;
        while j > 0
            && (spans[j].bbox.y1 - spans[j - 1].bbox.y1).abs() < 10.0
            && spans[j].bbox.x1 < spans[j - 1].bbox.x1
        {
            spans.swap(j, j - 1);
            j -= 1;
        }
    }
}

fn open_engines(files: &OcrFiles, p: Provider, intra_threads: Option<usize>) -> Result<Engines> {
    let det = open_session(&files.detector, p, intra_threads)?;
    let rec = open_session(&files.recognizer, p, intra_threads)?;
    Ok(Engines {
        det: Detector::new(det, &files.detector)?,
        rec: Recognizer::new(rec, &files.recognizer)?,
        frame: RgbFrame::default(),
    })
}

pub(crate) fn open_session(
    path: &Path,
    p: Provider,
    intra_threads: Option<usize>,
) -> Result<Session> {
    let env = crate::ort_lib::environment()?;
    let mut builder = Session::builder(&env)?;
    if let Some(n) = intra_threads {
        builder = builder
            .with_intra_threads(n)
            .map_err(ort::Error::<()>::from)?;
    }
    let builder = provider::register(builder, p)?;
    let mut builder = builder;
    builder.commit_from_file(path).map_err(|e| {
        let message = format!("cannot load {}: {e}", path.display());
        if matches!(p, Provider::Cuda(_)) && e.to_string().contains("CUDA") {
            Error::Provider {
                provider: p.to_string(),
                message,
            }
        } else {
            Error::Ocr(message)
        }
    })
}

/// The graph must have exactly the input and the output PaddleOCR's export names.
pub(crate) fn check_io(session: &Session, path: &Path, input: &str, output: &str) -> Result<()> {
    let ins: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
    let outs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
    if ins != [input] || !outs.contains(&output) {
        return Err(Error::Ocr(format!(
            "{}: expected input `{input}` and output `{output}` (a PaddleOCR graph), found \
             inputs {ins:?} and outputs {outs:?}",
            path.display()
        )));
    }
    Ok(())
}
