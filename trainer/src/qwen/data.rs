//! Records → Qwen inputs: the image through `Qwen2VLImageProcessor` (its own resolution,
//! `pixel_values` and `image_grid_thw`), the instruction in the checkpoint's chat template with
//! the `<|image_pad|>` run expanded, and the reference completion ending with `<|im_end|>`,
//! its coordinates in the family's answer frame (resized-image pixels for Qwen2.5-VL,
//! `norm1000` for Qwen2-VL, as UI-R1 / GUI-G1 train them).

use rayon::prelude::*;
use reticle_models::dataset::Record;
use reticle_models::geometry::{CoordFrame, FrameMap};
use reticle_models::grammar::Mode;
use reticle_models::qwen::{CheckpointDir, ImageProcessor, QwenPrompter};
use reticle_models::tokenizer::TextTokenizer;
use tch::Tensor;

use crate::data::target_text;
use crate::error::{Error, Result};
use crate::model::qwen::QwenImages;

pub use reticle_models::qwen::prompt::{IM_END, PAD};

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

/// The checkpoint's prompter (processor, template, tokenizer: shared with the runtime) and
/// what training adds: records to tensors.
#[derive(Debug)]
pub struct QwenEncoder {
    pub prompter: QwenPrompter,
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
        Ok(Self {
            prompter: QwenPrompter::new(
                tokenizer,
                ImageProcessor::new(ckpt.processor.clone()),
                source,
                ckpt.config.family,
                mode,
            )?,
        })
    }

    /// `<|endoftext|>`, the padding of batched completions.
    pub fn pad(&self) -> i64 {
        self.prompter.pad
    }

    /// The tokens that end a sampled completion.
    pub fn stop_ids(&self) -> Vec<i64> {
        self.prompter.stop_ids()
    }

    /// Encodes `record`.
    pub fn example(&self, record: &Record) -> Result<QwenExample> {
        let bad = |m: String| Error::Example {
            id: record.id.clone(),
            message: m,
        };
        let image = reticle_models::imageio::open(&record.image)?.to_rgb8();
        let prompt = self.prompter.prompt(&image, &record.instruction)?;
        let (processed, frame) = (prompt.image, prompt.frame);
        let ids = |t: &str| self.prompter.ids(t).map_err(Error::from);
        let prompt_ids = prompt.ids;
        let max = match frame.frame {
            CoordFrame::Pixels => (
                f64::from(processed.resized.0),
                f64::from(processed.resized.1),
            ),
            CoordFrame::Norm1000 => (1000.0, 1000.0),
        };
        let mut target_ids = ids(&target_text(record, &frame, max, self.prompter.mode())?)?;
        if target_ids.is_empty() {
            return Err(bad("the reference answer encodes to no token".into()));
        }
        target_ids.push(self.prompter.eos);
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
        Ok(self.prompter.decode(ids)?)
    }
}
