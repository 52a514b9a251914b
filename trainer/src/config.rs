//! The training configuration: one TOML file, saved in every run directory.
//!
//! ```toml
//! [model]
//! size = "micro"            # micro | small | base, then any field of VlmConfig to override
//! [data]
//! train = ["data/ui"]       # dataset folders (data.jsonl) or JSONL files
//! eval = ["data/ui-eval"]
//! [prep]
//! mode = "direct"           # or "think"
//! [sft]
//! steps = 200
//! [grpo]
//! steps = 100
//! group_size = 8
//! [optim]
//! lr = 3e-4
//! [run]
//! seed = 0
//! ```
//!
//! A Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint is fine-tuned with LoRA instead
//! (docs/qwen.md):
//!
//! ```toml
//! [model]
//! architecture = "qwen2-vl"   # both families; config.json's model_type decides
//! checkpoint = "Qwen2.5-VL-3B-Instruct"
//! [lora]
//! rank = 8
//! ```

use std::path::PathBuf;

use reticle_models::rewards::RewardConfig;
use serde::{Deserialize, Serialize};

use crate::checkpoint::CheckpointConfig;
use crate::data::PrepConfig;
use crate::error::{Error, Result};
use crate::generate::SampleConfig;
use crate::grpo::loss::{LossConfig, ScaleRewards};
use crate::model::qwen::lora::LoraConfig;
use crate::model::{PointerConfig, VlmConfig};
use crate::optim::AdamWConfig;
pub use reticle_models::manifest::Architecture;

/// What `[model] architecture` names: the package architecture of the same name
/// (`qwen2-vl` covers both families: the checkpoint's `config.json` `model_type` decides).
pub use reticle_models::manifest::Architecture as ModelArchitecture;

fn default_size() -> String {
    "micro".into()
}

/// Model size: a preset plus optional overrides of its fields; or a checkpoint folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSection {
    /// `reticle-vlm` (the default: writes answers as text), `pointer` (an action head over
    /// patches and read text) — the same names as a package manifest's `architecture` — or
    /// `qwen2-vl` (a Hugging Face Qwen2-VL / Qwen2.5-VL checkpoint, fine-tuned with LoRA).
    #[serde(default)]
    pub architecture: ModelArchitecture,
    /// The preset of `reticle-vlm` and `pointer` (unused by `qwen2-vl`).
    #[serde(default = "default_size")]
    pub size: String,
    /// Fields of [`VlmConfig`] to change from the preset.
    #[serde(default, skip_serializing_if = "toml::Table::is_empty")]
    pub overrides: toml::Table,
    /// `qwen2-vl`: the checkpoint folder (`config.json`, safetensors, tokenizer, processor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint: Option<PathBuf>,
    /// `qwen2-vl`: the precision the frozen base weights are held in (`f32`, `bf16`, `f16`);
    /// the LoRA adapters and their optimiser stay f32. Other architectures train in f32.
    #[serde(default, skip_serializing_if = "WeightDtype::is_f32")]
    pub dtype: WeightDtype,
    /// `qwen2-vl`: keep only each decoder layer's input during a forward pass and recompute
    /// the layers in the backward pass (activation memory per layer: one `[B, T, hidden]`
    /// tensor), at the cost of a second forward through the decoder.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub gradient_checkpointing: bool,
}

/// The precision of a model's (frozen) weights.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightDtype {
    #[default]
    F32,
    Bf16,
    F16,
}

impl WeightDtype {
    pub fn is_f32(&self) -> bool {
        *self == WeightDtype::F32
    }

    pub fn kind(self) -> tch::Kind {
        match self {
            WeightDtype::F32 => tch::Kind::Float,
            WeightDtype::Bf16 => tch::Kind::BFloat16,
            WeightDtype::F16 => tch::Kind::Half,
        }
    }
}

impl Default for ModelSection {
    fn default() -> Self {
        Self {
            architecture: ModelArchitecture::ReticleVlm,
            size: default_size(),
            overrides: toml::Table::new(),
            checkpoint: None,
            dtype: WeightDtype::F32,
            gradient_checkpointing: false,
        }
    }
}

impl ModelSection {
    /// The resolved ReticleVLM config (vocabulary size still to be set from the tokenizer).
    pub fn resolve(&self) -> Result<VlmConfig> {
        if self.architecture != ModelArchitecture::ReticleVlm {
            return Err(Error::Config(format!(
                "[model] architecture is `{}`, not reticle-vlm",
                self.architecture.name()
            )));
        }
        self.with_overrides(VlmConfig::preset(&self.size)?)
    }

