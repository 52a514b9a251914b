//! One worker: the three sessions, a preprocessor and the buffers of one request, and the
//! decoding loop with the KV cache.
//!
//! Sequence (shared with the trainer's `data` and `generate` modules):
//! `[image features][embed(<bos> + prompt tokens)]`, then one generated token per step.
//! The prefill runs the decoder on the whole sequence with empty `past_key_values.*`
//! (`[1, kv_heads, 0, head_dim]`); every later step feeds one token's embedding with the
//! previous step's `present.*` as `past_key_values.*`, an all-ones attention mask over
//! `past + 1` positions and `position_ids = [[past]]` (batch 1 has no padding).

use std::borrow::Cow;
use std::time::Duration;

use ort::session::SessionInputValue;
use ort::value::{DynValue, Tensor, TensorRef};
use reticle_models::manifest::Manifest;
use reticle_models::preprocess::{DepthRef, Preprocessor};

use crate::error::{Error, Result};
use crate::graphs::Graphs;
use crate::sampling::{DecodeOptions, Sampler};

/// Token ids the loop needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpecialIds {
    pub bos: u32,
    pub eos: u32,
    pub pad: u32,
    /// `</answer>`: nothing useful can follow it.
    pub answer_end: u32,
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// The model wrote `</answer>`.
    AnswerEnd,
    /// The model wrote its end-of-sequence token.
    Eos,
    /// The token budget ran out first.
    MaxTokens,
    /// The pointer policy chose a candidate (one step, no text generated).
    Selected,
}

/// Generated ids (stop token included, like the trainer) and why generation stopped.
#[derive(Debug)]
pub(crate) struct Generated {
    pub ids: Vec<u32>,
    pub stop: StopReason,
}

/// Per-stage durations of one request (serialized as `*_ms` floats).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Timings {
    /// The perception stages (text reading); zero when none ran.
    pub perceive: Duration,
    /// Resize and normalisation.
    pub preprocess: Duration,
    /// The vision encoder.
    pub encode: Duration,
    /// Token embedding and the decoder, prefill and every step.
    pub decode: Duration,
}

impl serde::Serialize for Timings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut st = s.serialize_struct("Timings", 4)?;
        st.serialize_field("perceive_ms", &ms(self.perceive))?;
        st.serialize_field("preprocess_ms", &ms(self.preprocess))?;
        st.serialize_field("encode_ms", &ms(self.encode))?;
        st.serialize_field("decode_ms", &ms(self.decode))?;
        st.end()
    }
}

/// Names of the cache inputs and outputs, built once.
#[derive(Debug)]
struct CacheNames {
    past: Vec<String>,
    present: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Worker {
    graphs: Graphs,
    prep: Preprocessor,
    names: CacheNames,
    planes: Vec<u8>,
    pixels: Vec<f32>,
    logits: Vec<f32>,
}

fn output_err(graph: &'static str, message: String) -> Error {
    Error::Output { graph, message }
}

/// Copies a float tensor output, checking its shape against `want` (`None` = any size).
fn take_f32(
    outputs: &ort::session::SessionOutputs<'_>,
    graph: &'static str,
    name: &str,
    want: &[Option<usize>],
) -> Result<Vec<f32>> {
    view_f32(outputs, graph, name, want).map(<[f32]>::to_vec)
}

/// Borrows a float tensor output's data, checking its shape against `want` (`None` = any
/// size).
fn view_f32<'o>(
    outputs: &'o ort::session::SessionOutputs<'_>,
    graph: &'static str,
    name: &str,
    want: &[Option<usize>],
) -> Result<&'o [f32]> {
    let value = outputs
        .get(name)
        .ok_or_else(|| output_err(graph, format!("no output `{name}`")))?;
    let (shape, data) = value.try_extract_tensor::<f32>()?;
    let dims: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    let fits = dims.len() == want.len()
        && dims
            .iter()
            .zip(want)
            .all(|(d, w)| w.is_none_or(|w| w == *d));
    if !fits {
        return Err(output_err(
            graph,
            format!("output `{name}` has shape {dims:?}, expected {want:?}"),
        ));
    }
    Ok(data)
}

impl Worker {
    pub fn new(graphs: Graphs, manifest: &Manifest) -> Result<Self> {
        let (past, present) = (0..manifest.vlm()?.decoder.num_layers)
            .flat_map(|i| {
                ["key", "value"].map(|k| {
                    (
                        format!("past_key_values.{i}.{k}"),
                        format!("present.{i}.{k}"),
                    )
                })
            })
            .unzip();
        Ok(Self {
            graphs,
            prep: Preprocessor::new(&manifest.preprocess)?,
            names: CacheNames { past, present },
            planes: Vec::new(),
            pixels: Vec::new(),
            logits: Vec::new(),
        })
    }

    /// Resizes and normalises an image into the worker's pixel buffer.
    pub fn preprocess(
        &mut self,
        image: crate::ImageInput<'_>,
        depth: Option<DepthRef<'_>>,
    ) -> Result<()> {
        match image {
            crate::ImageInput::Image(img) => {
                self.prep.planes_from_image(img, depth, &mut self.planes)?
            }
            crate::ImageInput::Pixels(px) => self.prep.planes(px, depth, &mut self.planes)?,
        }
        self.pixels.clear();
        self.prep.normalize(&self.planes, &mut self.pixels)?;
        Ok(())
    }

