//! Records → Qwen inputs: the image through `Qwen2VLImageProcessor` (its own resolution,
//! `pixel_values` and `image_grid_thw`), the instruction in the checkpoint's chat template with
//! the `<|image_pad|>` run expanded, and the reference completion ending with `<|im_end|>`,
//! its coordinates in the family's answer frame (resized-image pixels for Qwen2.5-VL,
//! `norm1000` for Qwen2-VL, as UI-R1 / GUI-G1 train them).

use rayon::prelude::*;
use reticle_models::dataset::Record;
use reticle_models::geometry::{CoordFrame, FrameMap};
use reticle_models::grammar::Mode;
use reticle_models::qwen::processor::answer_frame;
use reticle_models::qwen::template::expand_image_pads;
use reticle_models::qwen::{ChatTemplate, CheckpointDir, Family, ImageProcessor};
use reticle_models::tokenizer::TextTokenizer;
use tch::Tensor;

use crate::data::target_text;
use crate::error::{Error, Result};
use crate::model::qwen::QwenImages;

/// The end of an assistant turn: generation stops there.
pub const IM_END: &str = "<|im_end|>";
/// Padding of batched completions (never attended: it only follows real tokens).
pub const PAD: &str = "<|endoftext|>";

/// One encoded record.
#[derive(Debug)]
pub struct QwenExample {
    /// `[n_patches, patch_dim]` f32 on the CPU, as the processor writes it.
    pub pixel_values: Tensor,
    /// `image_grid_thw` in patches.
    pub grid: [i64; 3],
    /// The rendered chat prompt with the image tokens expanded, ending with the assistant
    /// header.
    pub prompt_ids: Vec<i64>,
    /// The reference completion, ending with `<|im_end|>`.
    pub target_ids: Vec<i64>,
    /// Answer frame ↔ original pixels.
    pub frame: FrameMap,
}

impl QwenExample {
    pub fn images(&self) -> QwenImages<'_> {
        QwenImages {
            pixel_values: &self.pixel_values,
            grid_thw: std::slice::from_ref(&self.grid),
        }
    }
}

/// The checkpoint's processor, template and tokenizer, with the ids generation needs.
#[derive(Debug)]
pub struct QwenEncoder {
    pub tokenizer: TextTokenizer,
    processor: ImageProcessor,
    template: ChatTemplate,
    family: Family,
    mode: Mode,
    /// `<|im_end|>`.
    pub eos: i64,
    /// `<|endoftext|>`.
    pub pad: i64,
    /// `</answer>` when the tokenizer has it as one token (a stop token then); published Qwen
    /// tokenizers split it, and generation stops at `<|im_end|>`.
    pub answer_end: Option<i64>,
}

impl QwenEncoder {
    pub fn new(ckpt: &CheckpointDir, mode: Mode) -> Result<Self> {
        let tokenizer = TextTokenizer::load(&ckpt.tokenizer)?;
        let source = ckpt.chat_template.as_deref().ok_or_else(|| {
            Error::Config(format!(
                "checkpoint {} has no chat template (tokenizer_config.json `chat_template`)",
                ckpt.root.display()
            ))
        })?;
        let id = |t: &str| tokenizer.token_id(t).map(i64::from);
        Ok(Self {
            eos: id(IM_END)?,
            pad: id(PAD)?,
            answer_end: id("</answer>").ok(),
            processor: ImageProcessor::new(ckpt.processor.clone()),
            template: ChatTemplate::new(source)?,
            family: ckpt.config.family,
            mode,
            tokenizer,
        })
    }

    /// The tokens that end a sampled completion.
    pub fn stop_ids(&self) -> Vec<i64> {
        std::iter::once(self.eos).chain(self.answer_end).collect()
    }

    /// The user message: the instruction, then how to write the answer.
    pub fn instruction_text(&self, instruction: &str) -> String {
        let frame = match answer_frame(self.family) {
            CoordFrame::Pixels => "pixels of the image",
            CoordFrame::Norm1000 => "thousandths of the image width and height (0-1000)",
        };
        let think = match self.mode {
            Mode::Think => "Think first inside <think></think>, then give",
            Mode::Direct => "Give",
        };
        format!("{instruction}\n{think} the answer as <answer>(x,y)</answer>, x and y in {frame}.")
    }

    /// Encodes `record`.
    pub fn example(&self, record: &Record) -> Result<QwenExample> {
        let bad = |m: String| Error::Example {
            id: record.id.clone(),
            message: m,
        };
        // An instruction is untrusted text: a special token written in it is refused rather
        // than becoming a control token of the chat format.
        self.tokenizer.encode_plain(&record.instruction)?;
        let image = reticle_models::imageio::open(&record.image)?.to_rgb8();
        let processed = self.processor.process(&image)?;
        let frame = processed.frame_map(self.family)?;
        let prompt = self
            .template
            .render_image_prompt(&self.instruction_text(&record.instruction))?;
        let text = expand_image_pads(&prompt, &[processed.n_image_tokens])?;
        let ids = |t: &str| -> Result<Vec<i64>> {
            Ok(self
                .tokenizer
                .encode(t)?
                .into_iter()
                .map(i64::from)
                .collect())
        };
        let prompt_ids = ids(&text)?;
        let max = match frame.frame {
            CoordFrame::Pixels => (
                f64::from(processed.resized.0),
                f64::from(processed.resized.1),
            ),
            CoordFrame::Norm1000 => (1000.0, 1000.0),
        };
        let mut target_ids = ids(&target_text(record, &frame, max, self.mode)?)?;
        if target_ids.is_empty() {
            return Err(bad("the reference answer encodes to no token".into()));
        }
        target_ids.push(self.eos);
        let pixel_values = Tensor::from_slice(&processed.pixel_values)
            .view([processed.n_patches as i64, processed.patch_dim as i64]);
        Ok(QwenExample {
            pixel_values,
            grid: processed.grid_thw.map(|d| d as i64),
            prompt_ids,
            target_ids,
            frame,
        })
    }

    /// Encodes every record (in parallel: image resizing dominates).
    pub fn encode_all(&self, records: &[Record]) -> Result<Vec<QwenExample>> {
        records.par_iter().map(|r| self.example(r)).collect()
    }

    /// The answer text of completion tokens: up to `<|im_end|>`, padding dropped.
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        crate::data::decode_completion(&self.tokenizer, ids, self.eos, self.pad)
    }
}
