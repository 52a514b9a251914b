//! AdamW with warm-up + cosine learning rate, global gradient clipping, and state that can be
//! checkpointed.
//!
//! tch's built-in optimizer keeps its moments inside libtorch where they cannot be read, so a
//! killed run could not resume exactly. This one holds its state as named tensors
//! (`optim.step`, `optim.m.<param>`, `optim.v.<param>`) that go into the checkpoint next to the
//! model weights. The update is PyTorch's `torch.optim.AdamW` (decoupled weight decay, bias
//! corrected moments, eps added after the square root), so numbers compare with runs there.

use std::collections::{HashMap, HashSet};
use std::f64::consts::PI;

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor};

use crate::error::{Error, Result};

/// Name of the step counter in [`AdamW::state`].
pub const STEP_KEY: &str = "optim.step";
const FIRST_MOMENT_PREFIX: &str = "optim.m.";
const SECOND_MOMENT_PREFIX: &str = "optim.v.";

/// Hyper-parameters of [`AdamW`] and its learning rate schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdamWConfig {
    /// Peak learning rate, reached at the end of warm-up.
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Decoupled weight decay, applied to parameters with two or more dimensions only.
    pub weight_decay: f64,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: u64,
    /// The step at which the cosine decay reaches its floor.
    pub total_steps: u64,
    /// The floor of the cosine decay, as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Maximum global L2 norm of the gradients; 0 turns clipping off.
    pub grad_clip: f64,
}

impl Default for AdamWConfig {
    /// Sensible values for the small policies this crate trains.
    fn default() -> Self {
        Self {
            lr: 3e-4,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
            warmup_steps: 10,
            total_steps: 1000,
            min_lr_ratio: 0.1,
            grad_clip: 1.0,
        }
    }
}

impl AdamWConfig {
    /// Refuses values for which the update is undefined or diverges, naming the field.
    pub fn validate(&self) -> Result<()> {
        let checks = [
            ("lr", self.lr, self.lr >= 0.0),
            ("beta1", self.beta1, (0.0..1.0).contains(&self.beta1)),
            ("beta2", self.beta2, (0.0..1.0).contains(&self.beta2)),
            ("eps", self.eps, self.eps > 0.0),
            ("weight_decay", self.weight_decay, self.weight_decay >= 0.0),
            (
                "min_lr_ratio",
                self.min_lr_ratio,
                (0.0..=1.0).contains(&self.min_lr_ratio),
            ),
            ("grad_clip", self.grad_clip, self.grad_clip >= 0.0),
        ];
        for (field, value, ok) in checks {
            // Comparisons with NaN are false, so NaN fails every check; infinity is refused here.
            if !ok || !value.is_finite() {
                return Err(Error::Config(format!(
                    "optimizer.{field} = {value} is out of range"
                )));
            }
        }
        Ok(())
    }
}

/// The learning rate for the update with 0-based index `step`.
///
/// Linear warm-up from 0 (at step 0) to `lr` (at `warmup_steps`), then a half cosine down to
/// `lr · min_lr_ratio` at `total_steps`, constant after. Like Hugging Face's
/// `get_cosine_schedule_with_warmup`, the first update of a warm-up therefore has rate 0: it
/// only fills the moments.
pub fn lr_at(step: u64, cfg: &AdamWConfig) -> f64 {
    if step < cfg.warmup_steps {
        return cfg.lr * step as f64 / cfg.warmup_steps as f64;
    }
    let decay_steps = cfg.total_steps.saturating_sub(cfg.warmup_steps);
    let progress = if decay_steps == 0 {
        1.0
    } else {
        ((step - cfg.warmup_steps) as f64 / decay_steps as f64).min(1.0)
    };
    let cosine = 0.5 * (1.0 + (PI * progress).cos());
    cfg.lr * (cfg.min_lr_ratio + (1.0 - cfg.min_lr_ratio) * cosine)
}

/// What one call to [`AdamW::step`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepStats {
    /// The learning rate of this update.
    pub lr: f64,
    /// Global L2 norm of the gradients before clipping.
    pub grad_norm: f64,
    /// The gradients held NaN or infinity and nothing was changed.
    pub skipped: bool,
}

