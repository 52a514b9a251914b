//! The GRPO objective as pure functions on tensors: group-relative advantages, the clipped
//! ratio objective with separate ε_low / ε_high (DAPO "clip-higher"), the k3 KL estimator, and
//! the three ways of averaging per-token losses.
//!
//! Conventions follow TRL's `GRPOTrainer`, so that numbers can be compared with runs made there:
//! the reward standard deviation is torch's default, unbiased (Bessel-corrected), estimator; the
//! advantage divides by `std + eps` (TRL hard-codes eps = 1e-4); per-token losses are averaged
//! like TRL's `loss_type` values `grpo`, `bnpo`/`dapo` (our `token_mean`) and `dr_grpo`.
//!
//! Shapes: rewards `[B·G]` grouped contiguously (the G completions of one prompt are
//! neighbours); per-token tensors `[N, T]` with N sequences of T completion tokens; a mask of
//! 0/1 marks real completion tokens; advantages `[N]`, one per sequence.

use serde::{Deserialize, Serialize};
use tch::{Kind, TchError, Tensor};

use crate::error::{Error, Result};

/// How group-centred rewards are scaled into advantages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleRewards {
    /// Divide by the standard deviation of the group (GRPO).
    #[default]
    Group,
    /// Divide by the standard deviation of the whole batch; the mean stays per group.
    Batch,
    /// No division (Dr. GRPO): the scale of the reward is kept.
    None,
}

/// How per-token losses are averaged into one scalar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossType {
    /// Mean over sequences of each sequence's token mean (GRPO paper); long completions weigh
    /// less per token.
    #[default]
    Grpo,
    /// Sum over all tokens / number of tokens (DAPO's token-level loss).
    #[serde(alias = "token-mean")]
    TokenMean,
    /// Sum over all tokens / (N · max completion length), a constant normaliser (Dr. GRPO).
    DrGrpo,
}

/// Hyper-parameters of the loss.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LossConfig {
    /// Lower clip range: the ratio is clipped at 1 − `eps_low`.
    pub eps_low: f64,
    /// Upper clip range: the ratio is clipped at 1 + `eps_high` (DAPO raises it to 0.28).
    pub eps_high: f64,
    /// Weight of the k3 KL term to the reference policy; 0 turns it off.
    pub beta: f64,
    pub loss_type: LossType,
    /// The generation limit; only `dr_grpo` uses it, as its normaliser.
    pub max_completion_len: usize,
}

impl Default for LossConfig {
    /// The papers' defaults: ε = 0.2 on both sides, β = 0.04.
    fn default() -> Self {
        Self {
            eps_low: 0.2,
            eps_high: 0.2,
            beta: 0.04,
            loss_type: LossType::Grpo,
            max_completion_len: 256,
        }
    }
}

/// The tensors one loss evaluation needs; all per-token tensors are `[N, T]`.
#[derive(Debug, Clone, Copy)]
pub struct LossInputs<'a> {
    /// Log-probabilities of the completion tokens under the policy being trained (with grad).
    pub logp: &'a Tensor,
    /// Log-probabilities under the policy that sampled the completions.
    pub old_logp: &'a Tensor,
    /// Log-probabilities under the frozen reference; `None` skips the KL term.
    pub ref_logp: Option<&'a Tensor>,
    /// One advantage per sequence, `[N]`.
    pub advantages: &'a Tensor,
    /// 1 for completion tokens, 0 for padding.
    pub mask: &'a Tensor,
}

/// The scalar loss to back-propagate plus statistics for the logs.
#[derive(Debug)]
pub struct LossOutput {
    /// Scalar, differentiable with respect to `logp`.
    pub loss: Tensor,
    /// Masked token mean of the k3 KL to the reference; 0 when no reference was given.
    pub kl: f64,
    /// Fraction of real tokens where either clip is active (their gradient is zero).
    pub clip_frac: f64,
    /// Fraction of real tokens clipped at 1 − ε_low (ratio low, advantage negative).
    pub clip_low_frac: f64,
    /// Fraction of real tokens clipped at 1 + ε_high (ratio high, advantage positive).
    pub clip_high_frac: f64,
}

/// The clipped surrogate per token and where its clips are active.
#[derive(Debug)]
pub struct ClippedObjective {
    /// `[N, T]`: −min(r·A, clip(r, 1−ε_low, 1+ε_high)·A).
    pub per_token_loss: Tensor,
    /// `[N, T]`, 1.0 where r < 1 − ε_low and A < 0, else 0.0.
    pub low_clipped: Tensor,
    /// `[N, T]`, 1.0 where r > 1 + ε_high and A > 0, else 0.0.
    pub high_clipped: Tensor,
}

