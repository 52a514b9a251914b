//! [`Grounder`]: a loaded model package that answers `ground(image, instruction)`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use image::DynamicImage;
use ort::session::Session;
use ort::value::TensorRef;
use reticle_models::geometry::{FrameMap, Point};
use reticle_models::grammar::{self, ParseError, Value};
use reticle_models::manifest::Manifest;
use reticle_models::preprocess::{DepthRef, PixelsRef, Preprocessor};
use reticle_models::tokenizer::TextTokenizer;
use serde::Serialize;

use crate::decode::{
    take_f32, token_budget, Generated, Positions, Prefill, StopIds, StopReason, TextDecoder,
    Timings,
};
use crate::error::{Error, Result};
use crate::graphs::{Graphs, Layout, SessionConfig, VisionInput};
use crate::pool::Pool;
use crate::provider::{self, Provider};
use crate::sampling::DecodeOptions;

/// How a package is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadOptions {
    pub provider: Provider,
    /// Workers (sets of sessions) for concurrent callers; each holds its own weights.
    pub workers: usize,
    /// Intra-op threads per session; `None` lets ONNX Runtime choose (all cores).
    pub intra_threads: Option<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            provider: Provider::Auto,
            workers: 1,
            intra_threads: None,
        }
    }
}

/// An image to ground: a decoded image or a raw pixel buffer (screenshots, camera frames).
#[derive(Debug, Clone, Copy)]
pub enum ImageInput<'a> {
    Image(&'a DynamicImage),
    Pixels(PixelsRef<'a>),
}

impl<'a> From<&'a DynamicImage> for ImageInput<'a> {
    fn from(image: &'a DynamicImage) -> Self {
        ImageInput::Image(image)
    }
}

impl<'a> From<PixelsRef<'a>> for ImageInput<'a> {
    fn from(pixels: PixelsRef<'a>) -> Self {
        ImageInput::Pixels(pixels)
    }
}

impl ImageInput<'_> {
    pub(crate) fn size(&self) -> (u32, u32) {
        match self {
            ImageInput::Image(i) => (i.width(), i.height()),
            ImageInput::Pixels(p) => (p.width(), p.height()),
        }
    }
}

/// The answer to one request.
#[derive(Debug, Clone, Serialize)]
pub struct Grounding {
    /// The parsed answer with every point and box in ORIGINAL image pixels, or why the
    /// completion does not follow the answer grammar.
    #[serde(serialize_with = "ser_answer")]
    pub answer: Result<Value, ParseError>,
    /// The completion as written (special tokens other than `<eos>` and padding included).
    pub text: String,
    /// The reasoning inside `<think>…</think>`, if any.
    pub reasoning: Option<String>,
    /// Tokens generated, the stop token included.
    pub completion_tokens: usize,
    pub stop: StopReason,
    /// Maps between original pixels, model input and the answer frame.
    #[serde(skip)]
    pub frame: FrameMap,
    pub timings: Timings,
    /// The text read on the frame, when the caller asked for it
    /// ([`GroundOptions::spans`](crate::GroundOptions)).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spans: Option<Vec<reticle_models::text::TextSpan>>,
    /// The policy's probability of the candidate it chose (pointer packages; a ReticleVLM
    /// package writes text and has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The most probable candidates, best first (pointer packages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Vec<ScoredCandidate>>,
    /// The probability that the instruction names nothing on the frame (pointer packages
    /// with the nothing head). When it exceeds the chosen region's, the answer is the empty
    /// list `[]` and `confidence` is this probability.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nothing: Option<f32>,
    /// The click the nothing head overruled, when the answer is `[]` and the click rule had
    /// a region: what a smaller `nothing_bias` would have answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overruled: Option<OverruledClick>,
}

/// A click of the greedy rule that "nothing here" outweighed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OverruledClick {
    /// In original image pixels.
    pub point: Point,
    /// Probability mass of its region.
    pub confidence: f32,
}