#[derive(Debug)]
struct Param {
    name: String,
    /// Shares storage with the model's variable: updating it in place updates the model.
    value: Tensor,
    m: Tensor,
    v: Tensor,
}

/// AdamW over named leaf tensors, e.g. `VarStore::variables()`.
#[derive(Debug)]
pub struct AdamW {
    cfg: AdamWConfig,
    params: Vec<Param>,
    /// Number of updates applied (skipped ones excluded); drives bias correction and the
    /// schedule.
    step: u64,
}

impl AdamW {
    /// Zero moments for each parameter; the tensors must be leaves that require grad.
    pub fn new(params: Vec<(String, Tensor)>, cfg: AdamWConfig) -> Result<Self> {
        cfg.validate()?;
        let mut seen = HashSet::new();
        let params = params
            .into_iter()
            .map(|(name, value)| {
                if !seen.insert(name.clone()) {
                    return Err(Error::Config(format!(
                        "optimizer: parameter {name} is given twice"
                    )));
                }
                let m = value.f_zeros_like()?;
                let v = value.f_zeros_like()?;
                Ok(Param { name, value, m, v })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            cfg,
            params,
            step: 0,
        })
    }

    pub fn config(&self) -> &AdamWConfig {
        &self.cfg
    }

    /// Updates applied so far; the next update uses `lr_at(steps_taken())`.
    pub fn steps_taken(&self) -> u64 {
        self.step
    }

