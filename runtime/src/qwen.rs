//! [`QwenPolicy`]: a `qwen2-vl` package — a Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint
//! exported to the three graphs of the onnx-community layout, with the checkpoint's own
//! `config.json`, `preprocessor_config.json`, chat template and `tokenizer.json`.
//!
//! One call, as the trainer's `QwenVl::generate_greedy` runs it: the image at its own
//! resolution through the checkpoint's processor and the grounding prompt
//! ([`QwenPrompter`], shared with the trainer); the vision encoder on `pixel_values
//! [n_patches, patch_dim]` and `image_grid_thw [1, 3]`; the prompt's token embeddings with the
//! `<|image_pad|>` rows replaced, in order, by the image features; M-RoPE positions
//! ([`rope_index`]); then the shared KV-cache loop ([`TextDecoder::generate`]) until
//! `<|im_end|>` (or a one-token `</answer>`). Answers are in the family's frame and are mapped
//! back to original pixels with the prompt's [`FrameMap`](reticle_models::geometry::FrameMap).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ort::session::Session;
use ort::value::{Tensor, TensorRef};
use reticle_models::manifest::{DecoderSpec, Manifest, QwenParts};
use reticle_models::preprocess::DepthRef;
use reticle_models::qwen::processor::answer_frame;
use reticle_models::qwen::rope::rope_index;
use reticle_models::qwen::template::IMAGE_PAD;
use reticle_models::qwen::{
    ChatTemplate, ImageProcessor, ProcessedImage, ProcessorConfig, QwenConfig, QwenPrompt,
    QwenPrompter,
};
use reticle_models::tokenizer::TextTokenizer;

use crate::decode::{
    take_f32, token_budget, Generated, Positions, Prefill, StopIds, TextDecoder, Timings,
};
use crate::error::{Error, Result};
use crate::graphs::{Graphs, Layout, SessionConfig, VisionInput};
use crate::grounder::{open_workers, package_err, Grounding, ImageInput, LoadOptions};
use crate::perception::to_rgb;
use crate::pool::Pool;
use crate::provider::Provider;
use crate::sampling::DecodeOptions;

/// One worker: the three sessions of one caller.
#[derive(Debug)]
struct Worker {
    vision: Session,
    text: TextDecoder,
}

impl Worker {
    fn open(dir: &Path, layout: &Layout<'_>, cfg: SessionConfig) -> Result<Self> {
        let g = Graphs::open(dir, layout, cfg)?;
        Ok(Self {
            vision: g.vision,
            text: TextDecoder::new(g.embed, g.decoder, layout.decoder),
        })
    }

    /// Runs the vision encoder: `[n_image_tokens, hidden]` features, row-major.
    fn encode(&mut self, image: &ProcessedImage) -> Result<Vec<f32>> {
        let shape = [image.n_patches, image.patch_dim];
        let pixels = TensorRef::from_array_view((shape, &image.pixel_values[..]))?;
        let grid: Vec<i64> = image.grid_thw.iter().map(|&g| g as i64).collect();
        let grid = Tensor::from_array(([1usize, 3], grid))?;
        let outputs = self.vision.run(ort::inputs![
            "pixel_values" => pixels,
            "image_grid_thw" => grid,
        ])?;
        take_f32(
            &outputs,
            "vision_encoder",
            "image_features",
            &[
                Some(image.n_image_tokens),
                Some(self.text.dims().hidden_size),
            ],
        )
    }

    /// The prompt's embeddings with the image features in place of its image tokens, and
    /// its M-RoPE positions.
    fn prefill(&mut self, prompt: &QwenPrompt, features: &[f32], v: &Vision) -> Result<Prefill> {
        let mut embeds = self.text.embed(&prompt.ids)?;
        let hidden = self.text.dims().hidden_size;
        scatter_image_features(&mut embeds, &prompt.ids, v.image_token, features, hidden)?;
        let grid = prompt.image.grid_thw.map(|g| g as i64);
        let rope = rope_index(&prompt.ids, v.image_token, &[grid], v.merge)?;
        Ok(Prefill {
            embeds,
            positions: Positions::Mrope(rope),
        })
    }
}

