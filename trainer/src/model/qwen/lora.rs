//! LoRA adapters for [`super::QwenVl`] (Hu et al. 2021, as PEFT applies them to `nn.Linear`):
//! a targeted linear map `W x + b` becomes `W x + b + (α / r) · B A dropout(x)` with
//! `A [r, in]` uniform in `±1/√in` (PEFT's Kaiming-uniform with `a = √5`) and `B [out, r]` zero,
//! so a fresh adapter changes nothing. The base weights are frozen; only `A` and `B` train.
//!
//! The adapters live in their own `VarStore` (saved small), named like PEFT's minus its
//! `base_model.model.` prefix: `model.layers.0.self_attn.q_proj.lora_A.weight`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tch::{nn, Tensor};

use crate::error::{Error, Result};

/// Module names an adapter can target: the decoder's, then the vision blocks' (used only
/// with `train_vision`).
pub const TEXT_TARGETS: [&str; 7] = [
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "gate_proj",
    "up_proj",
    "down_proj",
];
pub const VISION_TARGETS: [&str; 7] = [
    "qkv",
    "proj",
    "fc1",
    "fc2",
    "gate_proj",
    "up_proj",
    "down_proj",
];

/// LoRA hyper-parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoraConfig {
    /// `r`: the rank of `B A`.
    pub rank: usize,
    /// `α`: the update is scaled by `α / r`.
    pub alpha: f64,
    /// Dropout on the adapter's input while training.
    pub dropout: f64,
    /// Last components of the module names to adapt (`q_proj`, …, `down_proj`; in the vision
    /// tower also `qkv`, `proj`, `fc1`, `fc2`).
    pub target_modules: Vec<String>,
    /// Adapt the vision blocks too; by default the vision tower is frozen and unadapted.
    pub train_vision: bool,
}

impl Default for LoraConfig {
    fn default() -> Self {
        Self {
            rank: 8,
            alpha: 16.0,
            dropout: 0.05,
            target_modules: TEXT_TARGETS.iter().map(|s| s.to_string()).collect(),
            train_vision: false,
        }
    }
}

impl LoraConfig {
    /// Refuses values that make no adapter or an undefined one, naming the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("[lora] {m}")));
        if self.rank == 0 {
            return bad("rank must be positive".into());
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad(format!("alpha {} must be positive", self.alpha));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return bad(format!("dropout {} must be in [0, 1)", self.dropout));
        }
        if self.target_modules.is_empty() {
            return bad("target_modules is empty".into());
        }
        for t in &self.target_modules {
            if !TEXT_TARGETS.contains(&t.as_str()) && !VISION_TARGETS.contains(&t.as_str()) {
                return bad(format!(
                    "unknown target module `{t}` (text: {}; vision: {})",
                    TEXT_TARGETS.join(", "),
                    VISION_TARGETS.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// Whether the linear map named `module` (a full checkpoint name without `.weight`) gets
    /// an adapter.
    pub(super) fn targets(&self, module: &str, vision: bool) -> bool {
        let last = module.rsplit('.').next().unwrap_or(module);
        let known: &[&str] = if vision {
            &VISION_TARGETS
        } else {
            &TEXT_TARGETS
        };
        (!vision || self.train_vision)
            && known.contains(&last)
            && self.target_modules.iter().any(|t| t == last)
    }
}

/// Switches every adapter of a model shares: training mode (dropout on) and whether the
/// adapters are applied at all (off: the base model, e.g. GRPO's reference for the KL).
#[derive(Debug, Default)]
pub(super) struct LoraFlags {
    pub(super) training: AtomicBool,
    pub(super) disabled: AtomicBool,
}

/// One adapter: `(α / r) · B A dropout(x)`.
#[derive(Debug)]
pub(super) struct LoraAdapter {
    a: Tensor,
    b: Tensor,
    scale: f64,
    dropout: f64,
    flags: Arc<LoraFlags>,
}

impl LoraAdapter {
    /// Creates `{module}.lora_A.weight` and `{module}.lora_B.weight` in `vs`.
    pub(super) fn new(
        vs: &nn::VarStore,
        module: &str,
        in_dim: i64,
        out_dim: i64,
        cfg: &LoraConfig,
        flags: Arc<LoraFlags>,
    ) -> Result<Self> {
        let path = module.split('.').fold(vs.root(), |p, part| p.sub(part));
        let r = cfg.rank as i64;
        let bound = 1.0 / (in_dim as f64).sqrt();
        let a = path.sub("lora_A").f_var(
            "weight",
            &[r, in_dim],
            nn::Init::Uniform {
                lo: -bound,
                up: bound,
            },
        )?;
        let b = path
            .sub("lora_B")
            .f_var("weight", &[out_dim, r], nn::Init::Const(0.0))?;
        Ok(Self {
            a,
            b,
            scale: cfg.alpha / cfg.rank as f64,
            dropout: cfg.dropout,
            flags,
        })
    }

    /// Whether the adapter is applied (not switched off for a base-model forward).
    pub(super) fn enabled(&self) -> bool {
        !self.flags.disabled.load(Ordering::Relaxed)
    }

    /// `(α / r) · B A`: what merging the adapter adds to its layer's weight (f32).
    pub(super) fn delta(&self) -> Tensor {
        self.b.matmul(&self.a) * self.scale
    }

    pub(super) fn forward(&self, x: &Tensor) -> Tensor {
        let train = self.flags.training.load(Ordering::Relaxed);
        let x = if train && self.dropout > 0.0 {
            x.dropout(self.dropout, true)
        } else {
            x.shallow_clone()
        };
        // The adapter computes in its own (f32) precision over half-precision activations.
        (x.to_kind(self.a.kind())
            .linear::<Tensor>(&self.a, None)
            .linear::<Tensor>(&self.b, None)
            * self.scale)
            .to_kind(x.kind())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks_name_the_field() {
        LoraConfig::default().validate().unwrap();
        let bad = |c: LoraConfig| c.validate().unwrap_err().to_string();
        assert!(bad(LoraConfig {
            rank: 0,
            ..Default::default()
        })
        .contains("rank"));
        assert!(bad(LoraConfig {
            dropout: 1.0,
            ..Default::default()
        })
        .contains("dropout"));
        assert!(bad(LoraConfig {
            target_modules: vec!["lm_head".into()],
            ..Default::default()
        })
        .contains("unknown target module `lm_head`"));
    }

    #[test]
    fn targets_by_last_component_and_tower() {
        let c = LoraConfig::default();
        assert!(c.targets("model.layers.0.self_attn.q_proj", false));
        assert!(c.targets("model.layers.1.mlp.down_proj", false));
        // The vision tower is frozen by default, even for names both towers use.
        assert!(!c.targets("visual.blocks.0.mlp.gate_proj", true));
        let v = LoraConfig {
            train_vision: true,
            target_modules: vec!["qkv".into(), "q_proj".into()],
            ..Default::default()
        };
        assert!(v.targets("visual.blocks.0.attn.qkv", true));
        assert!(!v.targets("visual.blocks.0.attn.proj", true));
        assert!(!v.targets("model.layers.0.self_attn.k_proj", false));
    }
}
