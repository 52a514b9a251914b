//! A `qwen2-vl` run (or one of its checkpoints) → a model package in the onnx-community
//! layout, its LoRA adapters merged into the weights:
//!
//! ```text
//! vision_encoder.onnx  embed_tokens.onnx  decoder_model_merged.onnx   opset 17
//! tokenizer.json  preprocessor_config.json  config.json               from the checkpoint
//! chat_template.jinja                                                 the checkpoint's template
//! model.json  README.md
//! ```
//!
//! and the parity fixture ([`write_fixture`]): a real prompt (an image through the processor,
//! the chat template) through tch with the adapters on, and the cached steps after it, which
//! the checker compares with ONNX Runtime on the merged graphs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use reticle_models::geometry::CoordFrame;
use reticle_models::manifest::{
    qwen_graphs, Architecture, Channels, DecoderSpec, Manifest, Preprocess, QwenSpec, FORMAT,
    VERSION,
};
use reticle_models::qwen::processor::answer_frame;
use tch::{Device, Kind, Tensor};

use super::onnx_builder::{self, OPSET};
use super::package::{trained_tasks, CARD_FILE};
use super::parity::{self, ParityReport};
use super::quant::Quant;
use super::qwen;
use crate::config::ModelArchitecture;
use crate::error::{Error, Result};
use crate::model::qwen::{QwenImages, QwenVl};
use crate::qwen::session::load_trained_at;
use crate::qwen::TrainedQwen;

pub const CONFIG_FILE: &str = "config.json";
pub const PREPROCESSOR_FILE: &str = "preprocessor_config.json";
pub const TEMPLATE_FILE: &str = "chat_template.jinja";
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// The run directory of `source` (a run, or `<run>/checkpoints/step-N`) when it is a
/// `qwen2-vl` run, with the checkpoint folder when one was named.
pub fn qwen_source(source: &Path) -> Result<Option<(PathBuf, Option<PathBuf>)>> {
    let (run, ckpt) = if source.join("config.toml").is_file() {
        (source.to_path_buf(), None)
    } else {
        match source.parent().and_then(Path::parent) {
            Some(run) if run.join("config.toml").is_file() => {
                (run.to_path_buf(), Some(source.to_path_buf()))
            }
            _ => return Ok(None),
        }
    };
    let cfg_path = run.join("config.toml");
    let text = std::fs::read_to_string(&cfg_path).map_err(|e| Error::io(&cfg_path, e))?;
    let cfg = crate::config::TrainConfig::from_toml(&text)?;
    Ok((cfg.model.architecture == ModelArchitecture::Qwen2Vl).then_some((run, ckpt)))
}

/// Whether `source` is a Hugging Face checkpoint folder (`config.json` beside safetensors)
/// rather than a reticle run.
pub fn is_hf_checkpoint(source: &Path) -> bool {
    source.join("config.json").is_file()
        && !source.join("config.toml").is_file()
        && (source.join("model.safetensors").is_file()
            || source.join("model.safetensors.index.json").is_file())
}

/// The Qwen model `source` names, loaded on the CPU for export: a `qwen2-vl` run (its last
/// checkpoint's adapters), one of its `checkpoints/step-N` folders, or a Hugging Face
/// checkpoint folder (exported as given); `None` when `source` is another architecture's run.
pub fn load_source(source: &Path) -> Result<Option<TrainedQwen>> {
    let trained = if is_hf_checkpoint(source) {
        load_base(source)?
    } else {
        match qwen_source(source)? {
            // f32 whatever the run trained in: the adapters merge without rounding.
            Some((run, ckpt)) => {
                load_trained_at(&run, ckpt.as_deref(), Device::Cpu, Some(tch::Kind::Float))?
            }
            None => return Ok(None),
        }
    };
    trained.model.set_training(false);
    trained.model.set_adapters_enabled(true);
    Ok(Some(trained))
}

/// A base checkpoint folder as a "run" at step 0 without adapters (its default settings:
/// direct answers, the default token budget), for exporting a model as downloaded.
pub fn load_base(checkpoint: &Path) -> Result<TrainedQwen> {
    let ckpt = reticle_models::qwen::CheckpointDir::open(checkpoint)?;
    let mut cfg = crate::config::TrainConfig::default();
    cfg.model.architecture = ModelArchitecture::Qwen2Vl;
    cfg.model.checkpoint = Some(checkpoint.to_path_buf());
    let model = QwenVl::load(&ckpt, Device::Cpu)?;
    let encoder = crate::qwen::QwenEncoder::new(&ckpt, cfg.prep.mode)?;
    Ok(TrainedQwen {
        cfg,
        model,
        encoder,
        checkpoint: ckpt,
        step: 0,
    })
}