    /// The checkpoint folder of a `qwen2-vl` model.
    pub fn qwen_checkpoint(&self) -> Result<&std::path::Path> {
        if self.architecture != ModelArchitecture::Qwen2Vl {
            return Err(Error::Config(format!(
                "[model] architecture is `{}`, not qwen2-vl",
                self.architecture
            )));
        }
        self.checkpoint.as_deref().ok_or_else(|| {
            Error::Config(
                "[model] checkpoint: architecture qwen2-vl needs the checkpoint folder".into(),
            )
        })
    }

    /// The resolved pointer policy config.
    pub fn resolve_pointer(&self) -> Result<PointerConfig> {
        if self.architecture != ModelArchitecture::Pointer {
            return Err(Error::Config(format!(
                "[model] architecture is `{}`, not pointer",
                self.architecture.name()
            )));
        }
        let cfg = self.with_overrides(PointerConfig::preset(&self.size)?)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn with_overrides<T: Serialize + serde::de::DeserializeOwned>(&self, base: T) -> Result<T> {
        if self.overrides.is_empty() {
            return Ok(base);
        }
        let mut table = toml::Table::try_from(&base)
            .map_err(|e| Error::Config(format!("model preset: {e}")))?;
        for (k, v) in &self.overrides {
            if !table.contains_key(k) {
                return Err(Error::Config(format!(
                    "[model.overrides] has unknown field `{k}`"
                )));
            }
            table.insert(k.clone(), v.clone());
        }
        toml::Value::Table(table)
            .try_into()
            .map_err(|e| Error::Config(format!("[model.overrides]: {e}")))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataSection {
    pub train: Vec<PathBuf>,
    pub eval: Vec<PathBuf>,
    /// Use at most this many training records (0 = all), for few-shot runs.
    pub max_train: usize,
    /// Evaluate on at most this many records (0 = all).
    pub max_eval: usize,
    /// Tokenizer vocabulary size when the run trains its own tokenizer.
    pub vocab_size: usize,
}

impl Default for DataSection {
    fn default() -> Self {
        Self {
            train: Vec::new(),
            eval: Vec::new(),
            max_train: 0,
            max_eval: 200,
            vocab_size: 512,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SftSection {
    pub steps: u64,
    pub batch_size: usize,
}

impl Default for SftSection {
    fn default() -> Self {
        Self {
            steps: 200,
            batch_size: 8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GrpoSection {
    pub steps: u64,
    /// Prompts per step (B).
    pub batch_prompts: usize,
    /// Completions per prompt (G).
    pub group_size: usize,
    pub sample: SampleConfig,
    pub loss: LossConfig,
    pub scale_rewards: ScaleRewards,
    /// Added to the group std before dividing (TRL uses 1e-4).
    pub advantage_eps: f64,
    /// Optimisation passes over each batch of rollouts (μ).
    pub mu: usize,
    /// Micro-batches per update (gradient accumulation).
    pub grad_accum: usize,
    /// Drop groups whose rewards all equal (no signal) and draw more prompts.
    pub dynamic_sampling: bool,
    /// Extra rounds of prompts drawn to refill dropped groups.
    pub max_refill_rounds: usize,
    pub rewards: RewardConfig,
}

impl Default for GrpoSection {
    fn default() -> Self {
        Self {
            steps: 100,
            batch_prompts: 4,
            group_size: 8,
            sample: SampleConfig::default(),
            loss: LossConfig::default(),
            scale_rewards: ScaleRewards::Group,
            advantage_eps: 1e-4,
            mu: 1,
            grad_accum: 1,
            dynamic_sampling: true,
            max_refill_rounds: 2,
            rewards: RewardConfig::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunSection {
    pub seed: u64,
    /// Save a checkpoint every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// Evaluate every this many steps (0 = only at the end).
    pub eval_every: u64,
    /// Mixed precision on CUDA: forward passes under libtorch autocast (no effect on CPU).
    /// tch 0.24 exposes no way to choose the autocast dtype, so this is libtorch's CUDA
    /// default (float16); log-probabilities and losses are computed in float32.
    pub autocast: bool,
    pub checkpoint: CheckpointConfig,
}

impl Default for RunSection {
    fn default() -> Self {
        Self {
            seed: 0,
            checkpoint_every: 50,
            eval_every: 0,
            autocast: true,
            checkpoint: CheckpointConfig::default(),
        }
    }
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    pub model: ModelSection,
    pub data: DataSection,
    pub prep: PrepConfig,
    pub sft: SftSection,
    pub grpo: GrpoSection,
    pub optim: AdamWConfig,
    pub run: RunSection,
    /// LoRA adapters of a `qwen2-vl` model (absent: [`LoraConfig::default`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lora: Option<LoraConfig>,
}

impl TrainConfig {
    /// Parses and checks a TOML configuration; errors name the field.
    pub fn from_toml(text: &str) -> Result<Self> {
        let cfg: TrainConfig = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn to_toml(&self) -> Result<String> {
        toml::to_string_pretty(self).map_err(|e| Error::Config(e.to_string()))
    }

    pub fn validate(&self) -> Result<()> {
        match self.model.architecture {
            ModelArchitecture::ReticleVlm => self.model.resolve()?.validate()?,
            ModelArchitecture::Pointer => {
                self.model.resolve_pointer()?;
            }
            ModelArchitecture::Qwen2Vl => {
                self.model.qwen_checkpoint()?;
                if !self.model.overrides.is_empty() {
                    return Err(Error::Config(
                        "[model.overrides] apply to reticle-vlm and pointer presets, not to a qwen2-vl checkpoint".into(),
                    ));
                }
                if let Some(lora) = &self.lora {
                    lora.validate()?;
                }
            }
        }
        if self.model.architecture != ModelArchitecture::Qwen2Vl {
            if !self.model.dtype.is_f32() {
                return Err(Error::Config(format!(
                    "[model] dtype applies to qwen2-vl checkpoints; `{}` trains in f32",
                    self.model.architecture
                )));
            }
            if self.model.gradient_checkpointing {
                return Err(Error::Config(format!(
                    "[model] gradient_checkpointing applies to qwen2-vl checkpoints, not `{}`",
                    self.model.architecture
                )));
            }
            if self.model.checkpoint.is_some() {
                return Err(Error::Config(format!(
                    "[model] checkpoint is for architecture qwen2-vl, not `{}`",
                    self.model.architecture
                )));
            }
            if self.lora.is_some() {
                return Err(Error::Config(format!(
                    "[lora] applies to architecture qwen2-vl, not `{}`",
                    self.model.architecture
                )));
            }
        }
        if self.data.train.is_empty() {
            return Err(Error::Config("[data] train lists no dataset".into()));
        }
        if self.sft.batch_size == 0 || self.grpo.batch_prompts == 0 {
            return Err(Error::Config("batch sizes must be positive".into()));
        }
        if self.grpo.group_size < 2 {
            return Err(Error::Config(format!(
                "[grpo] group_size {} must be at least 2 (advantages compare completions of a prompt)",
                self.grpo.group_size
            )));
        }
        if self.grpo.mu == 0 || self.grpo.grad_accum == 0 {
            return Err(Error::Config(
                "[grpo] mu and grad_accum must be positive".into(),
            ));
        }
        if self.grpo.grad_accum > self.grpo.batch_prompts * self.grpo.group_size {
            return Err(Error::Config(
                "[grpo] grad_accum exceeds the rows of a batch".into(),
            ));
        }
        self.grpo.sample.validate()?;
        self.optim.validate()?;
        self.grpo
            .rewards
            .validate()
            .map_err(|e| Error::Config(format!("[grpo.rewards] {e}")))?;
        if self.data.vocab_size < 300 {
            return Err(Error::Config(format!(
                "[data] vocab_size {} is below 300 (256 bytes + special tokens + merges)",
                self.data.vocab_size
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_parses_with_defaults() {
        let cfg = TrainConfig::from_toml("[data]\ntrain = [\"d\"]\n").unwrap();
        assert_eq!(cfg.grpo.group_size, 8);
        assert_eq!(cfg.model.size, "micro");
        // The saved form parses back to the same config.
        assert_eq!(
            TrainConfig::from_toml(&cfg.to_toml().unwrap()).unwrap(),
            cfg
        );
    }

    #[test]
    fn errors_name_the_field() {
        let err = |t: &str| TrainConfig::from_toml(t).unwrap_err().to_string();
        assert!(err("[data]\ntrain=[\"d\"]\n[grpo]\ngroup_size = 1\n").contains("group_size 1"));
        assert!(err("[data]\ntrain=[\"d\"]\n[sft]\nstepz = 3\n").contains("stepz"));
        assert!(err("[data]\ntrain=[\"d\"]\n[model]\nsize = \"huge\"\n").contains("huge"));
        assert!(err(
            "[data]\ntrain=[\"d\"]\n[model]\nsize = \"micro\"\n[model.overrides]\nwidth = 3\n"
        )
        .contains("unknown field `width`"));
        assert!(err("").contains("train lists no dataset"));
    }

    #[test]
    fn the_architecture_is_named_and_checked() {
        let err = TrainConfig::from_toml(
            "[data]\ntrain=[\"d\"]\n[model]\narchitecture = \"mamba\"\nsize = \"micro\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown architecture `mamba`"), "{err}");
        assert!(err.contains("reticle-vlm, pointer"), "{err}");
        let cfg = TrainConfig::from_toml(
            "[data]\ntrain=[\"d\"]\n[model]\narchitecture = \"pointer\"\nsize = \"small\"\n",
        )
        .unwrap();
        assert_eq!(cfg.model.resolve_pointer().unwrap().image_width, 640);
        assert!(cfg
            .model
            .resolve()
            .unwrap_err()
            .to_string()
            .contains("not reticle-vlm"));
        let err = TrainConfig::from_toml(
            "[data]\ntrain=[\"d\"]\n[model]\narchitecture = \"pointer\"\nsize = \"base\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("unknown pointer size `base`"), "{err}");
    }

    #[test]
    fn qwen_needs_a_checkpoint_and_checks_lora() {
        let base = "[data]\ntrain=[\"d\"]\n[model]\narchitecture = \"qwen2-vl\"\n";
        let err = |t: &str| TrainConfig::from_toml(t).unwrap_err().to_string();
        assert!(err(base).contains("[model] checkpoint"), "{}", err(base));
        let with_ck = format!("{base}checkpoint = \"ck\"\n");
        let cfg = TrainConfig::from_toml(&with_ck).unwrap();
        assert_eq!(cfg.model.architecture, ModelArchitecture::Qwen2Vl);
        assert_eq!(cfg.lora, None);
        assert_eq!(
            TrainConfig::from_toml(&cfg.to_toml().unwrap()).unwrap(),
            cfg
        );
        let e = err(&format!("{with_ck}[lora]\nrank = 0\n"));
        assert!(e.contains("[lora]") && e.contains("rank"), "{e}");
        let e = err(&format!(
            "{with_ck}[lora]\ntarget_modules = [\"lm_head\"]\n"
        ));
        assert!(e.contains("unknown target module `lm_head`"), "{e}");
        let e = err(&format!("{with_ck}[lora]\nrnk = 4\n"));
        assert!(e.contains("rnk"), "{e}");
        let e = err("[data]\ntrain=[\"d\"]\n[lora]\nrank = 4\n");
        assert!(e.contains("[lora] applies to architecture qwen2-vl"), "{e}");
        // Half-precision base weights: qwen2-vl only.
        let bf16 = TrainConfig::from_toml(&format!("{with_ck}dtype = \"bf16\"\n")).unwrap();
        assert_eq!(bf16.model.dtype, WeightDtype::Bf16);
        assert_eq!(bf16.model.dtype.kind(), tch::Kind::BFloat16);
        let e = err("[data]\ntrain=[\"d\"]\n[model]\ndtype = \"bf16\"\n");
        assert!(e.contains("[model] dtype applies to qwen2-vl"), "{e}");
        let e = err("[data]\ntrain=[\"d\"]\n[model]\narchitecture = \"pointer\"\ngradient_checkpointing = true\n");
        assert!(
            e.contains("gradient_checkpointing applies to qwen2-vl"),
            "{e}"
        );
        let ck =
            TrainConfig::from_toml(&format!("{with_ck}gradient_checkpointing = true\n")).unwrap();
        assert!(ck.model.gradient_checkpointing);
        let e = err(&format!("{with_ck}dtype = \"fp8\"\n"));
        assert!(e.contains("fp8"), "{e}");
        let e = err("[data]\ntrain=[\"d\"]\n[model]\ncheckpoint = \"ck\"\n");
        assert!(
            e.contains("[model] checkpoint is for architecture qwen2-vl"),
            "{e}"
        );
        let e = err("[data]\ntrain=[\"d\"]\n[model]\narchitecture = \"mamba\"\n");
        assert!(e.contains("known: reticle-vlm, pointer, qwen2-vl"), "{e}");
    }

    #[test]
    fn overrides_change_the_preset() {
        let cfg = TrainConfig::from_toml(
            "[data]\ntrain=[\"d\"]\n[model]\nsize = \"micro\"\n[model.overrides]\nnum_layers = 3\n",
        )
        .unwrap();
        assert_eq!(cfg.model.resolve().unwrap().num_layers, 3);
    }
}
