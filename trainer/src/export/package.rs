//! The non-graph parts of a package: the `model.json` manifest and the `README.md` model card.

use std::fmt::Write as _;
use std::path::Path;

use reticle_models::dataset::{self, Task};
use reticle_models::geometry::CoordFrame;
use reticle_models::manifest::{
    standard_graphs, Architecture, DecoderSpec, Manifest, Prompt, SpecialTokens, FORMAT, VERSION,
};
use serde_json::Value;

use super::onnx_builder::OPSET;
use super::Trained;
use crate::error::{Error, Result};
use crate::model::Policy;
use crate::run::RunInfo;
use crate::session::TOKENIZER_FILE;

/// Weights file name inside a package.
pub const WEIGHTS_FILE: &str = "weights.safetensors";
/// Model card file name inside a package.
pub const CARD_FILE: &str = "README.md";

/// The manifest of the package of `trained`, named `name`.
pub fn build_manifest(trained: &Trained, name: &str) -> Result<Manifest> {
    let m = trained.model.config();
    let prep = &trained.cfg.prep;
    if !matches!(m.channels, 3 | 4) {
        return Err(Error::Config(format!(
            "cannot export a {}-channel model",
            m.channels
        )));
    }
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        name: name.to_string(),
        description: format!(
            "ReticleVLM ({}) trained with reticle-trainer to step {}",
            trained.cfg.model.size, trained.step
        ),
        architecture: Architecture::ReticleVlm,
        graphs: Some(standard_graphs(m.num_layers)),
        pointer: None,
        qwen: None,
        decoder: Some(DecoderSpec {
            num_layers: m.num_layers,
            num_kv_heads: m.num_kv_heads,
            head_dim: m.head_dim(),
            hidden_size: m.hidden_size,
            vocab_size: m.vocab_size,
            num_image_tokens: m.num_image_tokens(),
            max_positions: m.max_positions,
            position_scheme: Default::default(),
        }),
        preprocess: crate::data::preprocess_spec(prep, (m.image_width, m.image_height, m.channels)),
        coord_frame: CoordFrame::Norm1000,
        prompt: Some(Prompt {
            template: "{instruction}".into(),
            mode: prep.mode,
        }),
        special_tokens: Some(SpecialTokens {
            bos: "<bos>".into(),
            eos: "<eos>".into(),
            pad: "<pad>".into(),
            image: "<image>".into(),
        }),
        max_new_tokens: Some(trained.cfg.grpo.sample.max_new_tokens),
        tokenizer: Some(TOKENIZER_FILE.into()),
        weights: Some(WEIGHTS_FILE.into()),
        card: Some(CARD_FILE.into()),
        opset: OPSET,
        tasks: trained_tasks(&trained.cfg.data.train),
        perception: Default::default(),
    };
    manifest.validate().map_err(|message| Error::Export {
        path: trained.run_root.clone(),
        message: format!("the manifest would be invalid: {message}"),
    })?;
    Ok(manifest)
}

/// The tasks of the run's training data; empty (with a warning) when the data is gone.
pub(crate) fn trained_tasks(train: &[std::path::PathBuf]) -> Vec<Task> {
    let mut tasks: Vec<Task> = Vec::new();
    for path in train {
        match dataset::read_dataset(path) {
            Ok(records) => {
                for r in records {
                    if !tasks.contains(&r.task) {
                        tasks.push(r.task);
                    }
                }
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot list the trained tasks");
                return Vec::new();
            }
        }
    }
    tasks
}