/// Replaces the rows of `embeds` (`[ids.len(), hidden]`) at the tokens equal to
/// `image_token`, in order, by the rows of `features`; their counts must agree.
fn scatter_image_features(
    embeds: &mut [f32],
    ids: &[i64],
    image_token: i64,
    features: &[f32],
    hidden: usize,
) -> Result<()> {
    if hidden == 0 || embeds.len() != ids.len() * hidden {
        return Err(Error::Output {
            graph: "embed_tokens",
            message: format!(
                "{} embedding values for {} tokens of width {hidden}",
                embeds.len(),
                ids.len()
            ),
        });
    }
    let slots: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == image_token).collect();
    if features.len() != slots.len() * hidden {
        return Err(Error::Output {
            graph: "vision_encoder",
            message: format!(
                "{} image feature values ({} rows of {hidden}) for {} image tokens in the prompt",
                features.len(),
                features.len() / hidden,
                slots.len()
            ),
        });
    }
    for (&slot, row) in slots.iter().zip(features.chunks_exact(hidden)) {
        embeds[slot * hidden..(slot + 1) * hidden].copy_from_slice(row);
    }
    Ok(())
}

/// What the prefill needs from `config.json`.
#[derive(Debug, Clone, Copy)]
struct Vision {
    /// `<|image_pad|>`.
    image_token: i64,
    /// `spatial_merge_size`.
    merge: i64,
}

/// One completion and what the grounding needs of it.
struct Completion {
    prompt: QwenPrompt,
    generated: Generated,
    timings: Timings,
}

/// A loaded `qwen2-vl` package. `Send + Sync`, like [`crate::Grounder`].
#[derive(Debug)]
pub struct QwenPolicy {
    dir: PathBuf,
    manifest: Manifest,
    prompter: QwenPrompter,
    vision: Vision,
    stops: StopIds,
    /// The vision tokens, which a completion never contains (the trainer never samples them).
    banned: Vec<u32>,
    decoder: DecoderSpec,
    max_new_tokens: usize,
    provider: Provider,
    workers: Pool<Worker>,
}

/// The checkpoint files of a package, read and checked against each other and the manifest:
/// every error names the file that is wrong.
fn read_checkpoint_files(dir: &Path, q: &QwenParts<'_>) -> Result<(QwenConfig, QwenPrompter)> {
    let spec = q.spec;
    let d = q.decoder;
    let named = |file| file_err(dir, file);
    let config = QwenConfig::load(&dir.join(&spec.config)).map_err(named(&spec.config))?;
    let t = &config.text;
    for (field, got, manifest_field, want) in [
        ("hidden_size", t.hidden_size, "hidden_size", d.hidden_size),
        (
            "num_hidden_layers",
            t.num_hidden_layers,
            "num_layers",
            d.num_layers,
        ),
        (
            "num_key_value_heads",
            t.num_key_value_heads,
            "num_kv_heads",
            d.num_kv_heads,
        ),
        ("head_dim", t.head_dim(), "head_dim", d.head_dim),
        ("vocab_size", t.vocab_size, "vocab_size", d.vocab_size),
    ] {
        if got != want {
            return Err(package_err(
                dir,
                format!(
                    "{}: {field} is {got} but model.json's decoder.{manifest_field} is {want}",
                    spec.config
                ),
            ));
        }
    }

    let processor =
        ProcessorConfig::load(&dir.join(&spec.preprocessor)).map_err(named(&spec.preprocessor))?;
    let v = &config.vision;
    for (field, got, config_field, want) in [
        (
            "patch_size",
            processor.patch_size,
            "patch_size",
            v.patch_size,
        ),
        (
            "temporal_patch_size",
            processor.temporal_patch_size,
            "temporal_patch_size",
            v.temporal_patch_size,
        ),
        (
            "merge_size",
            processor.merge_size,
            "spatial_merge_size",
            v.spatial_merge_size,
        ),
    ] {
        if got != want {
            return Err(package_err(
                dir,
                format!(
                    "{}: {field} is {got} but {}'s vision {config_field} is {want}",
                    spec.preprocessor, spec.config
                ),
            ));
        }
    }

    let template = std::fs::read_to_string(dir.join(&spec.chat_template))
        .map_err(|e| package_err(dir, format!("cannot read {}: {e}", spec.chat_template)))?;
    // Compiled here as well as in the prompter so that a bad template is named as such.
    ChatTemplate::new(&template).map_err(named(&spec.chat_template))?;

    let tokenizer = TextTokenizer::load(&dir.join(q.tokenizer)).map_err(named(q.tokenizer))?;
    if tokenizer.vocab_size() > d.vocab_size {
        return Err(package_err(
            dir,
            format!(
                "{} has {} tokens but the decoder's vocabulary is {}",
                q.tokenizer,
                tokenizer.vocab_size(),
                d.vocab_size
            ),
        ));
    }
    let image_pad = tokenizer.token_id(IMAGE_PAD).map_err(named(q.tokenizer))?;
    if image_pad != config.tokens.image_token_id {
        return Err(package_err(
            dir,
            format!(
                "{} gives {IMAGE_PAD} id {image_pad} but {} says image_token_id {}",
                q.tokenizer, spec.config, config.tokens.image_token_id
            ),
        ));
    }
    // The template compiled above: what is left to fail are the tokenizer's chat tokens.
    let prompter = QwenPrompter::new(
        tokenizer,
        ImageProcessor::new(processor),
        &template,
        config.family,
        spec.mode,
    )
    .map_err(named(q.tokenizer))?;
    Ok((config, prompter))
}

