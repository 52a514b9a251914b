//! The icon classifier: five 3 × 3 convolutions (24, 48, 96, 96, 128 channels, three 2 × 2
//! max-pools: 32 → 4), a global average and a linear layer to the classes plus "other"; about
//! 260 k parameters. Trained with cross-entropy and AdamW, evaluated per class.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module, OptimizerConfig};
use tch::{Device, Kind, Tensor};
use tracing::info;

use super::data::IconSet;
use crate::error::Result;
use reticle_models::icons::INPUT;

/// Hyper-parameters of `reticle-train icons` (serde: the run writes them beside the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IconTrainConfig {
    pub steps: usize,
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    /// Crops per cell, and how far (share of the box) each side of a crop box moves.
    pub variants: usize,
    pub jitter: f64,
    /// A crop becomes a span at this probability (written into the manifest entry).
    pub threshold: f32,
    pub seed: u64,
}

impl Default for IconTrainConfig {
    fn default() -> Self {
        Self {
            steps: 2000,
            batch_size: 256,
            lr: 2e-3,
            weight_decay: 1e-4,
            variants: 2,
            jitter: 0.08,
            threshold: 0.6,
            seed: 7,
        }
    }
}

/// Channels of the five convolutions; a max-pool follows the 1st, 2nd and 4th.
pub const CHANNELS: [i64; 5] = [24, 48, 96, 96, 128];
const POOL_AFTER: [bool; 5] = [true, true, false, true, false];

/// The network; variable names are the exported initializer names (`conv{i}.weight`, `fc.*`).
#[derive(Debug)]
pub struct IconNet {
    convs: Vec<nn::Conv2D>,
    fc: nn::Linear,
    pub outputs: i64,
}

impl IconNet {
    pub fn new(p: &nn::Path, outputs: i64) -> Self {
        let mut convs = Vec::new();
        let mut c_in = 1;
        for (i, &c) in CHANNELS.iter().enumerate() {
            let cfg = nn::ConvConfig {
                padding: 1,
                ..Default::default()
            };
            convs.push(nn::conv2d(p / format!("conv{i}"), c_in, c, 3, cfg));
            c_in = c;
        }
        let fc = nn::linear(p / "fc", c_in, outputs, Default::default());
        Self { convs, fc, outputs }
    }

    /// `[N, 1, 32, 32]` → logits `[N, outputs]`.
    pub fn logits(&self, x: &Tensor) -> Tensor {
        let mut h = x.shallow_clone();
        for (conv, pool) in self.convs.iter().zip(POOL_AFTER) {
            h = conv.forward(&h).relu();
            if pool {
                h = h.max_pool2d_default(2);
            }
        }
        self.fc
            .forward(&h.mean_dim(&[2i64, 3][..], false, Kind::Float))
    }
}

fn batch(set: &IconSet, idx: &[usize], dev: Device) -> (Tensor, Tensor) {
    let n = INPUT * INPUT;
    let mut x = Vec::with_capacity(idx.len() * n);
    for &i in idx {
        x.extend(set.crop(i));
    }
    let x = Tensor::from_slice(&x).view([idx.len() as i64, 1, INPUT as i64, INPUT as i64]);
    let y = Tensor::from_slice(&idx.iter().map(|&i| set.labels[i]).collect::<Vec<_>>());
    (x.to_device(dev), y.to_device(dev))
}