    /// Runs the vision encoder on the preprocessed image: `[N, hidden]` features, row-major.
    pub fn encode(&mut self, manifest: &Manifest) -> Result<Vec<f32>> {
        let p = &manifest.preprocess;
        let shape = [
            1usize,
            p.channels.count(),
            p.height as usize,
            p.width as usize,
        ];
        let input = TensorRef::from_array_view((shape, &self.pixels[..]))?;
        let outputs = self
            .graphs
            .vision
            .run(ort::inputs!["pixel_values" => input])?;
        let d = manifest.vlm()?.decoder;
        take_f32(
            &outputs,
            "vision_encoder",
            "image_features",
            &[Some(1), Some(d.num_image_tokens), Some(d.hidden_size)],
        )
    }

    /// Embeds `ids` (batch 1): `[T, hidden]` row-major.
    fn embed(&mut self, ids: &[u32], hidden: usize) -> Result<Vec<f32>> {
        let ids: Vec<i64> = ids.iter().map(|&t| i64::from(t)).collect();
        let n = ids.len();
        let input = Tensor::from_array(([1usize, n], ids))?;
        let outputs = self.graphs.embed.run(ort::inputs!["input_ids" => input])?;
        take_f32(
            &outputs,
            "embed_tokens",
            "inputs_embeds",
            &[Some(1), Some(n), Some(hidden)],
        )
    }

    /// Greedy or sampled generation after `[image features][prompt]`, at most `budget` tokens.
    pub fn generate(
        &mut self,
        manifest: &Manifest,
        features: &[f32],
        prompt: &[u32],
        ids: SpecialIds,
        opts: &DecodeOptions,
        budget: usize,
    ) -> Result<Generated> {
        let d = manifest.vlm()?.decoder;
        let hidden = d.hidden_size;
        let mut embeds = Vec::with_capacity(features.len() + prompt.len() * hidden);
        embeds.extend_from_slice(features);
        embeds.extend(self.embed(prompt, hidden)?);
        let seq = embeds.len() / hidden;
        let empty_kv: Vec<DynValue> = (0..self.names.past.len())
            .map(|_| {
                Tensor::<f32>::from_array(([1usize, d.num_kv_heads, 0, d.head_dim], Vec::new()))
                    .map(|t| t.into_dyn())
            })
            .collect::<std::result::Result<_, _>>()?;
        let mut past = empty_kv;
        let mut step_embeds = Tensor::from_array(([1usize, seq, hidden], embeds))?.into_dyn();
        let mut positions: Vec<i64> = (0..seq as i64).collect();
        let mut sampler = Sampler::new(opts);
        let mut out = Vec::new();
        for _ in 0..budget {
            let total = past_len(&past, d.num_kv_heads, d.head_dim)? + positions.len();
            let t = positions.len();
            let mask = Tensor::from_array(([1usize, total], vec![1i64; total]))?;
            let pos = Tensor::from_array(([1usize, t], std::mem::take(&mut positions)))?;
            let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
                ("inputs_embeds".into(), step_embeds.into()),
                ("attention_mask".into(), mask.into()),
                ("position_ids".into(), pos.into()),
            ];
            for (name, value) in self.names.past.iter().zip(past.drain(..)) {
                inputs.push((name.as_str().into(), value.into()));
            }
            let mut outputs = self.graphs.decoder.run(inputs)?;
            // Only the last position's row is needed: copy that, not the prefill's
            // `[T, vocab]` block.
            let logits = view_f32(
                &outputs,
                "decoder",
                "logits",
                &[Some(1), Some(t), Some(d.vocab_size)],
            )?;
            self.logits.clear();
            self.logits
                .extend_from_slice(&logits[(t - 1) * d.vocab_size..]);
            for name in &self.names.present {
                let v = outputs
                    .remove(name.as_str())
                    .ok_or_else(|| output_err("decoder", format!("no output `{name}`")))?;
                past.push(v);
            }
            drop(outputs);
            let token = sampler.pick(&self.logits)?;
            let token = u32::try_from(token)
                .map_err(|_| output_err("decoder", format!("token id {token} out of range")))?;
            out.push(token);
            if token == ids.answer_end || token == ids.eos {
                let stop = if token == ids.eos {
                    StopReason::Eos
                } else {
                    StopReason::AnswerEnd
                };
                return Ok(Generated { ids: out, stop });
            }
            if out.len() == budget {
                // The budget is spent: the last token's embedding would never be used.
                break;
            }
            let e = self.embed(&[token], hidden)?;
            step_embeds = Tensor::from_array(([1usize, 1, hidden], e))?.into_dyn();
            positions = vec![total as i64];
        }
        Ok(Generated {
            ids: out,
            stop: StopReason::MaxTokens,
        })
    }
}

/// The sequence length held by a cache, checking that every layer agrees.
fn past_len(past: &[DynValue], heads: usize, head_dim: usize) -> Result<usize> {
    let mut len = None;
    for v in past {
        let ort::value::ValueType::Tensor { shape, .. } = v.dtype() else {
            return Err(output_err(
                "decoder",
                "a present value is not a tensor".into(),
            ));
        };
        let ok = shape.len() == 4
            && shape[0] == 1
            && shape[1] == heads as i64
            && shape[3] == head_dim as i64;
        if !ok || len.is_some_and(|l| l != shape[2]) {
            return Err(output_err(
                "decoder",
                format!("present value has shape {shape}, expected [1, {heads}, past, {head_dim}]"),
            ));
        }
        len = Some(shape[2]);
    }
    Ok(len.unwrap_or(0).max(0) as usize)
}