/// Group-relative advantages `(r − mean_group) / (std + eps)`, std chosen by `scale`.
///
/// The std is the unbiased estimator (torch's and so TRL's default). A group of one has no
/// unbiased std; there, and wherever `std + eps` is 0, the advantage is 0, since every reward
/// then equals its group mean. The result has the rewards' floating kind (f32 for integers).
pub fn advantages(
    rewards: &Tensor,
    group_size: usize,
    scale: ScaleRewards,
    eps: f64,
) -> Result<Tensor> {
    let grouped = grouped_rewards(rewards, group_size)?;
    let n = rewards.numel();
    let centred = grouped.f_sub(&grouped.f_mean_dim(1, true, None::<Kind>)?)?;
    let std = match scale {
        ScaleRewards::None => return Ok(centred.f_reshape([-1])?),
        ScaleRewards::Group => grouped.f_std_dim(1, group_size > 1, true)?,
        ScaleRewards::Batch => grouped.f_std(n > 1)?,
    };
    let denom = std.f_add_scalar(eps)?;
    // Where the denominator is 0 the numerator is 0 too (a constant group); dividing by 1
    // instead keeps NaN out without changing any other value.
    let denom = denom.f_where_self(&denom.f_ne(0.0)?, &denom.f_ones_like()?)?;
    Ok(centred.f_div(&denom)?.f_reshape([-1])?)
}

/// Which groups have rewards that all agree within 1e-6: they carry no learning signal (zero
/// advantage), so dynamic sampling (DAPO) drops and refills them.
pub fn zero_variance_groups(rewards: &Tensor, group_size: usize) -> Result<Vec<bool>> {
    const TOLERANCE: f64 = 1e-6;
    let grouped = grouped_rewards(rewards, group_size)?.f_to_kind(Kind::Double)?;
    let spread = grouped
        .f_amax(1, false)?
        .f_sub(&grouped.f_amin(1, false)?)?;
    let spread = Vec::<f64>::try_from(&spread)?;
    // A NaN spread compares false: a group holding a NaN reward is not "constant".
    Ok(spread.into_iter().map(|s| s <= TOLERANCE).collect())
}

/// Per-token k3 estimator of KL(π‖π_ref): `exp(d) − d − 1` with `d = ref_logp − logp`.
///
/// It is unbiased for the KL when tokens are sampled from π and never negative. It is computed
/// as `expm1(d) − d`, which keeps precision for the small `d` of a policy near its reference.
/// `ref_logp` is detached: the reference is frozen.
pub fn k3_kl(logp: &Tensor, ref_logp: &Tensor) -> Result<Tensor> {
    same_shape("ref_logp", ref_logp, "logp", logp)?;
    let d = ref_logp.f_detach()?.f_sub(logp)?;
    Ok(d.f_expm1()?.f_sub(&d)?)
}

/// The PPO clipped surrogate with asymmetric clip ranges, per token, as a loss (negated).
///
/// `ratio = exp(logp − old_logp)`; `old_logp` is detached, since the objective only ever
/// differentiates the current policy. `advantages` is `[N]` and applies to every token of its
/// sequence.
pub fn clipped_objective(
    logp: &Tensor,
    old_logp: &Tensor,
    advantages: &Tensor,
    eps_low: f64,
    eps_high: f64,
) -> Result<ClippedObjective> {
    let (n_seqs, _) = logp.size2()?;
    same_shape("old_logp", old_logp, "logp", logp)?;
    if advantages.size() != [n_seqs] {
        return Err(shape_error(format!(
            "advantages have shape {:?}, expected [{n_seqs}] (one per sequence of logp)",
            advantages.size()
        )));
    }
    let kind = logp.f_kind()?;
    let adv = advantages.f_detach()?.f_to_kind(kind)?.f_unsqueeze(1)?;
    let ratio = logp.f_sub(&old_logp.f_detach()?)?.f_exp()?;
    let unclipped = ratio.f_mul(&adv)?;
    let clipped = ratio.f_clamp(1.0 - eps_low, 1.0 + eps_high)?.f_mul(&adv)?;
    let per_token_loss = unclipped.f_minimum(&clipped)?.f_neg()?;
    let (low_clipped, high_clipped) = tch::no_grad(|| -> Result<(Tensor, Tensor)> {
        let low = ratio
            .f_lt(1.0 - eps_low)?
            .f_logical_and(&adv.f_lt(0.0)?)?
            .f_to_kind(kind)?;
        let high = ratio
            .f_gt(1.0 + eps_high)?
            .f_logical_and(&adv.f_gt(0.0)?)?
            .f_to_kind(kind)?;
        Ok((low, high))
    })?;
    Ok(ClippedObjective {
        per_token_loss,
        low_clipped,
        high_clipped,
    })
}