/// The manifest of the package of `trained`, named `name`, its decoder weights as `quant`.
pub fn build_manifest(trained: &TrainedQwen, name: &str, quant: Option<Quant>) -> Result<Manifest> {
    let cfg = trained.model.config();
    let layout = qwen::decoder_layout(cfg)?;
    let proc = trained.checkpoint.processor.clone();
    let unit = proc.merge_size * proc.merge_size * proc.patch_size * proc.patch_size;
    let max_positions = cfg.text.max_position_embeddings;
    // The most image tokens one image can take (max_pixels), below the position budget.
    let most = usize::try_from(proc.max_pixels / unit.max(1) as u64).unwrap_or(usize::MAX);
    let num_image_tokens = most.clamp(1, max_positions.saturating_sub(1).max(1));
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        name: name.to_string(),
        description: format!(
            "{} ({} layers{}){}",
            cfg.family.model_type(),
            cfg.text.num_hidden_layers,
            quant.map_or(String::new(), |q| format!(
                ", decoder weights {} (MatMulNBits, blocks of {})",
                q.name(),
                super::quant::BLOCK
            )),
            match trained.model.lora_var_store() {
                Some(_) => format!(
                    " fine-tuned with LoRA by reticle-trainer to step {}, adapters merged",
                    trained.step
                ),
                None => " as given, exported by reticle-trainer".into(),
            }
        ),
        architecture: Architecture::Qwen2Vl,
        graphs: Some(qwen_graphs(layout.layers)),
        pointer: None,
        qwen: Some(QwenSpec {
            config: CONFIG_FILE.into(),
            preprocessor: PREPROCESSOR_FILE.into(),
            chat_template: TEMPLATE_FILE.into(),
            mode: trained.cfg.prep.mode,
        }),
        decoder: Some(DecoderSpec {
            num_layers: layout.layers,
            num_kv_heads: layout.kv_heads,
            head_dim: layout.head_dim,
            hidden_size: layout.hidden,
            vocab_size: layout.vocab,
            num_image_tokens,
            max_positions,
            position_scheme: layout.positions.scheme(),
        }),
        // Nominal: the processor resizes each image itself (smart_resize); the size here is
        // its resize unit.
        preprocess: Preprocess {
            width: proc.factor() as u32,
            height: proc.factor() as u32,
            resize: Default::default(),
            channels: Channels::Rgb,
            mean: proc.image_mean.iter().map(|&v| v as f32).collect(),
            std: proc.image_std.iter().map(|&v| v as f32).collect(),
            depth_max_m: None,
        },
        coord_frame: answer_frame(cfg.family),
        prompt: None,
        special_tokens: None,
        max_new_tokens: Some(trained.cfg.grpo.sample.max_new_tokens),
        tokenizer: Some(TOKENIZER_FILE.into()),
        weights: None,
        card: Some(CARD_FILE.into()),
        opset: OPSET,
        tasks: trained_tasks(&trained.cfg.data.train),
        perception: Default::default(),
    };
    manifest.validate().map_err(|message| Error::Export {
        path: PathBuf::from("model.json"),
        message: format!("the manifest would be invalid: {message}"),
    })?;
    Ok(manifest)
}

/// Writes every file of the package into `dir`.
pub fn fill(
    trained: &mut TrainedQwen,
    dir: &Path,
    name: &str,
    opts: &super::ExportOptions,
) -> Result<()> {
    let manifest = build_manifest(trained, name, opts.quantize)?;
    let external_above = opts.external_above();
    let parts = manifest.qwen()?;
    let cfg = trained.model.config().clone();
    let vars = trained.model.merged_variables();
    let graphs = parts.graphs;
    for (file, graph) in [
        (
            &graphs.vision_encoder.file,
            qwen::vision_encoder(&vars, &cfg)?,
        ),
        (&graphs.embed_tokens.file, qwen::embed_tokens(&vars, &cfg)?),
        (
            &graphs.decoder.file,
            qwen::decoder_graph(&vars, &cfg, opts.quantize)?,
        ),
    ] {
        onnx_builder::write_model(graph, dir, file, external_above)?;
    }
    drop(vars);
    let ckpt = &trained.checkpoint;
    for (src, dst) in [
        (ckpt.tokenizer.clone(), parts.tokenizer),
        (ckpt.root.join(PREPROCESSOR_FILE), PREPROCESSOR_FILE),
        (ckpt.root.join(CONFIG_FILE), CONFIG_FILE),
    ] {
        let bytes = std::fs::read(&src).map_err(|e| Error::io(&src, e))?;
        reticle_models::fsutil::write_atomic(&dir.join(dst), &bytes)?;
    }
    let template = ckpt.chat_template.as_deref().ok_or_else(|| Error::Export {
        path: ckpt.root.clone(),
        message: "the checkpoint has no chat template".into(),
    })?;
    reticle_models::fsutil::write_atomic(&dir.join(TEMPLATE_FILE), template.as_bytes())?;
    if let Some(card) = &manifest.card {
        reticle_models::fsutil::write_atomic(
            &dir.join(card),
            model_card(trained, &manifest).as_bytes(),
        )?;
    }
    manifest.save(dir)?;
    Ok(())
}