/// An error of the package file `file`.
fn file_err<'a>(dir: &'a Path, file: &'a str) -> impl Fn(reticle_models::Error) -> Error + 'a {
    move |e| package_err(dir, format!("{file}: {e}"))
}

/// A `u32` token id of the prompter's (it read them as `u32`).
fn token_u32(dir: &Path, file: &str, id: i64) -> Result<u32> {
    u32::try_from(id).map_err(|_| package_err(dir, format!("{file}: token id {id} out of range")))
}

impl QwenPolicy {
    /// Validates the manifest, reads and cross-checks the checkpoint files, opens the three
    /// graphs on each worker and checks their I/O.
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let manifest = Manifest::load(dir)?;
        let q = manifest.qwen()?;
        crate::ort_lib::environment()?;
        let (config, prompter) = read_checkpoint_files(dir, &q)?;
        let frame = answer_frame(config.family);
        if manifest.coord_frame != frame {
            return Err(package_err(
                dir,
                format!(
                    "model.json's coord_frame is {:?} but {} checkpoints answer in {frame:?}",
                    manifest.coord_frame,
                    config.family.model_type()
                ),
            ));
        }
        let p = prompter.processor().config();
        let layout = Layout {
            files: q.graphs,
            decoder: q.decoder,
            vision: VisionInput::Patches {
                patch_dim: 3 * p.temporal_patch_size * p.patch_size * p.patch_size,
            },
        };
        let (provider, workers) = open_workers(opts, |cfg| Worker::open(dir, &layout, cfg))?;
        let stops = StopIds {
            eos: token_u32(dir, q.tokenizer, prompter.eos)?,
            answer_end: prompter
                .answer_end
                .map(|id| token_u32(dir, q.tokenizer, id))
                .transpose()?,
        };
        let t = &config.tokens;
        let banned = vec![
            t.image_token_id,
            t.video_token_id,
            t.vision_start_token_id,
            t.vision_end_token_id,
        ];
        let vision = Vision {
            image_token: i64::from(config.tokens.image_token_id),
            merge: config.vision.spatial_merge_size as i64,
        };
        tracing::info!(
            package = %dir.display(),
            name = %manifest.name,
            architecture = %manifest.architecture,
            family = config.family.model_type(),
            requested = %opts.provider,
            provider = %provider,
            workers = workers.size(),
            "model package loaded"
        );
        let (decoder, max_new_tokens) = (*q.decoder, q.max_new_tokens);
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            prompter,
            vision,
            stops,
            banned,
            decoder,
            max_new_tokens,
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