/// The model card (Markdown): what the package is, how it was trained, its last evaluation.
pub fn model_card(trained: &Trained, manifest: &Manifest) -> Result<String> {
    let root = &trained.run_root;
    let m = trained.model.config();
    let mut s = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose.
    let _ = writeln!(s, "# {}\n\n{}.\n", manifest.name, manifest.description);
    let _ = writeln!(s, "## Package\n");
    let _ = writeln!(
        s,
        "A reticle model package (`model.json` format `{}` v{}): three ONNX graphs (opset {}), \
         the tokenizer and the trained weights. Load it with `reticle-runtime`.\n",
        manifest.format, manifest.version, manifest.opset
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| input | {}x{} {:?}, stretch resize, mean {:?}, std {:?} |",
        m.image_width,
        m.image_height,
        manifest.preprocess.channels,
        trained.cfg.prep.mean,
        trained.cfg.prep.std
    );
    if let Some(prompt) = &manifest.prompt {
        let _ = writeln!(s, "| answer mode | {:?} |", prompt.mode);
    }
    let _ = writeln!(s, "| coordinates | norm1000 |");
    let _ = writeln!(s, "| image tokens | {} |", m.num_image_tokens());
    let _ = writeln!(
        s,
        "| decoder | {} layers, hidden {}, {} heads / {} kv heads, vocab {} |",
        m.num_layers, m.hidden_size, m.num_heads, m.num_kv_heads, m.vocab_size
    );
    let _ = writeln!(
        s,
        "| vision | patch {}, width {}, {} layers |",
        m.patch_size, m.vision_hidden, m.vision_layers
    );
    let params: i64 = trained
        .model
        .var_store()
        .variables()
        .values()
        .map(|t| t.numel() as i64)
        .sum();
    let _ = writeln!(s, "| parameters | {params} |");
    if !manifest.tasks.is_empty() {
        let tasks: Vec<String> = manifest
            .tasks
            .iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect();
        let _ = writeln!(s, "| tasks | {} |", tasks.join(", "));
    }

    let _ = writeln!(s, "\n## Training\n");
    let _ = writeln!(s, "- exported step: {}", trained.step);
    let metrics = read_metrics(&root.join("metrics.jsonl"));
    for phase in ["sft", "grpo"] {
        let last = metrics
            .iter()
            .filter(|v| v["phase"] == phase)
            .filter_map(|v| v["step"].as_u64())
            .max();
        if let Some(step) = last {
            let _ = writeln!(s, "- {phase}: logged through step {step}");
        }
    }
    match read_run_info(&root.join("run.json")) {
        Some(info) => {
            let _ = writeln!(
                s,
                "- git revision: `{}` (started {} on {}, device {})",
                info.started.git_revision,
                info.started.time,
                info.started.hostname,
                info.started.device
            );
            for r in &info.resumes {
                let _ = writeln!(s, "- resumed at `{}` ({})", r.git_revision, r.time);
            }
        }
        None => {
            let _ = writeln!(s, "- git revision: unknown (no readable run.json)");
        }
    }
    let config = trained.cfg.to_toml()?;
    let _ = writeln!(
        s,
        "\nConfiguration (`config.toml` of the run):\n\n```toml\n{}```",
        ensure_newline(&config)
    );

    let _ = writeln!(s, "\n## Evaluation\n");
    match metrics.iter().rev().find(|v| v["phase"] == "eval") {
        Some(eval) => {
            let step = eval["step"].as_u64().unwrap_or(0);
            let _ = writeln!(
                s,
                "Last evaluation of the run (step {step}, greedy decoding):\n"
            );
            let _ = writeln!(s, "| metric | value |\n|---|---|");
            if let Some(obj) = eval.as_object() {
                for (k, v) in obj {
                    if ["step", "phase", "time"].contains(&k.as_str()) {
                        continue;
                    }
                    let shown = v.as_f64().map_or("n/a".to_string(), |x| format!("{x:.4}"));
                    let _ = writeln!(s, "| {k} | {shown} |");
                }
            }
        }
        None => {
            let _ = writeln!(
                s,
                "The run logged no evaluation (`eval` lines in metrics.jsonl)."
            );
        }
    }
    Ok(s)
}

fn ensure_newline(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

/// Every parseable line of a metrics log (none when it is missing).
fn read_metrics(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .map(|text| {
            text.lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn read_run_info(path: &Path) -> Option<RunInfo> {
    let text = std::fs::read_to_string(path).ok()?;
    serde_json::from_str(&text).ok()
}