fn model_card(trained: &TrainedQwen, manifest: &Manifest) -> String {
    let cfg = trained.model.config();
    let mut s = String::new();
    // `write!` into a String cannot fail.
    let _ = writeln!(s, "# {}\n\n{}.\n", manifest.name, manifest.description);
    let _ = writeln!(
        s,
        "A reticle model package (`model.json` format `{}` v{}, architecture `qwen2-vl`): three \
         ONNX graphs (opset {}) in the onnx-community layout with the LoRA adapters merged into \
         the weights, and the checkpoint's tokenizer, processor config, `config.json` and chat \
         template. Run it with `reticle ground --model <this folder>`.\n",
        manifest.format, manifest.version, manifest.opset
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| base checkpoint | `{}` |",
        trained.checkpoint.root.display()
    );
    let _ = writeln!(s, "| family | `{}` |", cfg.family.model_type());
    match (&trained.cfg.lora, trained.model.lora_var_store()) {
        (lora, Some(_)) => {
            let lora = lora.clone().unwrap_or_default();
            let vision = if lora.train_vision {
                "adapted"
            } else {
                "frozen"
            };
            let _ = writeln!(
                s,
                "| LoRA (merged) | rank {}, alpha {}, targets {} (vision tower {vision}) |",
                lora.rank,
                lora.alpha,
                lora.target_modules.join(", "),
            );
        }
        (_, None) => {
            let _ = writeln!(s, "| LoRA | none: the checkpoint as given |");
        }
    }
    let _ = writeln!(s, "| step | {} |", trained.step);
    let frame = match manifest.coord_frame {
        CoordFrame::Pixels => "pixels of the resized image",
        CoordFrame::Norm1000 => "thousandths (0-1000)",
    };
    let _ = writeln!(s, "| answers | `<answer>(x,y)</answer>` in {frame} |");
    s
}