/// Averages `[N, T]` per-token losses over the real tokens of `mask` into a scalar.
///
/// A sequence without any real token contributes 0 to `grpo` (its token count is clamped to 1,
/// as in TRL) and nothing to the other two.
pub fn aggregate(
    per_token_loss: &Tensor,
    mask: &Tensor,
    loss_type: LossType,
    max_completion_len: usize,
) -> Result<Tensor> {
    let (n_seqs, _) = per_token_loss.size2()?;
    same_shape("mask", mask, "per_token_loss", per_token_loss)?;
    let mask = mask.f_to_kind(per_token_loss.f_kind()?)?;
    let masked = per_token_loss.f_mul(&mask)?;
    let loss = match loss_type {
        LossType::Grpo => masked
            .f_sum_dim_intlist(-1, false, None::<Kind>)?
            .f_div(
                &mask
                    .f_sum_dim_intlist(-1, false, None::<Kind>)?
                    .f_clamp_min(1.0)?,
            )?
            .f_mean(None::<Kind>)?,
        LossType::TokenMean => masked
            .f_sum(None::<Kind>)?
            .f_div(&mask.f_sum(None::<Kind>)?.f_clamp_min(1.0)?)?,
        LossType::DrGrpo => {
            if max_completion_len == 0 {
                return Err(Error::Config(
                    "loss_type dr_grpo needs max_completion_len > 0".to_string(),
                ));
            }
            masked
                .f_sum(None::<Kind>)?
                .f_div_scalar(n_seqs as f64 * max_completion_len as f64)?
        }
    };
    Ok(loss)
}

/// The full GRPO loss: per token, the clipped objective plus β·k3 (when β > 0 and a reference
/// is given), averaged by `cfg.loss_type`.
pub fn grpo_loss(inputs: &LossInputs<'_>, cfg: &LossConfig) -> Result<LossOutput> {
    let objective = clipped_objective(
        inputs.logp,
        inputs.old_logp,
        inputs.advantages,
        cfg.eps_low,
        cfg.eps_high,
    )?;
    // Checked here, not only in `aggregate`, because the KL statistic uses the mask first.
    same_shape("mask", inputs.mask, "logp", inputs.logp)?;
    let mask = inputs.mask.f_to_kind(inputs.logp.f_kind()?)?;
    let mut per_token = objective.per_token_loss;
    let mut kl = 0.0;
    if let Some(ref_logp) = inputs.ref_logp {
        let k3 = k3_kl(inputs.logp, ref_logp)?;
        // The KL is logged whenever a reference exists, even with β = 0, so that drift from the
        // reference stays visible.
        kl = tch::no_grad(|| masked_mean(&k3, &mask))?;
        if cfg.beta > 0.0 {
            per_token = per_token.f_add(&k3.f_mul_scalar(cfg.beta)?)?;
        }
    }
    let loss = aggregate(&per_token, &mask, cfg.loss_type, cfg.max_completion_len)?;
    let (clip_low_frac, clip_high_frac) = tch::no_grad(|| -> Result<(f64, f64)> {
        Ok((
            masked_mean(&objective.low_clipped, &mask)?,
            masked_mean(&objective.high_clipped, &mask)?,
        ))
    })?;
    Ok(LossOutput {
        loss,
        kl,
        // The two clips exclude each other (they need advantages of opposite sign), so their
        // fractions add up.
        clip_frac: clip_low_frac + clip_high_frac,
        clip_low_frac,
        clip_high_frac,
    })
}

/// Mean of `values` over the tokens where `mask` is 1; 0 for an empty mask.
fn masked_mean(values: &Tensor, mask: &Tensor) -> Result<f64> {
    let total = values
        .f_mul(mask)?
        .f_sum(Kind::Double)?
        .f_double_value(&[])?;
    let count = mask.f_sum(Kind::Double)?.f_double_value(&[])?;
    Ok(if count > 0.0 { total / count } else { 0.0 })
}

