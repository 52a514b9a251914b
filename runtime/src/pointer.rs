//! [`PointerPolicy`]: a `pointer` package — one graph (`pointer.onnx`) that scores the
//! `cols × rows` patches of the image and the text candidates read on the frame, and says
//! where to click (the contract: [`reticle_models::pointer`]).
//!
//! One call: the frame is preprocessed exactly as for a ReticleVLM package
//! ([`Preprocessor`], depth included for RGB-D packages); the instruction and the spans
//! become the text inputs ([`pointer::text_inputs`]); the graph runs once; a softmax over
//! the `P + S` logits (padding slots excluded) gives each candidate's probability; greedy
//! picks the most probable, sampling ([`DecodeOptions::temperature`] > 0) draws one with the
//! decoder's rule and seed. The answer is the candidate's click point
//! ([`pointer::click_point`]) in original pixels, also written in the answer grammar so that
//! every caller of [`Grounding::text`] keeps working. A package with the nothing head
//! (`"nothing": true`) adds one more logit: when it wins, the answer is the empty list `[]`
//! (the instruction names nothing on the frame) and [`Grounding::nothing`] says how sure.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ort::session::Session;
use ort::value::{Tensor, TensorElementType, TensorRef};
use reticle_models::elements::Components;
use reticle_models::geometry::{FrameMap, Point};
use reticle_models::grammar::{self, Mode, Value};
use reticle_models::manifest::Manifest;
use reticle_models::pointer::{self, PointerSpec, TextInputs, INPUTS, LEX_FEATURES, OUTPUTS};
use reticle_models::preprocess::DepthRef;
use reticle_models::text::TextSpan;

use crate::decode::{StopReason, Timings};
use crate::error::{Error, Result};
use crate::graphs::{self, check_side, expect, Expect, SessionConfig};
use crate::grounder::{
    open_workers, CandidateKind, Grounding, ImageInput, LoadOptions, OverruledClick, PixelBuffer,
    ScoredCandidate,
};
use crate::perception::to_rgb;
use crate::pool::Pool;
use crate::provider::Provider;
use crate::sampling::{DecodeOptions, Sampler};

/// Candidates reported with a grounding ([`Grounding::candidates`]).
const TOP_K: usize = 5;
/// The graph's name in errors.
const GRAPH: &str = "pointer";

/// One session and the buffers of one request.
#[derive(Debug)]
struct Worker {
    session: Session,
    pixels: PixelBuffer,
}

/// A loaded pointer package. `Send + Sync`, like [`crate::Grounder`].
#[derive(Debug)]
pub(crate) struct PointerPolicy {
    dir: PathBuf,
    manifest: Manifest,
    spec: PointerSpec,
    provider: Provider,
    workers: Pool<Worker>,
}

/// The graph's I/O for a manifest: names, element types, ranks and every fixed size.
fn expectations(m: &Manifest, spec: &PointerSpec) -> (Vec<Expect>, Vec<Expect>) {
    use TensorElementType::{Float32 as F32, Int64 as I64};
    let p = &m.preprocess;
    let t = &spec.text;
    let (cols, rows) = spec.grid(p.width, p.height);
    let n_patches = Some(cols * rows);
    let s = Some(t.max_candidates);
    let words = [None, Some(t.max_words), Some(t.pieces_per_word)];
    let pieces = [None, s, Some(t.pieces_per_span)];
    let dims: [(TensorElementType, Vec<Option<usize>>); 8] = [
        (
            F32,
            vec![
                None,
                Some(p.channels.count()),
                Some(p.height as usize),
                Some(p.width as usize),
            ],
        ),
        (I64, words.to_vec()),
        (F32, words.to_vec()),
        (I64, pieces.to_vec()),
        (F32, pieces.to_vec()),
        (F32, vec![None, s, Some(4)]),
        (F32, vec![None, s, Some(LEX_FEATURES)]),
        (F32, vec![None, s]),
    ];
    let inputs = INPUTS
        .iter()
        .zip(dims)
        .map(|(name, (ty, d))| expect(*name, ty, &d))
        .collect();
    let out_dims = [
        vec![None, Some(spec.logits_len(p.width, p.height))],
        vec![None, n_patches, Some(2)],
        vec![None, n_patches],
    ];
    let outputs = OUTPUTS
        .iter()
        .zip(out_dims)
        .map(|(name, d)| expect(*name, F32, &d))
        .collect();
    (inputs, outputs)
}