/// Runs tch (adapters on) on a real prompt — `image` through the processor and the chat
/// template with `instruction` — then `steps` cached tokens, and writes inputs and expected
/// outputs to `path` (`.npz`) for the checker. Keys: `pixel_values`, `image_grid_thw`,
/// `image_token_id`, `prompt_ids`, `prefill_attention_mask`, `prefill_position_ids [3, 1,
/// T]`, `step{s}_ids`, `step{s}_attention_mask`, `step{s}_position_ids`, and the expected
/// `image_features`, `prompt_embeds` (before the image features are placed), `prefill_logits`,
/// `step{s}_logits`, `present{i}_key` / `present{i}_value`.
pub fn write_fixture(
    trained: &TrainedQwen,
    image: &image::RgbImage,
    instruction: &str,
    steps: &[i64],
    path: &Path,
) -> Result<()> {
    let model: &QwenVl = &trained.model;
    let prompt = trained.encoder.prompter.prompt(image, instruction)?;
    let processed = &prompt.image;
    let px = Tensor::from_slice(&processed.pixel_values)
        .view([processed.n_patches as i64, processed.patch_dim as i64]);
    let grid = processed.grid_thw.map(|d| d as i64);
    let images = QwenImages {
        pixel_values: &px,
        grid_thw: std::slice::from_ref(&grid),
    };
    let ids = &prompt.ids;
    let t = ids.len() as i64;
    let mut out: Vec<(String, Tensor)> = Vec::new();
    tch::no_grad(|| -> Result<()> {
        let features = model.encode_images(images)?;
        let table = model.var_store().variables();
        let table = table
            .get("model.embed_tokens.weight")
            .ok_or_else(|| Error::Config("the model has no embed_tokens".into()))?;
        let ids_t = Tensor::from_slice(ids);
        let embeds = table.index_select(0, &ids_t).unsqueeze(0);
        let mut cache = model.new_cache();
        let prefill = model.prefill(ids, Some(images), Some(&mut cache))?;
        let rows: Vec<i64> = prefill.positions.rows.iter().flatten().copied().collect();
        out.push(("pixel_values".into(), px.shallow_clone()));
        out.push((
            "image_grid_thw".into(),
            Tensor::from_slice(&grid).view([1, 3]),
        ));
        out.push((
            "image_token_id".into(),
            Tensor::from_slice(&[i64::from(model.config().tokens.image_token_id)]),
        ));
        out.push(("prompt_ids".into(), ids_t.view([1, t])));
        out.push((
            "prefill_attention_mask".into(),
            Tensor::ones([1, t], (Kind::Int64, Device::Cpu)),
        ));
        out.push((
            "prefill_position_ids".into(),
            Tensor::from_slice(&rows).view([3, 1, t]),
        ));
        out.push(("image_features".into(), features));
        out.push(("prompt_embeds".into(), embeds));
        // The graph writes the last position's logits only.
        out.push(("prefill_logits".into(), prefill.logits.narrow(1, t - 1, 1)));
        let delta = prefill.positions.delta;
        for (s, &tok) in steps.iter().enumerate() {
            let position = cache.len() + delta;
            let logits = model.step(tok, delta, &mut cache)?;
            let total = cache.len();
            out.push((
                format!("step{s}_ids"),
                Tensor::from_slice(&[tok]).view([1, 1]),
            ));
            out.push((
                format!("step{s}_attention_mask"),
                Tensor::ones([1, total], (Kind::Int64, Device::Cpu)),
            ));
            out.push((
                format!("step{s}_position_ids"),
                Tensor::from_slice(&[position; 3]).view([3, 1, 1]),
            ));
            out.push((format!("step{s}_logits"), logits.unsqueeze(1)));
        }
        for (i, layer) in cache.layers.iter().enumerate() {
            if let Some((k, v)) = layer {
                out.push((format!("present{i}_key"), k.shallow_clone()));
                out.push((format!("present{i}_value"), v.shallow_clone()));
            }
        }
        Ok(())
    })?;
    let out: Vec<(String, Tensor)> = out
        .into_iter()
        .map(|(k, v)| (k, v.to_device(Device::Cpu).contiguous()))
        .collect();
    Tensor::write_npz(&out, path)?;
    Ok(())
}

/// A seeded image for the parity fixture: smooth colour gradients plus noise, `w × h`.
pub fn parity_image(w: u32, h: u32, seed: u64) -> image::RgbImage {
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    image::RgbImage::from_fn(w, h, |x, y| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let noise = (state >> 59) as u8;
        image::Rgb([
            ((x * 255 / w.max(1)) as u8).wrapping_add(noise),
            ((y * 255 / h.max(1)) as u8).wrapping_add(noise),
            (((x + y) * 127 / (w + h).max(1)) as u8).wrapping_add(noise),
        ])
    })
}

/// Tolerance of the qwen parity check (max absolute difference of logits and cache).
pub const TOLERANCE: f64 = 1e-3;

/// Writes a fixture for `trained` into `work_dir` and checks `package` against it. The
/// prompt is the first record of the run's evaluation (else training) data, so that its
/// words are ones the tokenizer knows; a seeded image and a stock instruction when the data
/// is gone.
pub fn check_package(
    trained: &TrainedQwen,
    package: &Path,
    work_dir: &Path,
    tolerance: f64,
) -> Result<ParityReport> {
    let python = parity::tools_python()?;
    let fixture = work_dir.join("parity.npz");
    let vocab = trained.model.config().text.vocab_size as i64;
    let steps: Vec<i64> = (0..3).map(|s| (s * 37 + 11) % vocab).collect();
    let data = &trained.cfg.data;
    let record = data.eval.iter().chain(&data.train).find_map(|p| {
        reticle_models::dataset::read_dataset(p)
            .ok()?
            .into_iter()
            .next()
    });
    let (image, instruction) = match record {
        Some(r) => (
            reticle_models::imageio::open(&r.image)?.to_rgb8(),
            r.instruction,
        ),
        None => (parity_image(92, 60, 7), "click the OK button".to_string()),
    };
    write_fixture(trained, &image, &instruction, &steps, &fixture)?;
    parity::run_checker(&python, package, &fixture, tolerance)
}