/// Rewards as `[n_groups, group_size]`, in a floating kind.
fn grouped_rewards(rewards: &Tensor, group_size: usize) -> Result<Tensor> {
    if rewards.dim() != 1 {
        return Err(shape_error(format!(
            "rewards have shape {:?}, expected one dimension [n_groups · group_size]",
            rewards.size()
        )));
    }
    let n = rewards.numel();
    if group_size == 0 || n == 0 || n % group_size != 0 {
        return Err(shape_error(format!(
            "{n} rewards do not split into groups of {group_size}"
        )));
    }
    let rewards = if rewards.f_is_floating_point()? {
        rewards.shallow_clone()
    } else {
        rewards.f_to_kind(Kind::Float)?
    };
    Ok(rewards.f_view([-1, group_size as i64])?)
}

fn same_shape(name: &str, t: &Tensor, like_name: &str, like: &Tensor) -> Result<()> {
    if t.size() == like.size() {
        Ok(())
    } else {
        Err(shape_error(format!(
            "{name} has shape {:?}, expected the shape of {like_name} {:?}",
            t.size(),
            like.size()
        )))
    }
}

fn shape_error(message: String) -> Error {
    Error::Torch(TchError::Shape(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOL: f64 = 1e-6;

    fn t1(values: &[f32]) -> Tensor {
        Tensor::from_slice(values)
    }

    fn t2(rows: &[&[f32]]) -> Tensor {
        let n_cols = rows[0].len() as i64;
        let flat: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        Tensor::from_slice(&flat).view([-1, n_cols])
    }

    fn values(t: &Tensor) -> Vec<f64> {
        Vec::<f64>::try_from(&t.reshape([-1])).unwrap()
    }

    fn scalar(t: &Tensor) -> f64 {
        t.double_value(&[])
    }

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len(), "got {got:?}, want {want:?}");
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < TOL, "got {got:?}, want {want:?}");
        }
    }

    const REWARDS: [f32; 8] = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0];

    #[test]
    fn group_advantages_use_the_unbiased_group_std() {
        // Group 1 [1,0,0,1]: mean 0.5, deviations ±0.5, sum of squares 1, unbiased variance
        // 1/3, std = 0.5773503; A = ±0.5 / (0.5773503 + 1e-4) = ±0.8657510.
        // Group 2 [1,1,1,1]: mean 1, std 0, A = 0 / 1e-4 = 0.
        let a = advantages(&t1(&REWARDS), 4, ScaleRewards::Group, 1e-4).unwrap();
        let x = 0.5 / ((1.0f64 / 3.0).sqrt() + 1e-4);
        assert_close(&values(&a), &[x, -x, -x, x, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn batch_advantages_use_the_batch_std_and_group_means() {
        // Batch mean 6/8 = 0.75; squared deviations 2·0.5625 + 6·0.0625 = 1.5; unbiased
        // variance 1.5/7 = 0.2142857, std = 0.4629100. Centring still uses the group means
        // (0.5 and 1), so A = ±0.5 / (0.4629100 + 1e-4) in group 1 and 0 in group 2.
        let a = advantages(&t1(&REWARDS), 4, ScaleRewards::Batch, 1e-4).unwrap();
        let x = 0.5 / ((1.5f64 / 7.0).sqrt() + 1e-4);
        assert_close(&values(&a), &[x, -x, -x, x, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn unscaled_advantages_only_centre() {
        let a = advantages(&t1(&REWARDS), 4, ScaleRewards::None, 1e-4).unwrap();
        assert_close(&values(&a), &[0.5, -0.5, -0.5, 0.5, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn constant_groups_give_zero_advantage_even_without_eps() {
        // std + eps = 0 + 0 would be 0/0 = NaN; the guard divides by 1 instead.
        for scale in [ScaleRewards::Group, ScaleRewards::Batch] {
            let a = advantages(&t1(&[0.3; 8]), 4, scale, 0.0).unwrap();
            assert_close(&values(&a), &[0.0; 8]);
        }
        // Groups of one have no unbiased std: the advantage is 0, not NaN.
        let a = advantages(&t1(&[1.0, 0.0]), 1, ScaleRewards::Group, 1e-4).unwrap();
        assert_close(&values(&a), &[0.0, 0.0]);
    }

    #[test]
    fn integer_rewards_are_accepted() {
        let a = advantages(&Tensor::from_slice(&[1i64, 0]), 2, ScaleRewards::None, 1e-4).unwrap();
        assert_eq!(a.kind(), Kind::Float);
        assert_close(&values(&a), &[0.5, -0.5]);
    }

    #[test]
    fn rewards_must_split_into_groups() {
        let err = advantages(&t1(&[1.0; 7]), 4, ScaleRewards::Group, 1e-4).unwrap_err();
        assert!(err.to_string().contains("7 rewards"), "{err}");
        assert!(advantages(&t1(&[1.0; 4]), 0, ScaleRewards::Group, 1e-4).is_err());
        assert!(zero_variance_groups(&t1(&[1.0; 6]), 4).is_err());
        assert!(advantages(
            &Tensor::zeros([2, 2], (Kind::Float, tch::Device::Cpu)),
            2,
            ScaleRewards::Group,
            1e-4
        )
        .is_err());
    }

    #[test]
    fn zero_variance_groups_within_tolerance() {
        // Group 3 differs by 1e-7 (below 1e-6); group 4 by 1e-3.
        let r = t1(&[
            1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5000001, 0.5, 0.5, 0.5, 0.501, 0.5, 0.5,
        ]);
        assert_eq!(
            zero_variance_groups(&r, 4).unwrap(),
            [false, true, true, false]
        );
        assert_eq!(
            zero_variance_groups(&t1(&[f32::NAN; 2]), 2).unwrap(),
            [false]
        );
    }

    #[test]
    fn k3_known_values_and_zero_when_equal() {
        // d = ref − logp. d = ln 0.5: 0.5 − ln 0.5 − 1 = 0.5 + 0.6931472 − 1 = 0.1931472.
        // d = 1: e − 1 − 1 = 0.7182818. d = 0: 1 − 0 − 1 = 0.
        let logp = t1(&[0.0, 0.0, -1.3]);
        let ref_logp = t1(&[0.5f32.ln(), 1.0, -1.3]);
        let k = k3_kl(&logp, &ref_logp).unwrap();
        let want = [0.5 - 0.5f64.ln() - 1.0, std::f64::consts::E - 2.0, 0.0];
        assert_close(&values(&k), &want);
        assert!(k3_kl(&logp, &t1(&[0.0, 0.0])).is_err());
    }

    /// Four one-token sequences covering both clips, with ε_low = 0.2 and ε_high = 0.28.
    fn clip_case() -> (Tensor, Tensor, Tensor) {
        let old = t1(&[-1.0; 4]).view([4, 1]);
        let ratios = [1.5f32, 0.5, 1.5, 0.5];
        let logp = Tensor::from_slice(&ratios.map(|r| -1.0 + r.ln())).view([4, 1]);
        let adv = t1(&[1.0, -1.0, -1.0, 2.0]);
        (logp, old, adv)
    }

    #[test]
    fn clipping_at_both_sides_with_asymmetric_eps() {
        // seq 0: r 1.5, A +1: min(1.5, 1.28·1) = 1.28 → loss −1.28, clipped high.
        // seq 1: r 0.5, A −1: min(−0.5, 0.8·−1) = −0.8 → loss 0.8, clipped low.
        // seq 2: r 1.5, A −1: min(−1.5, 1.28·−1 = −1.28) = −1.5 → loss 1.5, not clipped.
        // seq 3: r 0.5, A +2: min(1.0, 0.8·2 = 1.6) = 1.0 → loss −1.0, not clipped.
        let (logp, old, adv) = clip_case();
        let out = clipped_objective(&logp, &old, &adv, 0.2, 0.28).unwrap();
        assert_close(&values(&out.per_token_loss), &[-1.28, 0.8, 1.5, -1.0]);
        assert_close(&values(&out.low_clipped), &[0.0, 1.0, 0.0, 0.0]);
        assert_close(&values(&out.high_clipped), &[1.0, 0.0, 0.0, 0.0]);
        assert!(clipped_objective(&logp, &old, &t1(&[1.0; 3]), 0.2, 0.28).is_err());
    }

    #[test]
    fn grpo_loss_reports_clip_fractions() {
        // Token mean of the four losses above: (−1.28 + 0.8 + 1.5 − 1.0) / 4 = 0.005; one of
        // four tokens is clipped low and one high.
        let (logp, old, adv) = clip_case();
        let mask = Tensor::ones([4, 1], (Kind::Float, tch::Device::Cpu));
        let cfg = LossConfig {
            eps_low: 0.2,
            eps_high: 0.28,
            beta: 0.04,
            loss_type: LossType::TokenMean,
            max_completion_len: 1,
        };
        let inputs = LossInputs {
            logp: &logp,
            old_logp: &old,
            ref_logp: None,
            advantages: &adv,
            mask: &mask,
        };
        let out = grpo_loss(&inputs, &cfg).unwrap();
        assert_close(
            &[
                scalar(&out.loss),
                out.clip_low_frac,
                out.clip_high_frac,
                out.clip_frac,
                out.kl,
            ],
            &[0.005, 0.25, 0.25, 0.5, 0.0],
        );
    }

    #[test]
    fn loss_types_on_a_ragged_mask() {
        // Losses [[1,2,3],[4,5,6]], mask [[1,1,0],[1,0,0]]: real tokens 1,2 | 4.
        // grpo: mean(3/2, 4/1) = 2.75; token_mean: 7/3; dr_grpo (L = 4): 7/(2·4) = 0.875.
        let loss = t2(&[&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0]]);
        let mask = t2(&[&[1.0, 1.0, 0.0], &[1.0, 0.0, 0.0]]);
        let check = |loss_type, want: f64| {
            let got = aggregate(&loss, &mask, loss_type, 4).unwrap();
            assert_close(&[scalar(&got)], &[want]);
        };
        check(LossType::Grpo, 2.75);
        check(LossType::TokenMean, 7.0 / 3.0);
        check(LossType::DrGrpo, 0.875);

        // A sequence without tokens counts as 0 in grpo: (1.5 + 0) / 2.
        let empty_row = t2(&[&[1.0, 1.0, 0.0], &[0.0, 0.0, 0.0]]);
        let got = aggregate(&loss, &empty_row, LossType::Grpo, 4).unwrap();
        assert_close(&[scalar(&got)], &[0.75]);

        // Integer masks work too; a zero length is refused for dr_grpo.
        let int_mask = mask.to_kind(Kind::Int64);
        let got = aggregate(&loss, &int_mask, LossType::TokenMean, 4).unwrap();
        assert_close(&[scalar(&got)], &[7.0 / 3.0]);
        assert!(aggregate(&loss, &mask, LossType::DrGrpo, 0).is_err());
        assert!(aggregate(&loss, &mask.view([3, 2]), LossType::Grpo, 4).is_err());
    }

    #[test]
    fn gradient_flows_to_logp_with_kl() {
        // One sequence of two tokens, logp = old_logp (ratio 1, no clip), A = 2,
        // ref_logp = logp + ln 2 (d = ln 2), β = 0.1, grpo averaging over T = 2:
        //   loss = ½ Σ_t (−A·r_t + β·(e^d − d − 1)) = −2 + 0.1·(1 − ln 2) = −1.9693147,
        //   ∂loss/∂logp_t = ½ (−A·r_t + β·(1 − e^d)) = ½ (−2 − 0.1) = −1.05,
        //   kl = 1 − ln 2 = 0.3068528.
        let logp = t2(&[&[-0.7, -1.2]]).set_requires_grad(true);
        let old = logp.detach().copy();
        let ref_logp = logp.detach() + 2f64.ln();
        let adv = t1(&[2.0]);
        let mask = t2(&[&[1.0, 1.0]]);
        let cfg = LossConfig {
            beta: 0.1,
            ..LossConfig::default()
        };
        let inputs = LossInputs {
            logp: &logp,
            old_logp: &old,
            ref_logp: Some(&ref_logp),
            advantages: &adv,
            mask: &mask,
        };
        let out = grpo_loss(&inputs, &cfg).unwrap();
        let ln2 = 2f64.ln();
        assert_close(
            &[scalar(&out.loss), out.kl, out.clip_frac],
            &[-2.0 + 0.1 * (1.0 - ln2), 1.0 - ln2, 0.0],
        );
        out.loss.backward();
        assert_close(&values(&logp.grad()), &[-1.05, -1.05]);
    }

    #[test]
    fn config_serde_names() {
        let cfg: LossConfig =
            serde_json::from_str(r#"{"loss_type":"token_mean","eps_high":0.28}"#).unwrap();
        assert_eq!(cfg.loss_type, LossType::TokenMean);
        assert_eq!(cfg.eps_low, 0.2);
        let alias: LossType = serde_json::from_str(r#""token-mean""#).unwrap();
        assert_eq!(alias, LossType::TokenMean);
        let scale: ScaleRewards = serde_json::from_str(r#""none""#).unwrap();
        assert_eq!(scale, ScaleRewards::None);
        assert!(serde_json::from_str::<LossConfig>(r#"{"epsilon":0.2}"#).is_err());
    }
}