impl Grounding {
    /// Whether the policy answered that the instruction names nothing here (`[]`).
    pub fn names_nothing(&self) -> bool {
        matches!(&self.answer, Ok(Value::Boxes(b)) if b.is_empty())
    }
}

impl Grounding {
    /// The grounding of a generated completion `text` (answer frame `frame`): the answer
    /// parsed and mapped to original pixels, the reasoning (also of an unparsable text).
    pub(crate) fn from_completion(
        text: String,
        generated: &Generated,
        frame: FrameMap,
        timings: Timings,
    ) -> Self {
        let parsed = grammar::parse(&text);
        let reasoning = match &parsed {
            Ok(a) => a.think.clone(),
            Err(_) => think_block(&text),
        };
        let answer = parsed.map(|a| a.value.map_points(|pt| frame.answer_to_original(pt)));
        tracing::debug!(
            tokens = generated.ids.len(),
            stop = ?generated.stop,
            ?timings,
            "grounded"
        );
        Grounding {
            answer,
            text,
            reasoning,
            completion_tokens: generated.ids.len(),
            stop: generated.stop,
            frame,
            timings,
            spans: None,
            confidence: None,
            candidates: None,
            nothing: None,
            overruled: None,
        }
    }
}

/// What a scored candidate of the pointer policy is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CandidateKind {
    /// A patch of the image.
    Patch,
    /// A line of text read on the frame.
    Line,
    /// One word of a line with several.
    Word,
    /// A control or icon found in the pixels (an element proposal); its `text` describes
    /// its shape.
    Element,
}

impl CandidateKind {
    /// The name in JSON (`patch`, `line`, `word`, `element`).
    pub fn name(self) -> &'static str {
        match self {
            CandidateKind::Patch => "patch",
            CandidateKind::Line => "line",
            CandidateKind::Word => "word",
            CandidateKind::Element => "element",
        }
    }
}

impl From<reticle_models::pointer::CandidateKind> for CandidateKind {
    fn from(k: reticle_models::pointer::CandidateKind) -> Self {
        match k {
            reticle_models::pointer::CandidateKind::Line => CandidateKind::Line,
            reticle_models::pointer::CandidateKind::Word => CandidateKind::Word,
            reticle_models::pointer::CandidateKind::Element => CandidateKind::Element,
        }
    }
}

/// One candidate of the pointer policy with its probability.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScoredCandidate {
    pub probability: f32,
    /// Where choosing it clicks, in original image pixels.
    pub point: reticle_models::geometry::Point,
    pub kind: CandidateKind,
    /// The text of a text candidate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

fn ser_answer<S: serde::Serializer>(
    answer: &Result<Value, ParseError>,
    s: S,
) -> std::result::Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    #[serde(rename_all = "snake_case")]
    enum Out<'a> {
        Value(&'a Value),
        Error(String),
    }
    match answer {
        Ok(v) => Out::Value(v),
        Err(e) => Out::Error(e.to_string()),
    }
    .serialize(s)
}

/// Token ids of a ReticleVLM prompt and completion.
#[derive(Debug, Clone, Copy)]
struct SpecialIds {
    bos: u32,
    eos: u32,
    pad: u32,
    /// `</answer>`: nothing useful can follow it.
    answer_end: u32,
}

/// One worker: the three sessions, a preprocessor and the buffers of one request.
#[derive(Debug)]
struct Worker {
    vision: Session,
    text: TextDecoder,
    pixels: PixelBuffer,
}

/// The graphs of a ReticleVLM package: a vision encoder over the preprocessed planes.
fn layout(manifest: &Manifest) -> Result<Layout<'_>> {
    let vlm = manifest.vlm()?;
    let p = &manifest.preprocess;
    Ok(Layout {
        files: vlm.graphs,
        decoder: vlm.decoder,
        vision: VisionInput::Planes {
            channels: p.channels.count(),
            height: p.height as usize,
            width: p.width as usize,
        },
    })
}