/// Trains a fresh network on `set`; logs the loss every 100 steps.
pub fn train(
    vs: &nn::VarStore,
    net: &IconNet,
    set: &IconSet,
    cfg: &IconTrainConfig,
) -> Result<f64> {
    let mut opt = nn::AdamW {
        wd: cfg.weight_decay,
        ..Default::default()
    }
    .build(vs, cfg.lr)?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..set.len()).collect();
    let mut at = order.len();
    let mut avg = 0.0;
    let t0 = std::time::Instant::now();
    for step in 0..cfg.steps {
        // Cosine decay to 5 % after a 50-step warm-up.
        let lr = if step < 50 {
            cfg.lr * (step + 1) as f64 / 50.0
        } else {
            let t = (step - 50) as f64 / (cfg.steps.saturating_sub(50).max(1)) as f64;
            cfg.lr * (0.05 + 0.95 * 0.5 * (1.0 + (std::f64::consts::PI * t).cos()))
        };
        opt.set_lr(lr);
        if at + cfg.batch_size > order.len() {
            order.shuffle(&mut rng);
            at = 0;
        }
        let (x, y) = batch(set, &order[at..at + cfg.batch_size], vs.device());
        at += cfg.batch_size;
        let loss = net.logits(&x).cross_entropy_for_logits(&y);
        opt.backward_step(&loss);
        let l = loss.double_value(&[]);
        avg = if step == 0 { l } else { 0.98 * avg + 0.02 * l };
        if (step + 1) % 100 == 0 || step + 1 == cfg.steps {
            info!(
                step = step + 1,
                loss = avg,
                lr,
                secs = t0.elapsed().as_secs_f64(),
                "icons"
            );
            eprintln!(
                "[icons] step {}/{} loss {avg:.4} lr {lr:.2e} ({:.0} s)",
                step + 1,
                cfg.steps,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    Ok(avg)
}

/// Per-class results on a held-out set at `threshold`.
#[derive(Debug, Clone, Serialize)]
pub struct IconEval {
    /// Crops of a class named right (best class, at any probability).
    pub top1: f64,
    /// Crops of a class that become a span, and of the right class.
    pub named_right: f64,
    /// Crops of a class that become a span of another class.
    pub named_wrong: f64,
    /// "Other" crops that become a span (false icons).
    pub other_named: f64,
    pub n_class: usize,
    pub n_other: usize,
    /// key → (right, n)
    pub per_class: BTreeMap<String, (usize, usize)>,
}

/// Class probabilities of `set`'s crops, `[N, K + 1]`.
pub fn probabilities(net: &IconNet, set: &IconSet, dev: Device) -> Result<Vec<f32>> {
    let _g = tch::no_grad_guard();
    let mut out = Vec::with_capacity(set.len() * net.outputs as usize);
    let idx: Vec<usize> = (0..set.len()).collect();
    for chunk in idx.chunks(512) {
        let (x, _) = batch(set, chunk, dev);
        let p = net
            .logits(&x)
            .softmax(-1, Kind::Float)
            .to_device(Device::Cpu);
        out.extend(Vec::<f32>::try_from(p.view([-1]))?);
    }
    Ok(out)
}

pub fn evaluate(net: &IconNet, set: &IconSet, threshold: f32, dev: Device) -> Result<IconEval> {
    let k = net.outputs as usize;
    let other = (k - 1) as i64;
    let probs = probabilities(net, set, dev)?;
    let mut e = IconEval {
        top1: 0.0,
        named_right: 0.0,
        named_wrong: 0.0,
        other_named: 0.0,
        n_class: 0,
        n_other: 0,
        per_class: BTreeMap::new(),
    };
    let (mut top1, mut right, mut wrong, mut false_icons) = (0, 0, 0, 0);
    for (i, p) in probs.chunks_exact(k).enumerate() {
        let label = set.labels[i];
        let best = (0..k).max_by(|a, b| p[*a].total_cmp(&p[*b])).unwrap_or(0) as i64;
        let (named, pn) = (0..k - 1)
            .map(|c| (c as i64, p[c]))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap_or((0, 0.0));
        let spans = pn >= threshold;
        if label == other {
            e.n_other += 1;
            false_icons += usize::from(spans);
            continue;
        }
        e.n_class += 1;
        top1 += usize::from(best == label);
        right += usize::from(spans && named == label);
        wrong += usize::from(spans && named != label);
        let entry = e
            .per_class
            .entry(set.classes[label as usize].key.clone())
            .or_insert((0, 0));
        entry.0 += usize::from(spans && named == label);
        entry.1 += 1;
    }
    let share = |a: usize, n: usize| a as f64 / n.max(1) as f64;
    e.top1 = share(top1, e.n_class);
    e.named_right = share(right, e.n_class);
    e.named_wrong = share(wrong, e.n_class);
    e.other_named = share(false_icons, e.n_other);
    Ok(e)
}