    /// Clears the gradients accumulated by `backward`.
    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.value.zero_grad();
        }
    }

    /// One AdamW update from the accumulated gradients.
    ///
    /// Gradients are scaled so that their global L2 norm is at most `grad_clip` (the `.grad`
    /// tensors themselves are left as they are). If any gradient holds NaN or infinity, nothing
    /// changes — not the parameters, the moments or the step count — and `skipped` is set, so
    /// that a bad batch never reaches a checkpoint. Parameters without a gradient are left
    /// alone, like PyTorch does.
    pub fn step(&mut self) -> Result<StepStats> {
        let lr = lr_at(self.step, &self.cfg);
        tch::no_grad(|| self.step_no_grad(lr))
    }

    fn step_no_grad(&mut self, lr: f64) -> Result<StepStats> {
        let grads = self
            .params
            .iter()
            .map(|p| {
                let g = p.value.f_grad()?;
                Ok(g.defined().then_some(g))
            })
            .collect::<Result<Vec<_>>>()?;
        let grad_norm = global_norm(grads.iter().flatten())?;
        if !grad_norm.is_finite() {
            tracing::warn!(
                step = self.step,
                grad_norm,
                "non-finite gradient; optimizer step skipped"
            );
            return Ok(StepStats {
                lr,
                grad_norm,
                skipped: true,
            });
        }
        // PyTorch's `clip_grad_norm_` rule, 1e-6 guarding the division.
        let scale = if self.cfg.grad_clip > 0.0 && grad_norm > self.cfg.grad_clip {
            self.cfg.grad_clip / (grad_norm + 1e-6)
        } else {
            1.0
        };

        let AdamWConfig {
            beta1,
            beta2,
            eps,
            weight_decay,
            ..
        } = self.cfg;
        let t = (self.step + 1) as f64;
        let bias_correction1 = 1.0 - beta1.powf(t);
        let bias_correction2_sqrt = (1.0 - beta2.powf(t)).sqrt();
        // The in-place ops below also return a second handle to the tensor they changed, which
        // is not needed (`let _`).
        for (p, grad) in self.params.iter_mut().zip(&grads) {
            let Some(grad) = grad else { continue };
            let grad = if scale == 1.0 {
                grad.shallow_clone()
            } else {
                grad.f_mul_scalar(scale)?
            };
            // One-dimensional tensors are biases and norm gains: decaying them towards 0 only
            // fights the normalisation, so they are exempt, as in common LLM recipes.
            if weight_decay > 0.0 && p.value.dim() >= 2 {
                let _ = p.value.f_mul_scalar_(1.0 - lr * weight_decay)?;
            }
            let _ = p.m.f_mul_scalar_(beta1)?;
            let _ = p.m.f_add_(&grad.f_mul_scalar(1.0 - beta1)?)?;
            let _ = p.v.f_mul_scalar_(beta2)?;
            let _ = p.v.f_add_(&grad.f_square()?.f_mul_scalar(1.0 - beta2)?)?;
            let denom =
                p.v.f_sqrt()?
                    .f_div_scalar(bias_correction2_sqrt)?
                    .f_add_scalar(eps)?;
            let update = p.m.f_div(&denom)?.f_mul_scalar(lr / bias_correction1)?;
            let _ = p.value.f_sub_(&update)?;
        }
        self.step += 1;
        Ok(StepStats {
            lr,
            grad_norm,
            skipped: false,
        })
    }

    /// The optimizer state as named tensors, copied so that later steps do not change them:
    /// `optim.step` (one int64) and `optim.m.<param>` / `optim.v.<param>` for each parameter,
    /// on the parameters' device.
    pub fn state(&self) -> Result<Vec<(String, Tensor)>> {
        let step = i64::try_from(self.step)
            .map_err(|_| Error::Config(format!("optimizer step {} overflows i64", self.step)))?;
        let mut named = Vec::with_capacity(1 + 2 * self.params.len());
        named.push((STEP_KEY.to_string(), Tensor::f_from_slice(&[step])?));
        for p in &self.params {
            named.push((format!("{FIRST_MOMENT_PREFIX}{}", p.name), deep_copy(&p.m)?));
            named.push((
                format!("{SECOND_MOMENT_PREFIX}{}", p.name),
                deep_copy(&p.v)?,
            ));
        }
        Ok(named)
    }

    /// Restores [`AdamW::state`]. Entries not starting with `optim.` are ignored, so a whole
    /// checkpoint can be passed. Every entry is checked before anything changes; a missing,
    /// mis-shaped or unexpected `optim.` entry is an error that names it.
    pub fn load_state(&mut self, named: &[(String, Tensor)]) -> Result<()> {
        let entries: HashMap<&str, &Tensor> = named
            .iter()
            .filter(|(name, _)| name.starts_with("optim."))
            .map(|(name, t)| (name.as_str(), t))
            .collect();
        let get = |name: &str| {
            entries
                .get(name)
                .copied()
                .ok_or_else(|| Error::Weights(format!("optimizer state has no entry {name}")))
        };

        let step_tensor = get(STEP_KEY)?;
        if step_tensor.numel() != 1 {
            return Err(Error::Weights(format!(
                "optimizer state entry {STEP_KEY} has shape {:?}, expected a single value",
                step_tensor.size()
            )));
        }
        let step = u64::try_from(step_tensor.f_int64_value(&[])?)
            .map_err(|_| Error::Weights(format!("optimizer state entry {STEP_KEY} is negative")))?;

        let mut moments = Vec::with_capacity(self.params.len());
        let mut expected = HashSet::from([STEP_KEY.to_string()]);
        for p in &self.params {
            let mut moment = |prefix: &str| {
                let name = format!("{prefix}{}", p.name);
                let t = get(&name)?;
                if t.size() != p.value.size() {
                    return Err(Error::Weights(format!(
                        "optimizer state entry {name} has shape {:?}, parameter {} has {:?}",
                        t.size(),
                        p.name,
                        p.value.size()
                    )));
                }
                expected.insert(name);
                Ok(t)
            };
            moments.push((moment(FIRST_MOMENT_PREFIX)?, moment(SECOND_MOMENT_PREFIX)?));
        }
        let mut unexpected: Vec<&str> = entries
            .keys()
            .copied()
            .filter(|name| !expected.contains(*name))
            .collect();
        if !unexpected.is_empty() {
            unexpected.sort_unstable();
            return Err(Error::Weights(format!(
                "optimizer state has entries for no parameter: {}",
                unexpected.join(", ")
            )));
        }

        for (p, (m, v)) in self.params.iter_mut().zip(moments) {
            p.m.f_copy_(m)?;
            p.v.f_copy_(v)?;
        }
        self.step = step;
        Ok(())
    }
}