impl Worker {
    /// Opens `pointer.onnx` and checks its I/O against the manifest and the contract.
    fn open(dir: &Path, m: &Manifest, spec: &PointerSpec, cfg: SessionConfig) -> Result<Self> {
        let session = graphs::open(dir, &spec.graph, cfg)?;
        let (ins, outs) = expectations(m, spec);
        check_side(&spec.graph, "input", session.inputs(), &ins)
            .and_then(|()| check_side(&spec.graph, "output", session.outputs(), &outs))
            .map_err(|message| Error::Package {
                path: dir.to_path_buf(),
                message,
            })?;
        tracing::debug!(graph = GRAPH, file = %spec.graph, "graph checked");
        Ok(Self {
            session,
            pixels: PixelBuffer::new(&m.preprocess)?,
        })
    }

    /// Runs the graph on the preprocessed image and `text`: `(logits, offsets)`.
    fn run(&mut self, m: &Manifest, spec: &PointerSpec, text: TextInputs) -> Result<Outputs> {
        let p = &m.preprocess;
        let t = &spec.text;
        let (cols, rows) = spec.grid(p.width, p.height);
        let n_patches = cols * rows;
        let s = t.max_candidates;
        let pixels_shape = [
            1usize,
            p.channels.count(),
            p.height as usize,
            p.width as usize,
        ];
        let words = [1usize, t.max_words, t.pieces_per_word];
        let pieces = [1usize, s, t.pieces_per_span];
        let outputs = self.session.run(ort::inputs![
            "pixel_values" => TensorRef::from_array_view((pixels_shape, self.pixels.values()))?,
            "instr_ids" => Tensor::from_array((words, text.instr_ids))?,
            "instr_mask" => Tensor::from_array((words, text.instr_mask))?,
            "span_ids" => Tensor::from_array((pieces, text.span_ids))?,
            "span_mask" => Tensor::from_array((pieces, text.span_mask))?,
            "span_boxes" => Tensor::from_array(([1usize, s, 4], text.span_boxes))?,
            "span_feats" => Tensor::from_array(([1usize, s, LEX_FEATURES], text.span_feats))?,
            "span_valid" => Tensor::from_array(([1usize, s], text.span_valid))?,
        ])?;
        let take = |name: &str, want: &[usize]| -> Result<Vec<f32>> {
            let value = outputs
                .get(name)
                .ok_or_else(|| output_err(format!("no output `{name}`")))?;
            let (shape, data) = value.try_extract_tensor::<f32>()?;
            let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
            if dims != want {
                return Err(output_err(format!(
                    "output `{name}` has shape {dims:?}, expected {want:?}"
                )));
            }
            Ok(data.to_vec())
        };
        Ok(Outputs {
            logits: take("logits", &[1, spec.logits_len(p.width, p.height)])?,
            offsets: take("offsets", &[1, n_patches, 2])?,
        })
    }
}

struct Outputs {
    logits: Vec<f32>,
    offsets: Vec<f32>,
}

fn output_err(message: String) -> Error {
    Error::Output {
        graph: GRAPH,
        message,
    }
}

/// Softmax of `logits` (temperature 1), computed stably.
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exp: Vec<f32> = logits.iter().map(|&v| (v - max).exp()).collect();
    let total: f32 = exp.iter().sum();
    exp.into_iter().map(|e| e / total).collect()
}

impl PointerPolicy {
    /// Validates the manifest, opens `pointer.onnx` on each worker and checks its I/O.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let manifest = Manifest::load(dir)?;
        let spec = manifest.pointer_spec()?.clone();
        crate::ort_lib::environment()?;
        let (provider, workers) =
            open_workers(opts, |cfg| Worker::open(dir, &manifest, &spec, cfg))?;
        tracing::info!(
            package = %dir.display(),
            name = %manifest.name,
            architecture = %manifest.architecture,
            requested = %opts.provider,
            provider = %provider,
            workers = workers.size(),
            "model package loaded"
        );
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            spec,
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

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub fn workers(&self) -> usize {
        self.workers.size()
    }

