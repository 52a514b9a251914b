//! The text side of a worker — token embeddings and the KV-cache decoder — and the one
//! decoding loop every text-writing policy runs (ReticleVLM and Qwen2-VL packages).
//!
//! The caller builds the prefill (its embeddings, `[T, hidden]`, and how positions are laid
//! out, [`Positions`]); the loop runs the decoder on the whole prefill with empty
//! `past_key_values.*` (`[1, kv_heads, 0, head_dim]`), then feeds one token's embedding per
//! step with the previous step's `present.*` as `past_key_values.*` and an all-ones attention
//! mask over `past + 1` positions (batch 1 has no padding). The two position schemes differ
//! only in `position_ids`: ReticleVLM's `[1, T]` count from 0, Qwen2-VL's M-RoPE takes three
//! rows `[3, 1, T]` from `rope_index`, and the token at sequence index `s` sits at `s + delta`
//! in every row (the trainer's `QwenVl::step`).

use std::borrow::Cow;
use std::time::Duration;

use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, Tensor};
use reticle_models::manifest::DecoderSpec;
use reticle_models::qwen::rope::MropePositions;

use crate::error::{Error, Result};
use crate::sampling::{DecodeOptions, Sampler};

/// The tokens that end generation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StopIds {
    /// End of sequence (`<eos>`, Qwen's `<|im_end|>`).
    pub eos: u32,
    /// `</answer>` when the tokenizer has it as one token: nothing useful can follow it.
    pub answer_end: Option<u32>,
}

impl StopIds {
    /// Why generation stops at `token`, if it does.
    fn reason(&self, token: u32) -> Option<StopReason> {
        if token == self.eos {
            Some(StopReason::Eos)
        } else if Some(token) == self.answer_end {
            Some(StopReason::AnswerEnd)
        } else {
            None
        }
    }
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
    /// When the first token was chosen (the end of the prefill).
    pub first_token: Option<std::time::Instant>,
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
    /// The part of `decode` until the first token was chosen (the prefill): with `decode`
    /// and the token count, the decoding speed is `(tokens − 1) / (decode − first_token)`.
    pub first_token: Duration,
}

impl serde::Serialize for Timings {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut st = s.serialize_struct("Timings", 5)?;
        st.serialize_field("perceive_ms", &ms(self.perceive))?;
        st.serialize_field("preprocess_ms", &ms(self.preprocess))?;
        st.serialize_field("encode_ms", &ms(self.encode))?;
        st.serialize_field("decode_ms", &ms(self.decode))?;
        st.serialize_field("first_token_ms", &ms(self.first_token))?;
        st.end()
    }
}

/// The tokens a request may generate: `wanted` (the caller's or the package's budget),
/// capped by the positions a prefill of `prefix` tokens (`what` describes them) leaves in the
/// model's `max_positions`; a prefill that leaves none is an error.
pub(crate) fn token_budget(
    prefix: usize,
    what: impl FnOnce() -> String,
    wanted: usize,
    max_positions: usize,
) -> Result<usize> {
    if prefix >= max_positions {
        return Err(Error::invalid(
            "instruction",
            format!(
                "{} leave no room in the model's {max_positions} positions",
                what()
            ),
        ));
    }
    Ok(wanted.min(max_positions - prefix))
}

/// How the decoder's `position_ids` are laid out: the position strategy of the loop
/// (the manifest's `decoder.position_scheme`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Positions {
    /// `[1, T]` counting from 0; the token at sequence index `s` sits at `s` (ReticleVLM).
    Linear,
    /// M-RoPE: the prefill's three rows `[3, 1, T]`; the token at sequence index `s` sits at
    /// `s + delta` in all three (Qwen2-VL).
    Mrope(MropePositions),
}

/// A `position_ids` tensor: shape and row-major values.
type PositionIds = (Vec<usize>, Vec<i64>);

impl Positions {
    /// The `position_ids` of a prefill of `len` tokens.
    pub fn prefill(&self, len: usize) -> Result<PositionIds> {
        match self {
            Positions::Linear => Ok((vec![1, len], (0..len as i64).collect())),
            Positions::Mrope(p) => {
                if let Some(row) = p.rows.iter().find(|r| r.len() != len) {
                    return Err(Error::invalid(
                        "positions",
                        format!(
                            "an M-RoPE row has {} positions for a prefill of {len} tokens",
                            row.len()
                        ),
                    ));
                }
                Ok((vec![3, 1, len], p.rows.concat()))
            }
        }
    }

