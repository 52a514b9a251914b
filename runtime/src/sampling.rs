//! Choosing the next token: greedy, or temperature + nucleus (top-p) sampling with a seeded
//! RNG, the same rule as the trainer's `generate::sample_next`.
//!
//! Constrained decoding of the answer grammar (masking tokens that cannot continue a valid
//! `<answer>…</answer>`) is not implemented yet: it needs a token-level automaton built from
//! the tokenizer's vocabulary, and belongs here as a logits mask applied before [`Sampler::pick`].

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How tokens are chosen and how many may be generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DecodeOptions {
    /// Softmax temperature; 0 means greedy (argmax).
    pub temperature: f32,
    /// Nucleus sampling: keep the smallest set of tokens whose probability reaches `top_p`.
    pub top_p: f32,
    /// Seed of the sampling RNG: the same seed, image and instruction give the same answer.
    pub seed: u64,
    /// Overrides the manifest's `max_new_tokens` (never above the model's `max_positions`).
    pub max_new_tokens: Option<usize>,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self::greedy()
    }
}

impl DecodeOptions {
    /// Greedy decoding with the manifest's token budget.
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
            seed: 0,
            max_new_tokens: None,
        }
    }

    pub fn validate(&self) -> Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            return Err(Error::invalid(
                "decode options",
                format!("temperature {} must be >= 0", self.temperature),
            ));
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            return Err(Error::invalid(
                "decode options",
                format!("top_p {} must be in (0, 1]", self.top_p),
            ));
        }
        if self.max_new_tokens == Some(0) {
            return Err(Error::invalid(
                "decode options",
                "max_new_tokens must be positive",
            ));
        }
        Ok(())
    }
}

/// Picks tokens from logits rows; holds the RNG and a scratch buffer.
#[derive(Debug)]
pub(crate) struct Sampler {
    /// The graph whose logits are picked from, for error messages.
    graph: &'static str,
    temperature: f32,
    top_p: f32,
    rng: ChaCha8Rng,
    /// `(probability, token)` pairs, reused between steps.
    scratch: Vec<(f32, usize)>,
}

impl Sampler {
    pub fn new(opts: &DecodeOptions) -> Self {
        Self {
            graph: "decoder",
            temperature: opts.temperature,
            top_p: opts.top_p,
            rng: ChaCha8Rng::seed_from_u64(opts.seed),
            scratch: Vec::new(),
        }
    }

    /// The same rule over the logits of another graph (`graph` names it in errors).
    pub fn for_graph(opts: &DecodeOptions, graph: &'static str) -> Self {
        Self {
            graph,
            ..Self::new(opts)
        }
    }

    /// The next token for one row of logits; errors on an empty or non-finite row.
    /// (The greedy pick runs on every decoding step over rows of up to 151,936 logits: see
    /// [`scan`].)
    pub fn pick(&mut self, logits: &[f32]) -> Result<usize> {
        let bad = |m: &str| Error::Output {
            graph: self.graph,
            message: format!("logits {m}"),
        };
        if logits.is_empty() {
            return Err(bad("are empty"));
        }
        let (argmax, max, nan) = scan(logits);
        if nan || !max.is_finite() {
            return Err(bad("are not finite"));
        }
        if self.temperature == 0.0 {
            return Ok(argmax);
        }
        self.scratch.clear();
        let mut total = 0.0f32;
        for (i, &v) in logits.iter().enumerate() {
            let p = ((v - max) / self.temperature).exp();
            total += p;
            self.scratch.push((p, i));
        }
        for e in &mut self.scratch {
            e.0 /= total;
        }
        self.scratch
            .sort_unstable_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        // Drop a token when the mass before it already reaches top_p (the top token stays).
        let mut before = 0.0f32;
        let mut kept = 0;
        for &(p, _) in &self.scratch {
            if kept > 0 && before >= self.top_p {
                break;
            }
            before += p;
            kept += 1;
        }
        let nucleus = &self.scratch[..kept];
        let mass: f32 = nucleus.iter().map(|e| e.0).sum();
        let mut u = self.rng.gen::<f32>() * mass;
        for &(p, i) in nucleus {
            if u < p {
                return Ok(i);
            }
            u -= p;
        }
        Ok(nucleus.last().map_or(argmax, |e| e.1))
    }
}