    /// Grounds `instruction` in `image` (plus `depth` for RGB-D packages) over the text
    /// candidates of `spans` (read on `image`, in its pixels). `components` are the frame's
    /// edge components when the pipeline already found them (for the icon reader); else the
    /// element proposals find them here. Blocks while every worker is busy.
    pub fn ground(
        &self,
        image: ImageInput<'_>,
        depth: Option<DepthRef<'_>>,
        instruction: &str,
        spans: &[TextSpan],
        components: Option<&Components>,
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        options.validate()?;
        if instruction.trim().is_empty() {
            return Err(Error::invalid("instruction", "the instruction is empty"));
        }
        let m = &self.manifest;
        let p = &m.preprocess;
        let original = image.size();
        let input = (p.width, p.height);
        let frame = FrameMap::new(original, input, p.resize, m.coord_frame)?;
        // Building the candidates (element proposals included) precedes the timings, as the
        // bench (`runtime/benches/pointer.rs`) times it on its own.
        let text =
            pointer::frame_inputs(
                instruction,
                spans,
                original,
                &self.spec.text,
                || match components {
                    Some(c) => Ok(Cow::Borrowed(c)),
                    None => to_rgb(image).map(|rgb| Cow::Owned(Components::find(&rgb))),
                },
            )?;
        let candidates = text.candidates.clone();

        let mut worker = self.workers.lease();
        let t0 = Instant::now();
        worker.pixels.load(image, depth)?;
        let t1 = Instant::now();
        let out = worker.run(m, &self.spec, text)?;
        drop(worker);
        let t2 = Instant::now();

        let grid = self.spec.grid(p.width, p.height);
        let n_patches = grid.0 * grid.1;
        // Padding slots (past the candidates actually built) are not candidates at all; the
        // nothing logit (last in the graph's output) is, after the live ones.
        let n_live = n_patches + candidates.len();
        let mut live = out.logits[..n_live].to_vec();
        if self.spec.nothing {
            live.extend(out.logits.last().copied());
        }
        let mut sampler = Sampler::for_graph(options, GRAPH);
        let chosen = sampler.pick(&live)?;
        let probs = softmax(&live);
        let p_nothing = self.spec.nothing.then(|| probs[n_live]);
        let point_of = |index: usize| {
            pointer::click_point(
                index,
                &out.offsets,
                grid,
                self.spec.cell,
                input,
                original,
                &candidates,
            )
            .ok_or_else(|| output_err(format!("candidate {index} has no click point")))
        };
        let scored = |index: usize| -> Result<ScoredCandidate> {
            let (kind, text) = match index.checked_sub(n_patches).map(|i| &candidates[i]) {
                Some(c) => (CandidateKind::from(c.kind), Some(c.text.clone())),
                None => (CandidateKind::Patch, None),
            };
            Ok(ScoredCandidate {
                probability: probs[index],
                point: point_of(index)?,
                kind,
                text,
            })
        };
        let mut order: Vec<usize> = (0..n_live).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        let top = order
            .into_iter()
            .take(TOP_K)
            .map(scored)
            .collect::<Result<Vec<_>>>()?;
        // Greedy: GUI-Actor's region rule (the trainer evaluates with the same function);
        // sampling: the sampled candidate itself.
        // With the nothing head, "nothing here" (the empty list) when it is sampled or, greedy,
        // when it outweighs the chosen region (`pointer::nothing_wins`).
        let mut overruled = None;
        let (point, confidence): (Option<Point>, f32) = if options.temperature > 0.0 {
            if chosen == n_live {
                (None, probs[chosen])
            } else {
                (Some(point_of(chosen)?), probs[chosen])
            }
        } else {
            let sel = pointer::select(
                &probs[..n_live],
                &out.offsets,
                grid,
                self.spec.cell,
                input,
                original,
                &candidates,
            );
            match p_nothing {
                Some(pn) if pointer::nothing_wins(pn, sel.as_ref(), self.spec.nothing_bias) => {
                    overruled = sel.map(|s| OverruledClick {
                        point: s.point,
                        confidence: s.confidence,
                    });
                    (None, pn)
                }
                _ => {
                    let sel =
                        sel.ok_or_else(|| output_err("the pointer distribution is empty".into()))?;
                    (Some(sel.point), sel.confidence)
                }
            }
        };
        let (answer, shown) = match point {
            Some(pt) => (
                Value::Points(vec![pt]),
                Value::Points(vec![frame.original_to_answer(pt)]),
            ),
            None => (Value::Boxes(Vec::new()), Value::Boxes(Vec::new())),
        };
        let text = grammar::format_answer(Mode::Direct, None, &shown);
        let t3 = Instant::now();
        let timings = Timings {
            perceive: Duration::ZERO,
            preprocess: t1 - t0,
            encode: t2 - t1,
            decode: t3 - t2,
            // One step: the choice is the first (and only) token.
            first_token: t3 - t2,
        };
        tracing::debug!(chosen, confidence, ?timings, "pointed");
        Ok(Grounding {
            answer: Ok(answer),
            text,
            reasoning: None,
            completion_tokens: 1,
            stop: StopReason::Selected,
            frame,
            timings,
            spans: None,
            confidence: Some(confidence),
            candidates: Some(top),
            nothing: p_nothing,
            overruled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_sums_to_one_and_ignores_the_scale_of_padding() {
        let p = softmax(&[0.0, 1.0, pointer::PAD_LOGIT]);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(p[2] < 1e-30);
        assert!((p[1] / p[0] - std::f32::consts::E).abs() < 1e-4);
    }
}