impl Worker {
    /// Opens and checks the package's graphs on `cfg`'s provider.
    fn open(dir: &Path, manifest: &Manifest, cfg: SessionConfig) -> Result<Self> {
        let layout = layout(manifest)?;
        let g = Graphs::open(dir, &layout, cfg)?;
        Ok(Self {
            vision: g.vision,
            text: TextDecoder::new(g.embed, g.decoder, layout.decoder),
            pixels: PixelBuffer::new(&manifest.preprocess)?,
        })
    }

    /// Runs the vision encoder on the preprocessed image: `[N, hidden]` features, row-major.
    fn encode(&mut self, manifest: &Manifest) -> Result<Vec<f32>> {
        let p = &manifest.preprocess;
        let shape = [
            1usize,
            p.channels.count(),
            p.height as usize,
            p.width as usize,
        ];
        let input = TensorRef::from_array_view((shape, self.pixels.values()))?;
        let outputs = self.vision.run(ort::inputs!["pixel_values" => input])?;
        let d = self.text.dims();
        take_f32(
            &outputs,
            "vision_encoder",
            "image_features",
            &[Some(1), Some(d.num_image_tokens), Some(d.hidden_size)],
        )
    }

    /// `[image features][embed(prompt)]` with linear positions: the sequence the trainer's
    /// `data` and `generate` modules build.
    fn prefill(&mut self, features: Vec<f32>, prompt: &[u32]) -> Result<Prefill> {
        let ids: Vec<i64> = prompt.iter().map(|&t| i64::from(t)).collect();
        let mut embeds = features;
        embeds.extend(self.text.embed(&ids)?);
        Ok(Prefill {
            embeds,
            positions: Positions::Linear,
        })
    }
}

/// A loaded model package. `Send + Sync`: share it (e.g. in an `Arc`) between threads;
/// concurrent calls run on separate workers (see [`LoadOptions::workers`]).
#[derive(Debug)]
pub struct Grounder {
    dir: PathBuf,
    manifest: Manifest,
    tokenizer: TextTokenizer,
    ids: SpecialIds,
    provider: Provider,
    workers: Pool<Worker>,
}

pub(crate) fn package_err(dir: &Path, message: impl Into<String>) -> Error {
    Error::Package {
        path: dir.to_path_buf(),
        message: message.into(),
    }
}

impl Grounder {
    /// Loads the package in `dir` with one worker on `provider`.
    pub fn load(dir: &Path, provider: Provider) -> Result<Self> {
        Self::load_with(
            dir,
            &LoadOptions {
                provider,
                ..LoadOptions::default()
            },
        )
    }

    /// Validates the manifest, opens and checks the three graphs, loads the tokenizer.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let manifest = Manifest::load(dir)?;
        let vlm = manifest.vlm()?;
        crate::ort_lib::environment()?;
        let tokenizer = TextTokenizer::load(&dir.join(vlm.tokenizer))
            .map_err(|e| package_err(dir, format!("{}: {e}", vlm.tokenizer)))?;
        let id = |token: &str| {
            tokenizer
                .token_id(token)
                .map_err(|e| package_err(dir, format!("{}: {e}", vlm.tokenizer)))
        };
        let st = vlm.special_tokens;
        let ids = SpecialIds {
            bos: id(&st.bos)?,
            eos: id(&st.eos)?,
            pad: id(&st.pad)?,
            answer_end: id("</answer>")?,
        };
        if tokenizer.vocab_size() > vlm.decoder.vocab_size {
            return Err(package_err(
                dir,
                format!(
                    "{} has {} tokens but the decoder's vocabulary is {}",
                    vlm.tokenizer,
                    tokenizer.vocab_size(),
                    vlm.decoder.vocab_size
                ),
            ));
        }
        let (provider, workers) = open_workers(opts, |cfg| Worker::open(dir, &manifest, cfg))?;
        tracing::info!(
            package = %dir.display(),
            name = %manifest.name,
            requested = %opts.provider,
            provider = %provider,
            workers = workers.size(),
            "model package loaded"
        );
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            tokenizer,
            ids,
            provider,
            workers,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The provider really in use (`cpu` or `cuda:N`, never `auto`).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Workers available for concurrent calls.
    pub fn workers(&self) -> usize {
        self.workers.size()
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Grounds `instruction` in `image` with greedy decoding.
    pub fn ground<'a>(
        &self,
        image: impl Into<ImageInput<'a>>,
        instruction: &str,
    ) -> Result<Grounding> {
        self.ground_with(image.into(), None, instruction, &DecodeOptions::greedy())
    }