    /// The `position_ids` of the step that feeds the token at sequence index `index`.
    pub fn step(&self, index: usize) -> PositionIds {
        let s = index as i64;
        match self {
            Positions::Linear => (vec![1, 1], vec![s]),
            Positions::Mrope(p) => (vec![3, 1, 1], vec![s + p.delta; 3]),
        }
    }
}

/// What the loop starts from: the prefill's embeddings (`[T, hidden]`, row-major) and its
/// position strategy.
#[derive(Debug)]
pub(crate) struct Prefill {
    pub embeds: Vec<f32>,
    pub positions: Positions,
}

/// Names of the cache inputs and outputs, built once.
#[derive(Debug)]
struct CacheNames {
    past: Vec<String>,
    present: Vec<String>,
}

/// The token embedding and decoder sessions of one worker and their buffers.
#[derive(Debug)]
pub(crate) struct TextDecoder {
    embed: Session,
    decoder: Session,
    dims: DecoderSpec,
    names: CacheNames,
    logits: Vec<f32>,
}

fn output_err(graph: &'static str, message: String) -> Error {
    Error::Output { graph, message }
}

/// Copies a float tensor output, checking its shape against `want` (`None` = any size).
pub(crate) fn take_f32(
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

impl TextDecoder {
    /// `embed` and `decoder` are checked sessions ([`crate::graphs::Graphs::open`]) of a
    /// decoder with `dims`.
    pub fn new(embed: Session, decoder: Session, dims: &DecoderSpec) -> Self {
        let (past, present) = (0..dims.num_layers)
            .flat_map(|i| {
                ["key", "value"].map(|k| {
                    (
                        format!("past_key_values.{i}.{k}"),
                        format!("present.{i}.{k}"),
                    )
                })
            })
            .unzip();
        Self {
            embed,
            decoder,
            dims: *dims,
            names: CacheNames { past, present },
            logits: Vec::new(),
        }
    }

    pub fn dims(&self) -> &DecoderSpec {
        &self.dims
    }

    /// Embeds `ids` (batch 1): `[T, hidden]` row-major.
    pub fn embed(&mut self, ids: &[i64]) -> Result<Vec<f32>> {
        let n = ids.len();
        let input = Tensor::from_array(([1usize, n], ids.to_vec()))?;
        let outputs = self.embed.run(ort::inputs!["input_ids" => input])?;
        take_f32(
            &outputs,
            "embed_tokens",
            "inputs_embeds",
            &[Some(1), Some(n), Some(self.dims.hidden_size)],
        )
    }

    /// Greedy or sampled generation after `prefill`, at most `budget` tokens; `banned` ids
    /// are never chosen (a Qwen completion never writes a vision token, as the trainer
    /// samples).
    pub fn generate(
        &mut self,
        prefill: Prefill,
        stops: StopIds,
        banned: &[u32],
        opts: &DecodeOptions,
        budget: usize,
    ) -> Result<Generated> {
        let d = self.dims;
        let hidden = d.hidden_size;
        if prefill.embeds.is_empty() || prefill.embeds.len() % hidden != 0 {
            return Err(Error::invalid(
                "prefill",
                format!(
                    "{} embedding values are not whole rows of {hidden}",
                    prefill.embeds.len()
                ),
            ));
        }
        let seq = prefill.embeds.len() / hidden;
        let mut past: Vec<DynValue> = (0..self.names.past.len())
            .map(|_| {
                Tensor::<f32>::from_array(([1usize, d.num_kv_heads, 0, d.head_dim], Vec::new()))
                    .map(|t| t.into_dyn())
            })
            .collect::<std::result::Result<_, _>>()?;
        let mut step_embeds =
            Tensor::from_array(([1usize, seq, hidden], prefill.embeds))?.into_dyn();
        let mut positions = prefill.positions.prefill(seq)?;
        let mut t = seq;
        let mut sampler = Sampler::new(opts);
        let mut out = Vec::new();
        let mut first_token = None;
        for _ in 0..budget {
            let total = past_len(&past, d.num_kv_heads, d.head_dim)? + t;
            let mask = Tensor::from_array(([1usize, total], vec![1i64; total]))?;
            let pos = Tensor::from_array(std::mem::take(&mut positions))?;
            let mut inputs: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = vec![
                ("inputs_embeds".into(), step_embeds.into()),
                ("attention_mask".into(), mask.into()),
                ("position_ids".into(), pos.into()),
            ];
            for (name, value) in self.names.past.iter().zip(past.drain(..)) {
                inputs.push((name.as_str().into(), value.into()));
            }
            let mut outputs = self.decoder.run(inputs)?;
            // Only the last position's row is needed: copy that, not the prefill's
            // `[T, vocab]` block. Graphs that write the last position only (`[1, 1, vocab]`,
            // as qwen2-vl exports do) are read the same way.
            let logits = view_f32(
                &outputs,
                "decoder",
                "logits",
                &[Some(1), None, Some(d.vocab_size)],
            )?;
            let rows = logits.len() / d.vocab_size.max(1);
            if rows != t && rows != 1 {
                return Err(output_err(
                    "decoder",
                    format!("logits have {rows} rows for {t} positions (expected {t} or 1)"),
                ));
            }
            self.logits.clear();
            self.logits
                .extend_from_slice(&logits[(rows - 1) * d.vocab_size..]);
            for &id in banned {
                if let Some(l) = self.logits.get_mut(id as usize) {
                    *l = f32::NEG_INFINITY;
                }
            }
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
            first_token.get_or_insert_with(std::time::Instant::now);
            if let Some(stop) = stops.reason(token) {
                return Ok(Generated {
                    ids: out,
                    stop,
                    first_token,
                });
            }
            if out.len() == budget {
                // The budget is spent: the last token's embedding would never be used.
                break;
            }
            let e = self.embed(&[i64::from(token)])?;
            step_embeds = Tensor::from_array(([1usize, 1, hidden], e))?.into_dyn();
            // The new token's sequence index is the length so far.
            positions = prefill.positions.step(total);
            t = 1;
        }
        Ok(Generated {
            ids: out,
            stop: StopReason::MaxTokens,
            first_token,
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

#[cfg(test)]
mod tests {
    use reticle_models::qwen::rope::rope_index;

    use super::*;

    #[test]
    fn linear_positions_count_from_zero_and_steps_sit_at_their_index() {
        let p = Positions::Linear;
        assert_eq!(p.prefill(4).unwrap(), (vec![1, 4], vec![0, 1, 2, 3]));
        assert_eq!(p.step(4), (vec![1, 1], vec![4]));
        assert_eq!(p.step(9), (vec![1, 1], vec![9]));
    }

    #[test]
    fn mrope_prefill_is_the_three_rows_and_steps_add_the_delta() {
        // 2 text tokens, a 1×4×6 grid (2×3 merged tokens), 2 text tokens: delta −3.
        let ids = [1, 2, 9, 9, 9, 9, 9, 9, 3, 4];
        let rope = rope_index(&ids, 9, &[[1, 4, 6]], 2).unwrap();
        let p = Positions::Mrope(rope.clone());
        let (shape, values) = p.prefill(ids.len()).unwrap();
        assert_eq!(shape, [3, 1, 10]);
        assert_eq!(values, rope.rows.concat());
        assert_eq!(&values[10..20], &[0, 1, 2, 2, 2, 3, 3, 3, 5, 6]);
        // The first generated token (index 10) continues at the largest position + 1 = 7,
        // in all three rows; the next at 8.
        assert_eq!(p.step(10), (vec![3, 1, 1], vec![7, 7, 7]));
        assert_eq!(p.step(11), (vec![3, 1, 1], vec![8, 8, 8]));
    }

    #[test]
    fn mrope_rows_of_another_length_are_refused() {
        let rope = rope_index(&[1, 2, 3], 9, &[], 2).unwrap();
        let err = Positions::Mrope(rope).prefill(4).unwrap_err();
        assert!(
            err.to_string().contains("3 positions for a prefill of 4"),
            "{err}"
        );
    }

    #[test]
    fn the_budget_is_capped_by_the_positions_left() {
        let what = || "12 prompt tokens".to_string();
        assert_eq!(token_budget(12, what, 64, 100).unwrap(), 64);
        assert_eq!(token_budget(90, what, 64, 100).unwrap(), 10);
        let err = token_budget(100, what, 64, 100).unwrap_err();
        assert!(
            err.to_string()
                .contains("12 prompt tokens leave no room in the model's 100 positions"),
            "{err}"
        );
    }

    #[test]
    fn eos_wins_over_answer_end_and_other_tokens_go_on() {
        let stops = StopIds {
            eos: 5,
            answer_end: Some(7),
        };
        assert_eq!(stops.reason(5), Some(StopReason::Eos));
        assert_eq!(stops.reason(7), Some(StopReason::AnswerEnd));
        assert_eq!(stops.reason(6), None);
        let no_answer_end = StopIds {
            eos: 5,
            answer_end: None,
        };
        assert_eq!(no_answer_end.reason(7), None);
    }
}
