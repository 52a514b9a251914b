//! Choosing a package's `nothing_bias` (`reticle calibrate`): the greedy rule answers
//! "nothing here" when `ln p(nothing) + bias > ln region` (`pointer::nothing_wins`). Trained
//! on its own, the nothing head's probability is not calibrated against the click rule's
//! region mass; one number, chosen on validation records (never the ones reported), sets the
//! trade between refusing instructions that name nothing and clicking the ones that do.
//!
//! Every evaluated record gives its margin `ln p(nothing) − ln region` and whether its click
//! would hit, so the accuracy at any bias is counted without grounding again.

use reticle_models::dataset::Record;
use reticle_models::grammar::{self, Value};
use reticle_models::metrics::EvalSample;
use reticle_models::pointer::{nothing_margin, MAX_NOTHING_BIAS};
use serde::Serialize;

use crate::error::{Error, Result};

/// One evaluated click or refer record, as calibration sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// `ln p(nothing) − ln region`; `+∞` when the click rule found no region (always refused).
    pub margin: f32,
    /// The record names nothing on its image (right answer `[]`).
    pub names_nothing: bool,
    /// The greedy click lands in the target (false for a record naming nothing: `correct`
    /// and `overruled.hit` are false for those, as `Metrics::click_hits`).
    pub click_hits: bool,
}

/// The outcomes of `samples` (from [`crate::eval::evaluate`] of `records`, in order). Records
/// of other tasks are skipped; a sample without p(nothing) (a package without the nothing
/// head) is an error.
pub fn outcomes(records: &[Record], samples: &[EvalSample]) -> Result<Vec<Outcome>> {
    if records.len() != samples.len() {
        return Err(Error::invalid(
            "samples",
            format!("{} samples for {} records", samples.len(), records.len()),
        ));
    }
    let mut out = Vec::with_capacity(records.len());
    for (r, s) in records.iter().zip(samples) {
        let Some(correct) = s.correct else { continue };
        let Some(p_nothing) = s.nothing else {
            return Err(Error::invalid(
                "model",
                "the package has no nothing head (`pointer.nothing`), so there is nothing to calibrate",
            ));
        };
        let refused = matches!(
            grammar::parse(&s.completion).map(|a| a.value),
            Ok(Value::Boxes(b)) if b.is_empty()
        );
        let (margin, click_hits) = match (refused, s.overruled, s.confidence) {
            (true, Some(o), _) => (nothing_margin(p_nothing, o.confidence), o.hit),
            (true, None, _) => (f32::INFINITY, false),
            (false, _, Some(c)) => (nothing_margin(p_nothing, c), correct),
            (false, _, None) => {
                return Err(Error::invalid(
                    "samples",
                    format!("record {}: a click without a confidence", r.id),
                ))
            }
        };
        out.push(Outcome {
            margin,
            names_nothing: r.names_nothing(),
            click_hits,
        });
    }
    if out.is_empty() {
        return Err(Error::invalid(
            "data",
            "no click or refer record to calibrate on",
        ));
    }
    Ok(out)
}

/// How the greedy rule does at one bias.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BiasScore {
    pub bias: f32,
    /// Right answers (hits and refusals of instructions naming nothing) over all records.
    pub accuracy: f64,
    /// Records naming something, and of them: hit, refused.
    pub positives: usize,
    pub positives_hit: usize,
    pub positives_refused: usize,
    /// Records naming nothing, and of them: refused.
    pub nothing: usize,
    pub nothing_refused: usize,
}

/// Scores the greedy rule at `bias`.
pub fn score(outcomes: &[Outcome], bias: f32) -> BiasScore {
    let mut s = BiasScore {
        bias,
        accuracy: 0.0,
        positives: 0,
        positives_hit: 0,
        positives_refused: 0,
        nothing: 0,
        nothing_refused: 0,
    };
    for o in outcomes {
        let refuse = o.margin + bias > 0.0;
        if o.names_nothing {
            s.nothing += 1;
            s.nothing_refused += usize::from(refuse);
        } else {
            s.positives += 1;
            s.positives_refused += usize::from(refuse);
            s.positives_hit += usize::from(!refuse && o.click_hits);
        }
    }
    let right = s.positives_hit + s.nothing_refused;
    s.accuracy = right as f64 / outcomes.len().max(1) as f64;
    s
}

/// Steps of the bias grid per nat (a step of 0.05).
pub const STEPS_PER_NAT: f32 = 20.0;

/// The sweep and its choice.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Calibration {
    /// The bias with the highest accuracy (of equals, the one nearest 0).
    pub chosen: BiasScore,
    /// The package's bias as it is.
    pub current: BiasScore,
    /// Every bias of the grid, `-MAX_NOTHING_BIAS..=MAX_NOTHING_BIAS` by 1 / [`STEPS_PER_NAT`].
    pub sweep: Vec<BiasScore>,
}

/// Sweeps the bias grid and picks the most accurate bias.
pub fn calibrate(outcomes: &[Outcome], current_bias: f32) -> Calibration {
    let k = (MAX_NOTHING_BIAS * STEPS_PER_NAT).round() as i32;
    let sweep: Vec<BiasScore> = (-k..=k)
        .map(|i| score(outcomes, i as f32 / STEPS_PER_NAT))
        .collect();
    let mut chosen = sweep[k as usize];
    for s in &sweep {
        let better = s.accuracy > chosen.accuracy
            || (s.accuracy == chosen.accuracy && s.bias.abs() < chosen.bias.abs());
        if better {
            chosen = *s;
        }
    }
    Calibration {
        chosen,
        current: score(outcomes, current_bias),
        sweep,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(margin: f32, names_nothing: bool, click_hits: bool) -> Outcome {
        Outcome {
            margin,
            names_nothing,
            click_hits,
        }
    }

    #[test]
    fn the_bias_that_separates_the_outcomes_is_chosen() {
        // Positives that hit sit at margins −3 and −2, a miss at −1.5; the instructions
        // naming nothing at −1 and 0.5: refusing from margin > −1.2 is right 5 of 5.
        let v = [
            o(-3.0, false, true),
            o(-2.0, false, true),
            o(-1.5, false, false),
            o(-1.0, true, false),
            o(0.5, true, false),
        ];
        let c = calibrate(&v, 0.0);
        assert_eq!(c.current.accuracy, 3.0 / 5.0);
        assert_eq!(c.current.nothing_refused, 1);
        // A bias in (1, 2] refuses both nothing records and keeps both hits (refusing the
        // miss from 1.5 on changes nothing): 4 right of 5.
        assert_eq!(c.chosen.accuracy, 4.0 / 5.0);
        assert_eq!(c.chosen.positives_hit, 2);
        assert_eq!(c.chosen.nothing_refused, 2);
        assert_eq!(c.chosen.bias, 1.05, "the nearest to 0 of the best");
        assert_eq!(c.sweep.len(), 321);
    }

    #[test]
    fn no_region_is_always_refused_and_ties_keep_zero() {
        let v = [o(f32::INFINITY, true, false), o(-1.0, false, true)];
        let c = calibrate(&v, 0.0);
        assert_eq!(c.chosen.bias, 0.0);
        assert_eq!(c.chosen.accuracy, 1.0);
        assert_eq!(score(&v, -MAX_NOTHING_BIAS).nothing_refused, 1);
    }
}