    /// Grounds `instruction` in `image` (plus `depth` for RGB-D models) with `options`.
    /// Blocks while every worker is busy.
    pub fn ground_with(
        &self,
        image: ImageInput<'_>,
        depth: Option<DepthRef<'_>>,
        instruction: &str,
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        options.validate()?;
        let prompt = self.prompt_ids(instruction)?;
        let vlm = self.manifest.vlm()?;
        let d = vlm.decoder;
        let budget = token_budget(
            d.num_image_tokens + prompt.len(),
            || {
                format!(
                    "{} prompt tokens + {} image tokens",
                    prompt.len(),
                    d.num_image_tokens
                )
            },
            options.max_new_tokens.unwrap_or(vlm.max_new_tokens),
            d.max_positions,
        )?;
        let p = &self.manifest.preprocess;
        let frame = FrameMap::new(
            image.size(),
            (p.width, p.height),
            p.resize,
            self.manifest.coord_frame,
        )?;

        let mut worker = self.workers.lease();
        let t0 = Instant::now();
        worker.pixels.load(image, depth)?;
        let t1 = Instant::now();
        let features = worker.encode(&self.manifest)?;
        let t2 = Instant::now();
        let prefill = worker.prefill(features, &prompt)?;
        let stops = StopIds {
            eos: self.ids.eos,
            answer_end: Some(self.ids.answer_end),
        };
        let generated = worker.text.generate(prefill, stops, &[], options, budget)?;
        let t3 = Instant::now();
        drop(worker);

        let text = self.completion_text(&generated.ids)?;
        let timings = Timings {
            perceive: Duration::ZERO,
            preprocess: t1 - t0,
            encode: t2 - t1,
            decode: t3 - t2,
            first_token: generated.first_token.map_or(t3 - t2, |t| t - t2),
        };
        Ok(Grounding::from_completion(text, &generated, frame, timings))
    }