/// The first index of the maximum of `logits`, the maximum, and whether a NaN was seen: a
/// branch-free pass in lanes of 8 (it vectorises) for the maximum and the NaN flag, then a
/// search for the maximum's first position.
fn scan(logits: &[f32]) -> (usize, f32, bool) {
    const LANES: usize = 8;
    let mut max = [f32::NEG_INFINITY; LANES];
    let mut nan = false;
    let chunks = logits.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            nan |= c[l].is_nan();
            max[l] = max[l].max(c[l]);
        }
    }
    let mut m = max.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    for &v in tail {
        nan |= v.is_nan();
        m = m.max(v);
    }
    // The first position holding the maximum, as a sequential argmax finds it.
    let argmax = logits.iter().position(|&v| v == m).unwrap_or(0);
    (argmax, m, nan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(temperature: f32, top_p: f32, seed: u64) -> DecodeOptions {
        DecodeOptions {
            temperature,
            top_p,
            seed,
            max_new_tokens: None,
        }
    }

    #[test]
    fn scan_is_the_sequential_argmax() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for len in [1usize, 7, 8, 9, 100, 1027] {
            let mut v: Vec<f32> = (0..len).map(|_| rng.gen_range(-5.0..5.0)).collect();
            if len > 8 {
                // A tie: the first position wins.
                let m = v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                v[len - 1] = m;
            }
            let naive =
                v.iter()
                    .copied()
                    .enumerate()
                    .fold((0usize, f32::NEG_INFINITY), |b, (i, x)| {
                        if x > b.1 {
                            (i, x)
                        } else {
                            b
                        }
                    });
            let (i, m, nan) = scan(&v);
            assert_eq!((i, m, nan), (naive.0, naive.1, false), "len {len}");
            v[len / 2] = f32::NAN;
            assert!(scan(&v).2, "len {len}: NaN missed");
        }
    }

    #[test]
    fn greedy_takes_the_argmax() {
        let mut s = Sampler::new(&DecodeOptions::greedy());
        assert_eq!(s.pick(&[0.1, 3.0, -1.0]).unwrap(), 1);
        assert!(s.pick(&[]).is_err());
        assert!(s.pick(&[f32::NAN, 1.0]).is_err());
    }

    #[test]
    fn top_p_keeps_only_the_nucleus_and_seeds_repeat() {
        let logits = [0.7f32.ln(), 0.2f32.ln(), 0.1f32.ln()];
        let mut s = Sampler::new(&opts(1.0, 0.6, 1));
        assert!((0..200).all(|_| s.pick(&logits).unwrap() == 0));
        let mut s = Sampler::new(&opts(1.0, 0.85, 2));
        let picks: Vec<usize> = (0..400).map(|_| s.pick(&logits).unwrap()).collect();
        assert!(picks.iter().all(|&t| t < 2));
        assert!(picks.contains(&1), "token 1 (p = 0.2) is never drawn");
        let mut a = Sampler::new(&opts(1.0, 1.0, 7));
        let mut b = Sampler::new(&opts(1.0, 1.0, 7));
        let xs: Vec<usize> = (0..50).map(|_| a.pick(&logits).unwrap()).collect();
        let ys: Vec<usize> = (0..50).map(|_| b.pick(&logits).unwrap()).collect();
        assert_eq!(xs, ys);
    }

    #[test]
    fn options_are_validated() {
        assert!(opts(-1.0, 1.0, 0).validate().is_err());
        assert!(opts(1.0, 0.0, 0).validate().is_err());
        assert!(opts(1.0, 1.5, 0).validate().is_err());
        assert!(opts(0.7, 0.9, 0).validate().is_ok());
    }
}
