//! The grounding prompt of a Qwen2-VL / Qwen2.5-VL model, built the same way by the trainer
//! (SFT targets, GRPO rollouts) and by the runtime (an exported package): the image through
//! `Qwen2VLImageProcessor`, the instruction and the answer format in one user message of the
//! checkpoint's chat template, the `<|image_pad|>` run expanded, tokenised; and completions
//! decoded back to text up to `<|im_end|>`.

use image::RgbImage;

use crate::error::{Error, Result};
use crate::geometry::{CoordFrame, FrameMap};
use crate::grammar::Mode;
use crate::qwen::processor::{answer_frame, ImageProcessor, ProcessedImage};
use crate::qwen::template::{expand_image_pads, ChatTemplate};
use crate::qwen::Family;
use crate::tokenizer::TextTokenizer;

/// The end of an assistant turn: generation stops there.
pub const IM_END: &str = "<|im_end|>";
/// Padding of batched completions (never attended: it only follows real tokens).
pub const PAD: &str = "<|endoftext|>";

/// One image and instruction, ready for the model.
#[derive(Debug, Clone)]
pub struct QwenPrompt {
    /// The processed image (`pixel_values`, `grid_thw`, sizes).
    pub image: ProcessedImage,
    /// The rendered chat prompt with the image tokens expanded, ending with the assistant
    /// header.
    pub ids: Vec<i64>,
    /// Answer frame ↔ original pixels.
    pub frame: FrameMap,
}

/// A checkpoint's (or package's) processor, template and tokenizer, with the ids generation
/// needs.
#[derive(Debug)]
pub struct QwenPrompter {
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

impl QwenPrompter {
    /// `template_source` is the checkpoint's Jinja chat template.
    pub fn new(
        tokenizer: TextTokenizer,
        processor: ImageProcessor,
        template_source: &str,
        family: Family,
        mode: Mode,
    ) -> Result<Self> {
        let id = |t: &str| tokenizer.token_id(t).map(i64::from);
        Ok(Self {
            eos: id(IM_END)?,
            pad: id(PAD)?,
            answer_end: id("</answer>").ok(),
            processor,
            template: ChatTemplate::new(template_source)?,
            family,
            mode,
            tokenizer,
        })
    }

    pub fn family(&self) -> Family {
        self.family
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    pub fn processor(&self) -> &ImageProcessor {
        &self.processor
    }

    /// The tokens that end a completion.
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

    /// Token ids of trusted text (the template's control tokens become special tokens).
    pub fn ids(&self, text: &str) -> Result<Vec<i64>> {
        Ok(self
            .tokenizer
            .encode(text)?
            .into_iter()
            .map(i64::from)
            .collect())
    }

    /// The prompt for `instruction` on `image`. The instruction is untrusted text: one that
    /// writes a special token (`<|im_end|>`, `<|image_pad|>`, …) is refused rather than
    /// becoming a control token of the chat format.
    pub fn prompt(&self, image: &RgbImage, instruction: &str) -> Result<QwenPrompt> {
        if instruction.trim().is_empty() {
            return Err(Error::invalid("instruction", "the instruction is empty"));
        }
        self.tokenizer.encode_plain(instruction)?;
        let processed = self.processor.process(image)?;
        let frame = processed.frame_map(self.family)?;
        let prompt = self
            .template
            .render_image_prompt(&self.instruction_text(instruction))?;
        let text = expand_image_pads(&prompt, &[processed.n_image_tokens])?;
        Ok(QwenPrompt {
            ids: self.ids(&text)?,
            image: processed,
            frame,
        })
    }

    /// The answer text of completion tokens: up to `<|im_end|>`, padding dropped.
    pub fn decode(&self, ids: &[i64]) -> Result<String> {
        crate::tokenizer::decode_completion(&self.tokenizer, ids, self.eos, self.pad)
    }
}