/// L2 norm over all the given tensors together, computed in f64 so that large finite f32
/// gradients cannot overflow to infinity and be mistaken for non-finite ones. NaN or infinity
/// in any tensor makes the result non-finite.
fn global_norm<'a>(tensors: impl Iterator<Item = &'a Tensor>) -> Result<f64> {
    let norms = tensors
        .map(|t| t.f_norm_scalaropt_dtype(2, Kind::Double))
        .collect::<Result<Vec<_>, _>>()?;
    if norms.is_empty() {
        return Ok(0.0);
    }
    // One device-to-host transfer for the whole model.
    Ok(Tensor::f_stack(&norms, 0)?.f_norm()?.f_double_value(&[])?)
}

fn deep_copy(t: &Tensor) -> Result<Tensor> {
    let mut copy = t.f_zeros_like()?;
    copy.f_copy_(t)?;
    Ok(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-6;

    fn param(values: &[f32], shape: &[i64]) -> Tensor {
        Tensor::from_slice(values)
            .view(shape)
            .set_requires_grad(true)
    }

    /// Accumulates `grad` into `p.grad` by back-propagating `sum(p · grad)`.
    fn set_grad(p: &Tensor, grad: &[f32]) {
        let g = Tensor::from_slice(grad).view(p.size().as_slice());
        (p * g).sum(Kind::Float).backward();
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(&t.reshape([-1])).unwrap()
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < TOL, "got {got:?}, want {want:?}");
        }
    }

    fn entry<'a>(state: &'a [(String, Tensor)], name: &str) -> &'a Tensor {
        &state.iter().find(|(n, _)| n == name).unwrap().1
    }

    /// Constant learning rate 0.1, no decay, no clipping.
    fn plain(lr: f64) -> AdamWConfig {
        AdamWConfig {
            lr,
            weight_decay: 0.0,
            warmup_steps: 0,
            min_lr_ratio: 1.0,
            grad_clip: 0.0,
            ..AdamWConfig::default()
        }
    }

    #[test]
    fn two_hand_computed_steps() {
        // lr 0.1, β1 0.9, β2 0.999; p = [1, −2]; g1 = [0.5, −1], g2 = [1.5, 1].
        // Step 1: m = 0.1·g1 = [0.05, −0.1], v = 0.001·g1² = [0.00025, 0.001];
        //   m̂ = m/0.1 = g1, v̂ = v/0.001 = g1², so p −= 0.1·g1/|g1| → [0.9, −1.9].
        // Step 2: m = 0.9·m + 0.1·g2 = [0.195, 0.01]; v = 0.999·v + 0.001·g2² =
        //   [0.00249975, 0.001999]; bias corrections 1 − 0.9² = 0.19, 1 − 0.999² = 0.001999;
        //   m̂ = [1.0263158, 0.0526316], √v̂ = [√1.2505003, √1] = [1.1182577, 1];
        //   p −= 0.1·m̂/√v̂ = [0.0917781, 0.0052632] → [0.8082219, −1.9052632].
        let p = param(&[1.0, -2.0], &[2]);
        let mut opt = AdamW::new(vec![("p".into(), p.shallow_clone())], plain(0.1)).unwrap();
        set_grad(&p, &[0.5, -1.0]);
        let stats = opt.step().unwrap();
        assert_eq!(stats.lr, 0.1);
        assert!(!stats.skipped);
        assert_close(&[stats.grad_norm], &[1.25f64.sqrt()]);
        assert_close(&values(&p), &[0.9, -1.9]);
        opt.zero_grad();
        set_grad(&p, &[1.5, 1.0]);
        opt.step().unwrap();
        let m_hat = [0.195 / 0.19, 0.01 / 0.19];
        let sqrt_v_hat = [(0.00249975f64 / 0.001999).sqrt(), 1.0];
        assert_close(
            &values(&p),
            &[
                0.9 - 0.1 * m_hat[0] / sqrt_v_hat[0],
                -1.9 - 0.1 * m_hat[1] / sqrt_v_hat[1],
            ],
        );
        assert_eq!(opt.steps_taken(), 2);
    }

    #[test]
    fn weight_decay_only_on_matrices() {
        // Zero gradients leave m = v = 0 and the Adam update 0/(0 + eps) = 0, so only the
        // decay acts: w ← w·(1 − lr·wd) = 1·(1 − 0.1·0.5) = 0.95; the bias stays 1.
        let w = param(&[1.0; 4], &[2, 2]);
        let b = param(&[1.0; 2], &[2]);
        let cfg = AdamWConfig {
            weight_decay: 0.5,
            ..plain(0.1)
        };
        let named = vec![
            ("w".into(), w.shallow_clone()),
            ("b".into(), b.shallow_clone()),
        ];
        let mut opt = AdamW::new(named, cfg).unwrap();
        set_grad(&w, &[0.0; 4]);
        set_grad(&b, &[0.0; 2]);
        opt.step().unwrap();
        assert_close(&values(&w), &[0.95; 4]);
        assert_close(&values(&b), &[1.0; 2]);
    }

    #[test]
    fn lr_schedule() {
        // lr 1, warm-up 10, total 110, floor 0.1. Step 5: 5/10. Step 60 is halfway through
        // the decay: cosine term ½(1 + cos π/2) = ½, lr = 0.1 + 0.9·½ = 0.55.
        let cfg = AdamWConfig {
            lr: 1.0,
            warmup_steps: 10,
            total_steps: 110,
            min_lr_ratio: 0.1,
            ..AdamWConfig::default()
        };
        for (step, want) in [
            (0, 0.0),
            (5, 0.5),
            (10, 1.0),
            (60, 0.55),
            (110, 0.1),
            (500, 0.1),
        ] {
            assert_close(&[lr_at(step, &cfg)], &[want]);
        }
        // Without warm-up the first step runs at the peak rate.
        let no_warmup = AdamWConfig {
            warmup_steps: 0,
            ..cfg
        };
        assert_close(&[lr_at(0, &no_warmup)], &[1.0]);
    }

    #[test]
    fn gradients_are_clipped_to_the_max_norm() {
        // g = [3, 4] has norm 5; clipped to norm 1 it is [0.6, 0.8], so m = 0.1·g = [0.06, 0.08].
        let check = |grad_clip: f64, want_m: [f64; 2]| {
            let p = param(&[0.0, 0.0], &[2]);
            let cfg = AdamWConfig {
                grad_clip,
                ..plain(0.1)
            };
            let mut opt = AdamW::new(vec![("p".into(), p.shallow_clone())], cfg).unwrap();
            set_grad(&p, &[3.0, 4.0]);
            let stats = opt.step().unwrap();
            assert_close(&[stats.grad_norm], &[5.0]);
            let state = opt.state().unwrap();
            assert_close(&values(entry(&state, "optim.m.p")), &want_m);
        };
        check(1.0, [0.06, 0.08]);
        check(0.0, [0.3, 0.4]);
        check(10.0, [0.3, 0.4]);
    }

    #[test]
    fn non_finite_gradients_skip_the_step() {
        for bad in [f32::NAN, f32::INFINITY] {
            let p = param(&[1.0, 2.0], &[2]);
            let mut opt = AdamW::new(vec![("p".into(), p.shallow_clone())], plain(0.1)).unwrap();
            set_grad(&p, &[1.0, 1.0]);
            opt.step().unwrap();
            let before = (p.detach().copy(), opt.state().unwrap());
            opt.zero_grad();
            set_grad(&p, &[1.0, bad]);
            let stats = opt.step().unwrap();
            assert!(stats.skipped && !stats.grad_norm.is_finite());
            assert!(p.equal(&before.0));
            assert_eq!(opt.steps_taken(), 1);
            for ((name, t), (_, was)) in opt.state().unwrap().iter().zip(&before.1) {
                assert!(t.equal(was), "{name} changed");
            }
        }
    }

    /// A tiny model `tanh(x·w + b)` whose loss gives every parameter a gradient.
    fn model_step(opt: &mut AdamW, w: &Tensor, b: &Tensor) {
        let x = Tensor::from_slice(&[0.3f32, -1.2, 0.7, 2.0]).view([2, 2]);
        let y = (x.matmul(w) + b).tanh();
        (y.square().sum(Kind::Float) - y.sum(Kind::Float)).backward();
        opt.step().unwrap();
        opt.zero_grad();
    }

    fn model_params(w: &[f32], b: &[f32]) -> (Tensor, Tensor) {
        (param(w, &[2, 3]), param(b, &[3]))
    }

    #[test]
    fn state_round_trip_continues_exactly() {
        let cfg = AdamWConfig {
            lr: 0.05,
            weight_decay: 0.1,
            warmup_steps: 2,
            total_steps: 10,
            grad_clip: 0.5,
            ..AdamWConfig::default()
        };
        let w0 = [0.1f32, -0.4, 0.25, 0.9, -0.3, 0.05];
        let b0 = [0.0f32, 0.2, -0.1];
        let (w, b) = model_params(&w0, &b0);
        let named = |w: &Tensor, b: &Tensor| {
            vec![
                ("w".to_string(), w.shallow_clone()),
                ("b".to_string(), b.shallow_clone()),
            ]
        };
        let mut original = AdamW::new(named(&w, &b), cfg).unwrap();
        for _ in 0..3 {
            model_step(&mut original, &w, &b);
        }
        let saved_state = original.state().unwrap();
        let saved_w = Vec::<f32>::try_from(&w.detach().reshape([-1])).unwrap();
        let saved_b = Vec::<f32>::try_from(&b.detach()).unwrap();
        model_step(&mut original, &w, &b);

        let (w2, b2) = model_params(&saved_w, &saved_b);
        let mut resumed = AdamW::new(named(&w2, &b2), cfg).unwrap();
        // Model weights in the same list are ignored.
        let mut checkpoint = saved_state;
        checkpoint.push(("w".into(), w2.detach().copy()));
        resumed.load_state(&checkpoint).unwrap();
        assert_eq!(resumed.steps_taken(), 3);
        model_step(&mut resumed, &w2, &b2);
        assert!(w.equal(&w2) && b.equal(&b2));
        for ((name, a), (_, c)) in original
            .state()
            .unwrap()
            .iter()
            .zip(&resumed.state().unwrap())
        {
            assert!(a.equal(c), "{name} differs");
        }
    }

    #[test]
    fn load_state_names_bad_entries() {
        let (w, b) = model_params(&[0.0; 6], &[0.0; 3]);
        let named = vec![("w".to_string(), w), ("b".to_string(), b)];
        let mut opt = AdamW::new(named, AdamWConfig::default()).unwrap();
        let good = opt.state().unwrap();
        let err_of = |state: Vec<(String, Tensor)>, opt: &mut AdamW| {
            opt.load_state(&state).unwrap_err().to_string()
        };
        let without = |skip: &str| {
            good.iter()
                .filter(|(n, _)| n != skip)
                .map(|(n, t)| (n.clone(), t.shallow_clone()))
                .collect::<Vec<_>>()
        };

        let err = err_of(without("optim.v.b"), &mut opt);
        assert!(err.contains("no entry optim.v.b"), "{err}");
        let err = err_of(without(STEP_KEY), &mut opt);
        assert!(err.contains("no entry optim.step"), "{err}");

        let mut misshaped = without("optim.m.w");
        misshaped.push((
            "optim.m.w".into(),
            Tensor::zeros([3, 2], (Kind::Float, tch::Device::Cpu)),
        ));
        let err = err_of(misshaped, &mut opt);
        assert!(
            err.contains("optim.m.w has shape [3, 2]") && err.contains("[2, 3]"),
            "{err}"
        );

        let mut extra = without("");
        extra.push((
            "optim.m.gone".into(),
            Tensor::zeros([1], (Kind::Float, tch::Device::Cpu)),
        ));
        let err = err_of(extra, &mut opt);
        assert!(err.contains("optim.m.gone"), "{err}");

        // A failed load changes nothing.
        assert_eq!(opt.steps_taken(), 0);
    }

    #[test]
    fn config_is_checked() {
        let bad = AdamWConfig {
            beta2: 1.0,
            ..AdamWConfig::default()
        };
        let err = AdamW::new(Vec::new(), bad).unwrap_err().to_string();
        assert!(err.contains("optimizer.beta2"), "{err}");
        let twice = vec![
            ("p".to_string(), param(&[0.0], &[1])),
            ("p".to_string(), param(&[0.0], &[1])),
        ];
        assert!(AdamW::new(twice, AdamWConfig::default()).is_err());
        let parsed: AdamWConfig = serde_json::from_str(r#"{"lr": 0.01}"#).unwrap();
        assert_eq!(parsed.lr, 0.01);
        assert_eq!(parsed.beta1, 0.9);
        assert!(serde_json::from_str::<AdamWConfig>(r#"{"learning_rate": 0.01}"#).is_err());
    }
}