    /// The package's processor, chat template and tokenizer.
    pub fn prompter(&self) -> &QwenPrompter {
        &self.prompter
    }

    /// Grounds `instruction` in `image` with `options`. Qwen packages read RGB only: a depth
    /// image is refused. Blocks while every worker is busy.
    pub fn ground(
        &self,
        image: ImageInput<'_>,
        depth: Option<DepthRef<'_>>,
        instruction: &str,
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        self.manifest.check_depth_input(depth.is_some())?;
        let c = self.complete(image, instruction, options)?;
        let ids: Vec<i64> = c.generated.ids.iter().map(|&t| i64::from(t)).collect();
        let text = self.prompter.decode(&ids)?;
        Ok(Grounding::from_completion(
            text,
            &c.generated,
            c.prompt.frame,
            c.timings,
        ))
    }

    /// The token ids greedy decoding generates for `instruction` on `image`, the stop token
    /// included (as the trainer's `QwenVl::generate_greedy` returns them): at most
    /// `max_new_tokens`, fewer when the model's positions run out.
    pub fn generate_ids<'a>(
        &self,
        image: impl Into<ImageInput<'a>>,
        instruction: &str,
        max_new_tokens: usize,
    ) -> Result<Vec<i64>> {
        let options = DecodeOptions {
            max_new_tokens: Some(max_new_tokens),
            ..DecodeOptions::greedy()
        };
        let c = self.complete(image.into(), instruction, &options)?;
        Ok(c.generated.ids.into_iter().map(i64::from).collect())
    }

    /// Decodes after a prompt of token ids with no image (text-only M-RoPE positions, the
    /// three rows equal): the new ids (stop token included) and the timings (`decode` and its
    /// `first_token` part). The decoding-speed benchmark's entry (`scripts/bench_qwen.sh`),
    /// comparable with peers that take token ids.
    pub fn generate_from_ids(
        &self,
        prompt_ids: &[i64],
        options: &DecodeOptions,
    ) -> Result<(Vec<i64>, Timings)> {
        options.validate()?;
        if prompt_ids.is_empty() {
            return Err(Error::invalid("prompt", "the prompt has no tokens"));
        }
        let vocab = self.decoder.vocab_size as i64;
        if let Some(bad) = prompt_ids.iter().find(|&&id| id < 0 || id >= vocab) {
            return Err(Error::invalid(
                "prompt",
                format!("token id {bad} is outside the vocabulary of {vocab}"),
            ));
        }
        if prompt_ids.contains(&self.vision.image_token) {
            return Err(Error::invalid(
                "prompt",
                "a prompt without an image cannot hold <|image_pad|> tokens",
            ));
        }
        let budget = token_budget(
            prompt_ids.len(),
            || format!("{} prompt tokens", prompt_ids.len()),
            options.max_new_tokens.unwrap_or(self.max_new_tokens),
            self.decoder.max_positions,
        )?;
        let rope = rope_index(prompt_ids, self.vision.image_token, &[], self.vision.merge)?;
        let mut worker = self.workers.lease();
        let t0 = Instant::now();
        let prefill = Prefill {
            embeds: worker.text.embed(prompt_ids)?,
            positions: Positions::Mrope(rope),
        };
        let generated = worker
            .text
            .generate(prefill, self.stops, &self.banned, options, budget)?;
        let t1 = Instant::now();
        let timings = Timings {
            decode: t1 - t0,
            first_token: generated.first_token.map_or(t1 - t0, |t| t - t0),
            ..Timings::default()
        };
        Ok((generated.ids.into_iter().map(i64::from).collect(), timings))
    }

    /// The prompt and the generated tokens of one request.
    fn complete(
        &self,
        image: ImageInput<'_>,
        instruction: &str,
        options: &DecodeOptions,
    ) -> Result<Completion> {
        options.validate()?;
        let d = &self.decoder;
        let t0 = Instant::now();
        let prompt = self.prompter.prompt(&to_rgb(image)?, instruction)?;
        let preprocess = t0.elapsed();
        let budget = token_budget(
            prompt.ids.len(),
            || {
                format!(
                    "{} prompt tokens ({} of them for the {}x{} image)",
                    prompt.ids.len(),
                    prompt.image.n_image_tokens,
                    prompt.image.resized.0,
                    prompt.image.resized.1
                )
            },
            options.max_new_tokens.unwrap_or(self.max_new_tokens),
            d.max_positions,
        )?;
        if prompt.image.n_image_tokens > d.num_image_tokens {
            tracing::debug!(
                image_tokens = prompt.image.n_image_tokens,
                bound = d.num_image_tokens,
                "more image tokens than the manifest's decoder.num_image_tokens"
            );
        }

        let mut worker = self.workers.lease();
        let t1 = Instant::now();
        let features = worker.encode(&prompt.image)?;
        let t2 = Instant::now();
        let prefill = worker.prefill(&prompt, &features, &self.vision)?;
        let generated = worker
            .text
            .generate(prefill, self.stops, &self.banned, options, budget)?;
        let t3 = Instant::now();
        drop(worker);
        let first_token = generated.first_token.map_or(t3 - t2, |t| t - t2);
        Ok(Completion {
            prompt,
            generated,
            timings: Timings {
                perceive: Duration::ZERO,
                preprocess,
                encode: t2 - t1,
                decode: t3 - t2,
                first_token,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_features_replace_the_image_tokens_in_order() {
        let hidden = 2;
        let ids = [1, 9, 9, 2, 9];
        let mut embeds: Vec<f32> = (0..10).map(|v| v as f32).collect();
        let features = [-1.0, -2.0, -3.0, -4.0, -5.0, -6.0];
        scatter_image_features(&mut embeds, &ids, 9, &features, hidden).unwrap();
        assert_eq!(
            embeds,
            [0.0, 1.0, -1.0, -2.0, -3.0, -4.0, 6.0, 7.0, -5.0, -6.0]
        );
    }

    #[test]
    fn a_feature_count_other_than_the_image_tokens_is_an_error() {
        let ids = [1, 9, 9, 2];
        let mut embeds = vec![0.0; 8];
        let err = scatter_image_features(&mut embeds, &ids, 9, &[0.0; 6], 2).unwrap_err();
        assert!(
            err.to_string()
                .contains("6 image feature values (3 rows of 2) for 2 image tokens"),
            "{err}"
        );
        assert!(err.to_string().starts_with("vision_encoder:"), "{err}");
        assert!(embeds.iter().all(|&v| v == 0.0), "nothing written on error");
        // No image token at all, but features.
        let err = scatter_image_features(&mut embeds, &[1, 2, 3, 4], 9, &[0.0; 2], 2).unwrap_err();
        assert!(err.to_string().contains("for 0 image tokens"), "{err}");
        // Embeddings that are not one row per id.
        let err = scatter_image_features(&mut embeds, &[1, 9], 9, &[0.0; 2], 2).unwrap_err();
        assert!(
            err.to_string().contains("8 embedding values for 2 tokens"),
            "{err}"
        );
    }

    #[test]
    fn every_pixel_format_becomes_rgb() {
        use reticle_models::preprocess::{PixelFormat, PixelsRef};
        let bgra = [10u8, 20, 30, 255, 40, 50, 60, 0];
        let px = PixelsRef::new(2, 1, PixelFormat::Bgra8, &bgra).unwrap();
        let rgb = to_rgb(ImageInput::Pixels(px)).unwrap();
        assert_eq!(rgb.as_raw(), &[30, 20, 10, 60, 50, 40]);
        let gray =
            image::DynamicImage::ImageLuma8(image::GrayImage::from_raw(1, 1, vec![7]).unwrap());
        assert_eq!(
            to_rgb(ImageInput::Image(&gray)).unwrap().as_raw(),
            &[7, 7, 7]
        );
    }
}