    /// [`Grounder::ground_with`] on tokio's blocking pool, for async callers.
    pub async fn ground_async(
        self: Arc<Self>,
        image: DynamicImage,
        instruction: String,
        options: DecodeOptions,
    ) -> Result<Grounding> {
        tokio::task::spawn_blocking(move || {
            self.ground_with(ImageInput::Image(&image), None, &instruction, &options)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }

    /// `<bos>` + the tokens of the prompt template filled with `instruction`. The template
    /// is the package's (trusted: its special tokens are control tokens); the instruction
    /// is the caller's and only ever becomes plain-text tokens, so `<eos>` or
    /// `<answer>(999,999)</answer>` in it cannot end or answer the prompt.
    pub fn prompt_ids(&self, instruction: &str) -> Result<Vec<u32>> {
        if instruction.trim().is_empty() {
            return Err(Error::invalid("instruction", "the instruction is empty"));
        }
        let mut ids = vec![self.ids.bos];
        let mut pieces = self.manifest.vlm()?.prompt.template.split("{instruction}");
        if let Some(first) = pieces.next() {
            ids.extend(self.tokenizer.encode(first)?);
        }
        for rest in pieces {
            let plain = self
                .tokenizer
                .encode_plain(instruction)
                .map_err(|e| Error::invalid("instruction", e.to_string()))?;
            ids.extend(plain);
            ids.extend(self.tokenizer.encode(rest)?);
        }
        Ok(ids)
    }

    /// The text of generated ids: up to `<eos>`, padding dropped (as the trainer decodes).
    fn completion_text(&self, ids: &[u32]) -> Result<String> {
        let ids: Vec<u32> = ids
            .iter()
            .copied()
            .take_while(|&t| t != self.ids.eos)
            .filter(|&t| t != self.ids.pad)
            .collect();
        Ok(self.tokenizer.decode(&ids)?)
    }
}

/// The text between the first `<think>` and the next `</think>`, for completions that do
/// not parse.
fn think_block(text: &str) -> Option<String> {
    let start = text.find("<think>")? + "<think>".len();
    let end = text[start..].find("</think>")? + start;
    Some(text[start..end].to_string())
}

/// An image resized and normalised for a package's vision input, in buffers kept from one
/// request to the next (one per worker).
#[derive(Debug)]
pub(crate) struct PixelBuffer {
    prep: Preprocessor,
    planes: Vec<u8>,
    pixels: Vec<f32>,
}

impl PixelBuffer {
    pub fn new(spec: &reticle_models::manifest::Preprocess) -> Result<Self> {
        Ok(Self {
            prep: Preprocessor::new(spec)?,
            planes: Vec::new(),
            pixels: Vec::new(),
        })
    }

    /// Resizes and normalises `image` (plus `depth` for RGB-D) into the buffer.
    pub fn load(&mut self, image: ImageInput<'_>, depth: Option<DepthRef<'_>>) -> Result<()> {
        match image {
            ImageInput::Image(img) => self.prep.planes_from_image(img, depth, &mut self.planes)?,
            ImageInput::Pixels(px) => self.prep.planes(px, depth, &mut self.planes)?,
        }
        self.pixels.clear();
        self.prep.normalize(&self.planes, &mut self.pixels)?;
        Ok(())
    }

    /// The normalised planes, `[C, H, W]` row-major.
    pub fn values(&self) -> &[f32] {
        &self.pixels
    }
}

/// Opens `opts.workers` sets of sessions with `open`: the first trying `auto`'s candidates
/// in order, the others on the provider that worked. Returns that provider and the pool.
pub(crate) fn open_workers<T>(
    opts: &LoadOptions,
    open: impl Fn(SessionConfig) -> Result<T>,
) -> Result<(Provider, Pool<T>)> {
    if opts.workers == 0 {
        return Err(Error::invalid("load options", "workers must be at least 1"));
    }
    let (provider, first) = open_first(opts, &open)?;
    let cfg = SessionConfig {
        provider,
        intra_threads: opts.intra_threads,
    };
    let mut workers = vec![first];
    for _ in 1..opts.workers {
        workers.push(open(cfg)?);
    }
    Ok((provider, Pool::new(workers)))
}

/// Opens the first set of sessions with `open`, trying `auto`'s candidates in order.
fn open_first<T>(
    opts: &LoadOptions,
    open: &impl Fn(SessionConfig) -> Result<T>,
) -> Result<(Provider, T)> {
    let candidates = provider::candidates(opts.provider)?;
    let mut last = None;
    for p in candidates {
        let cfg = SessionConfig {
            provider: p,
            intra_threads: opts.intra_threads,
        };
        match open(cfg) {
            Ok(g) => {
                if opts.provider == Provider::Auto {
                    tracing::info!(provider = %p, "auto: using execution provider {p}");
                }
                return Ok((p, g));
            }
            Err(e) if opts.provider == Provider::Auto && p != Provider::Cpu => {
                tracing::warn!(provider = %p, error = %e, "auto: provider unusable, trying the next");
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| Error::invalid("provider", "no execution provider to try")))
}

/// Durations as milliseconds, for reports.
pub fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_block_is_found_in_unparsable_text() {
        assert_eq!(
            think_block("<think>left of the cup</think>garbage").as_deref(),
            Some("left of the cup")
        );
        assert_eq!(think_block("<answer>(1,2)</answer>"), None);
    }
}
