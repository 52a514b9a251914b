//! Verifiable rewards for GRPO, as pure functions of a completion and its record.
//!
//! Every reward is computed in original image pixels: [`answer_to_original`] maps a parsed
//! answer through the model's [`FrameMap`] first. [`score`] dispatches on the record's task
//! and target and returns a [`RewardBreakdown`] with each term (for logging) and the
//! weighted total:
//!
//! | task / target            | accuracy term                                        |
//! |--------------------------|------------------------------------------------------|
//! | click, refer + box       | point in box (box answers → centre); shaped optional; |
//! |                          | or GUI-G1's hit + IoU + box term for box answers     |
//! | click, refer + mask      | point in mask; shaped optional                       |
//! | click, refer + point     | point within `point_radius` of it; shaped optional   |
//! | detect + boxes / box     | Visual-RFT IoU (plus the confidence term)            |
//! | classify + label         | exact match after normalisation                      |
//! | count + count            | exact, or partial credit                             |
//!
//! `total = Σ weight × term`, a missing term counting 0. The format term uses the strict
//! [`grammar::parse_in_mode`]; the other terms read the answer with the lenient
//! [`grammar::parse`], so a right answer in a sloppy layout still earns its accuracy while
//! losing the format reward. An unparseable completion earns 0 on every term.
//!
//! The spatial process term scores the first point written in the reasoning against the
//! record's anchor, `meta.anchor_box` (`[x1,y1,x2,y2]`) or `meta.anchor_point` (`[x,y]`),
//! both in original pixels: the reasoning of multi-step referring cases locates the anchor
//! object first ("the red cube is at (312,140)"), so rewarding that location is the
//! metric-sensitive intermediate step. It is `None` for records without an anchor.

mod detection;
mod pointing;
mod text;

use serde::{Deserialize, Serialize};

pub use detection::{detection_reward, match_detections, DetectionScore, Matches, IOU_MATCH};
pub use pointing::{
    distance_to_box, gui_g1_reward, hit_reward, point_in_box, point_in_box_shaped, point_in_mask,
    shaped_reward, PointTarget,
};
pub use text::{count_reward, label_accuracy, length_reward, normalize_label};

use crate::dataset::{Record, Target, Task};
use crate::error::{Error, Result};
use crate::geometry::{BBox, FrameMap, Mask, Point};
use crate::grammar::{self, Answer, Mode, Value};

/// Reward hyper-parameters (the `[rewards]` table of a training config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardConfig {
    pub weights: RewardWeights,
    /// Use the distance-shaped pointing reward instead of the 0/1 one.
    pub shaped: bool,
    /// σ of the shaped pointing reward as a fraction of the target size (box diagonal).
    pub shape_sigma: f64,
    /// Hit radius around point targets, as a fraction of the original image diagonal.
    pub point_radius: f64,
    /// Give counting answers partial credit.
    pub partial_count: bool,
    /// σ of the process term for `meta.anchor_point`, as a fraction of the image diagonal.
    pub process_sigma: f64,
    /// Visual-RFT matching threshold (a match needs IoU above it).
    pub iou_threshold: f64,
    pub length: LengthConfig,
    /// How a click on a box target is scored when the answer is a box: `point` (its centre,
    /// as a point answer) or `gui-g1` ([`gui_g1_reward`]).
    pub click: ClickReward,
    /// The weights of GUI-G1's IoU and box terms (`click = "gui-g1"`).
    pub gui_g1: GuiG1Weights,
}

/// The scoring of box answers to click / refer records with a box target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClickReward {
    /// The box's centre is the click (hit, or shaped with `shaped`).
    #[default]
    Point,
    /// GUI-G1: hit + α IoU + β box term.
    GuiG1,
}

/// α and β of GUI-G1's click reward (the values of its code).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuiG1Weights {
    pub iou: f64,
    pub edge: f64,
}

impl Default for GuiG1Weights {
    fn default() -> Self {
        Self {
            iou: 0.25,
            edge: 0.125,
        }
    }
}

/// The weight of each reward term in the total.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RewardWeights {
    pub format: f64,
    /// The task's own reward (point in box, IoU, in mask, label, count).
    pub accuracy: f64,
    /// Visual-RFT's confidence term (detection only). Off by default: our SFT targets
    /// carry no confidences, so the term only pays off once a model is taught to write them.
    pub confidence: f64,
    /// The spatial process term (records with an anchor only).
    pub process: f64,
    /// The normalized length reward; off by default because seed 001 found it helps
    /// reasoning-heavy tasks and hurts perception ones.
    pub length: f64,
}

/// The normalized length reward's parameters (see [`length_reward`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LengthConfig {
    /// `L0`, the target completion length in tokens.
    pub target_tokens: f64,
    /// `α`, the sigmoid's scale.
    pub alpha: f64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        Self {
            weights: RewardWeights::default(),
            shaped: false,
            shape_sigma: 0.5,
            point_radius: 0.02,
            partial_count: false,
            process_sigma: 0.05,
            iou_threshold: IOU_MATCH,
            length: LengthConfig::default(),
            click: ClickReward::Point,
            gui_g1: GuiG1Weights::default(),
        }
    }
}

impl Default for RewardWeights {
    fn default() -> Self {
        Self {
            format: 1.0,
            accuracy: 1.0,
            confidence: 0.0,
            process: 0.1,
            length: 0.0,
        }
    }
}

impl Default for LengthConfig {
    fn default() -> Self {
        Self {
            target_tokens: 256.0,
            alpha: 1.0,
        }
    }
}

impl RewardConfig {
    /// Checks ranges serde cannot: finite weights, positive scales, a threshold in [0, 1).
    pub fn validate(&self) -> Result<()> {
        let w = &self.weights;
        let weights = [
            ("weights.format", w.format),
            ("weights.accuracy", w.accuracy),
            ("weights.confidence", w.confidence),
            ("weights.process", w.process),
            ("weights.length", w.length),
            ("length.alpha", self.length.alpha),
            ("gui_g1.iou", self.gui_g1.iou),
            ("gui_g1.edge", self.gui_g1.edge),
        ];
        if let Some((name, v)) = weights.iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::invalid("reward config", format!("`{name}` is {v}")));
        }
        let positive = [
            ("shape_sigma", self.shape_sigma),
            ("point_radius", self.point_radius),
            ("process_sigma", self.process_sigma),
            ("length.target_tokens", self.length.target_tokens),
        ];
        if let Some((name, v)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
            return Err(Error::invalid(
                "reward config",
                format!("`{name}` must be positive, got {v}"),
            ));
        }
        if !(0.0..1.0).contains(&self.iou_threshold) {
            return Err(Error::invalid(
                "reward config",
                format!(
                    "`iou_threshold` must be in [0, 1), got {}",
                    self.iou_threshold
                ),
            ));
        }
        Ok(())
    }
}

/// Every reward term of one completion, and their weighted total.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct RewardBreakdown {
    pub format: f64,
    pub accuracy: f64,
    /// Detection records only.
    pub confidence: Option<f64>,
    /// Records with an anchor only.
    pub process: Option<f64>,
    pub length: f64,
    pub total: f64,
}

/// 1 when the completion follows the grammar of `mode` exactly, else 0.
pub fn format_reward(completion: &str, mode: Mode) -> f64 {
    if grammar::parse_in_mode(completion, mode).is_ok() {
        1.0
    } else {
        0.0
    }
}

/// Maps an answer's points and boxes from the model's answer frame to original pixels.
pub fn answer_to_original(value: &Value, frame: &FrameMap) -> Value {
    value.map_points(|p| frame.answer_to_original(p))
}

/// Scores one completion of `record`. `mask` is the record's target mask (required for
/// mask targets, ignored otherwise); `n_tokens` is the completion length in tokens. Never
/// panics: whatever the completion, every term is a finite number.
pub fn score(
    completion: &str,
    mode: Mode,
    record: &Record,
    frame: &FrameMap,
    mask: Option<&Mask>,
    n_tokens: usize,
    cfg: &RewardConfig,
) -> RewardBreakdown {
    let format = format_reward(completion, mode);
    let answer = grammar::parse(completion).ok();
    let (accuracy, confidence) = match &answer {
        Some(a) => task_reward(a, record, frame, mask, cfg),
        None => (0.0, (record.task == Task::Detect).then_some(0.0)),
    };
    let process = anchor(record).map(|target| {
        answer.as_ref().map_or(0.0, |a| {
            process_reward(a.think.as_deref(), &target, frame, cfg)
        })
    });
    // Length is only paid for a readable answer, so that rambling garbage earns nothing.
    let length = if answer.is_some() {
        length_reward(n_tokens, cfg.length.target_tokens, cfg.length.alpha)
    } else {
        0.0
    };
    let w = &cfg.weights;
    let total = w.format * format
        + w.accuracy * accuracy
        + w.confidence * confidence.unwrap_or(0.0)
        + w.process * process.unwrap_or(0.0)
        + w.length * length;
    RewardBreakdown {
        format,
        accuracy,
        confidence,
        process,
        length,
        total,
    }
}

/// The task's accuracy term and, for detection, the confidence term.
fn task_reward(
    answer: &Answer,
    record: &Record,
    frame: &FrameMap,
    mask: Option<&Mask>,
    cfg: &RewardConfig,
) -> (f64, Option<f64>) {
    let value = answer_to_original(&answer.value, frame);
    match (record.task, &record.target) {
        // An instruction naming nothing: 1 for the empty list `[]`, 0 for any click.
        (Task::Click | Task::Refer, _) if record.names_nothing() => (
            f64::from(u8::from(matches!(&value, Value::Boxes(b) if b.is_empty()))),
            None,
        ),
        (Task::Click | Task::Refer, Target::Box(gt)) if cfg.click == ClickReward::GuiG1 => {
            // A point answer has no box: it can earn the hit only.
            let r = match (value.boxes().and_then(|b| b.first()), value.first_point()) {
                (Some(d), _) => {
                    gui_g1_reward(&d.bbox, gt, frame.original, cfg.gui_g1.iou, cfg.gui_g1.edge)
                }
                (None, Some(p)) => hit_reward(&p, &PointTarget::Box(*gt)),
                (None, None) => 0.0,
            };
            (r, None)
        }
        (Task::Click | Task::Refer, target) => {
            let Some(target) = point_target(target, frame, mask, cfg) else {
                tracing::debug!(id = %record.id, "no usable pointing target; accuracy 0");
                return (0.0, None);
            };
            let r = value.first_point().map_or(0.0, |p| {
                if cfg.shaped {
                    shaped_reward(&p, &target, cfg.shape_sigma)
                } else {
                    hit_reward(&p, &target)
                }
            });
            (r, None)
        }
        (Task::Detect, Target::Boxes(_) | Target::Box(_)) => {
            let gt: &[BBox] = match &record.target {
                Target::Boxes(b) => b,
                Target::Box(b) => std::slice::from_ref(b),
                _ => &[],
            };
            match value.boxes() {
                Some(pred) => {
                    let s = detection_reward(pred, gt, cfg.iou_threshold);
                    (s.iou, Some(s.confidence))
                }
                None => (0.0, Some(0.0)),
            }
        }
        (Task::Classify, Target::Label(label)) => (label_accuracy(&answer.text, label), None),
        (Task::Count, Target::Count(gt)) => match value {
            Value::Count(n) => (count_reward(n, *gt, cfg.partial_count), None),
            _ => (0.0, None),
        },
        _ => {
            tracing::debug!(id = %record.id, task = %record.task, target = record.target.kind(),
                "task and target do not fit; accuracy 0");
            (0.0, (record.task == Task::Detect).then_some(0.0))
        }
    }
}

/// The pointing target of a click or refer record; `None` for a mask target without a mask
/// or a target kind that cannot be pointed at.
pub fn point_target<'a>(
    target: &Target,
    frame: &FrameMap,
    mask: Option<&'a Mask>,
    cfg: &RewardConfig,
) -> Option<PointTarget<'a>> {
    match target {
        Target::Box(b) => Some(PointTarget::Box(*b)),
        Target::Point(p) => Some(PointTarget::Disk {
            centre: *p,
            radius: cfg.point_radius * diagonal(frame),
        }),
        Target::Mask(_) => mask.map(PointTarget::Mask),
        Target::Boxes(_) | Target::Label(_) | Target::Count(_) => None,
    }
}

/// The record's anchor for the process term, from `meta.anchor_box` or `meta.anchor_point`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Anchor {
    Box(BBox),
    Point(Point),
}

/// Reads the anchor of a record (`meta.anchor_box` wins over `meta.anchor_point`); a
/// malformed or non-finite entry counts as absent.
pub fn anchor(record: &Record) -> Option<Anchor> {
    let meta = record.meta.as_ref()?;
    let read = |key: &str| meta.get(key).cloned();
    if let Some(b) = read("anchor_box").and_then(|v| serde_json::from_value::<BBox>(v).ok()) {
        return b.is_finite().then_some(Anchor::Box(b));
    }
    read("anchor_point")
        .and_then(|v| serde_json::from_value::<Point>(v).ok())
        .filter(Point::is_finite)
        .map(Anchor::Point)
}

/// The process term: the first point written in the reasoning (answer frame) against the
/// anchor. A box anchor is scored like a shaped click (1 inside, `exp(−d/σ)` with σ =
/// `shape_sigma` × box diagonal); a point anchor as `exp(−d/σ)` with σ = `process_sigma` ×
/// image diagonal. The first point, not the best, so that listing many points cannot game it.
pub fn process_reward(
    think: Option<&str>,
    anchor: &Anchor,
    frame: &FrameMap,
    cfg: &RewardConfig,
) -> f64 {
    let Some(p) = think
        .and_then(|t| grammar::points_in_text(t).first().copied())
        .map(|p| frame.answer_to_original(p))
    else {
        return 0.0;
    };
    match anchor {
        Anchor::Box(b) => shaped_reward(&p, &PointTarget::Box(*b), cfg.shape_sigma),
        Anchor::Point(a) => {
            let sigma = (cfg.process_sigma * diagonal(frame)).max(1.0);
            let r = (-p.distance(a) / sigma).exp();
            if r.is_finite() {
                r
            } else {
                0.0
            }
        }
    }
}

fn diagonal(frame: &FrameMap) -> f64 {
    f64::from(frame.original.0).hypot(f64::from(frame.original.1))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::geometry::{CoordFrame, ResizeMode};

    /// Original 2000×1000 image, 1000×500 model input, pixel answers: answer = original / 2.
    fn frame() -> FrameMap {
        FrameMap::new(
            (2000, 1000),
            (1000, 500),
            ResizeMode::Stretch,
            CoordFrame::Pixels,
        )
        .unwrap()
    }

    fn record(task: Task, target: Target) -> Record {
        Record {
            id: "r".into(),
            image: "i.png".into(),
            depth: None,
            camera: None,
            instruction: "do it".into(),
            task,
            target,
            cot: None,
            meta: None,
        }
    }

    /// Scores with the default config plus `tweak` and compares (format, accuracy,
    /// confidence, process, total).
    #[track_caller]
    fn check(
        completion: &str,
        mode: Mode,
        rec: &Record,
        mask: Option<&Mask>,
        tweak: impl Fn(&mut RewardConfig),
        expected: (f64, f64, Option<f64>, Option<f64>, f64),
    ) {
        let mut cfg = RewardConfig::default();
        tweak(&mut cfg);
        let r = score(completion, mode, rec, &frame(), mask, 100, &cfg);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        let close_opt = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) => close(a, b),
            (a, b) => a == b,
        };
        let (f, acc, conf, proc_, total) = expected;
        assert!(
            close(r.format, f)
                && close(r.accuracy, acc)
                && close_opt(r.confidence, conf)
                && close_opt(r.process, proc_)
                && close(r.total, total),
            "{completion:?}: got {r:?}, expected {expected:?}"
        );
    }

    fn none(_: &mut RewardConfig) {}

    #[test]
    fn click() {
        // Target box in original pixels 200..400 × 100..300 → answer frame 100..200 × 50..150.
        let rec = record(
            Task::Click,
            Target::Box(BBox::new(200.0, 100.0, 400.0, 300.0)),
        );
        check(
            "<answer>(150,100)</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 1.0, None, None, 2.0),
        );
        check(
            "<answer>[100,50,200,150]</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 1.0, None, None, 2.0),
        );
        check(
            "<answer>(250,100)</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, None, None, 1.0),
        );
        // Wrong mode: the accuracy still counts, the format does not.
        check(
            "<answer>(150,100)</answer>",
            Mode::Think,
            &rec,
            None,
            none,
            (0.0, 1.0, None, None, 1.0),
        );
        check(
            "click it",
            Mode::Direct,
            &rec,
            None,
            none,
            (0.0, 0.0, None, None, 0.0),
        );
        check(
            "<answer>save</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, None, None, 1.0),
        );
        // Shaped: (250,100) → original (500,200), 100 px right of the box; diagonal
        // √(200²+200²), σ = 0.5 × that.
        let sigma = 0.5 * 200f64.hypot(200.0);
        let r = (-100.0 / sigma).exp();
        check(
            "<answer>(250,100)</answer>",
            Mode::Direct,
            &rec,
            None,
            |c| c.shaped = true,
            (1.0, r, None, None, 1.0 + r),
        );
        // GUI-G1: the exact box earns hit + 0.25 IoU + 0.125 box term; a point only the hit.
        let g1 = |c: &mut RewardConfig| c.click = ClickReward::GuiG1;
        check(
            "<answer>[100,50,200,150]</answer>",
            Mode::Direct,
            &rec,
            None,
            g1,
            (1.0, 1.375, None, None, 2.375),
        );
        check(
            "<answer>(150,100)</answer>",
            Mode::Direct,
            &rec,
            None,
            g1,
            (1.0, 1.0, None, None, 2.0),
        );
        // A box shrunk around the right centre keeps the hit and loses the rest.
        let shrunk = score(
            "<answer>[149,99,151,101]</answer>",
            Mode::Direct,
            &rec,
            &frame(),
            None,
            100,
            &RewardConfig {
                click: ClickReward::GuiG1,
                ..RewardConfig::default()
            },
        );
        assert!(
            shrunk.accuracy > 1.0 && shrunk.accuracy < 1.375,
            "{shrunk:?}"
        );
    }

    #[test]
    fn refer_mask_point_and_process() {
        let mut mask = Mask::new(2000, 1000);
        mask.set(600, 400, true);
        let mut rec = record(Task::Refer, Target::Mask("m.png".into()));
        // Answer (300,200) → original (600,400): inside the one-pixel mask.
        check(
            "<answer>(300,200)</answer>",
            Mode::Direct,
            &rec,
            Some(&mask),
            none,
            (1.0, 1.0, None, None, 2.0),
        );
        check(
            "<answer>(300,201)</answer>",
            Mode::Direct,
            &rec,
            Some(&mask),
            none,
            (1.0, 0.0, None, None, 1.0),
        );
        // No mask given: accuracy 0, no panic.
        check(
            "<answer>(300,200)</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, None, None, 1.0),
        );

        // Anchor box 100..300 × 100..300 (original) = answer 50..150 × 50..150.
        rec.meta = Some(json!({"anchor_box": [100, 100, 300, 300], "other": 1}));
        let think = "<think>The cube is at (100,100), the ball right of it.</think>\
                     <answer>(300,200)</answer>";
        check(
            think,
            Mode::Think,
            &rec,
            Some(&mask),
            none,
            (1.0, 1.0, None, Some(1.0), 2.1),
        );
        let no_point = "<think>left of the cube</think><answer>(300,200)</answer>";
        check(
            no_point,
            Mode::Think,
            &rec,
            Some(&mask),
            none,
            (1.0, 1.0, None, Some(0.0), 2.0),
        );
        check(
            "garbage",
            Mode::Think,
            &rec,
            Some(&mask),
            none,
            (0.0, 0.0, None, Some(0.0), 0.0),
        );

        // Anchor point (1000,500); thought point (400,250) → (800,500): 200 px off.
        // σ = 0.05 × √(2000² + 1000²).
        rec.meta = Some(json!({"anchor_point": [1000, 500]}));
        let p = (-200.0 / (0.05 * 2000f64.hypot(1000.0))).exp();
        let think = "<think>anchor (400,250) then (1,1)</think><answer>(300,200)</answer>";
        check(
            think,
            Mode::Think,
            &rec,
            Some(&mask),
            none,
            (1.0, 1.0, None, Some(p), 2.0 + 0.1 * p),
        );

        // A point target: hit radius 0.02 × 2236 ≈ 44.7 px.
        let rec = record(Task::Refer, Target::Point(Point::new(600.0, 400.0)));
        check(
            "<answer>(320,200)</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 1.0, None, None, 2.0),
        );
        check(
            "<answer>(330,200)</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, None, None, 1.0),
        );
    }

    #[test]
    fn detect_classify_count() {
        // Ground truth in original pixels; answers are half of it.
        let rec = record(
            Task::Detect,
            Target::Boxes(vec![
                BBox::new(0.0, 0.0, 20.0, 20.0),
                BBox::new(40.0, 0.0, 60.0, 20.0),
            ]),
        );
        let both = "<answer>[0,0,10,10,0.9],[20,0,30,10,0.8]</answer>";
        check(
            both,
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 1.0, Some(0.85), None, 2.0),
        );
        check(
            both,
            Mode::Direct,
            &rec,
            None,
            |c| c.weights.confidence = 1.0,
            (1.0, 1.0, Some(0.85), None, 2.85),
        );
        let one = "<answer>[0,0,10,10]</answer>";
        check(
            one,
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.5, Some(1.0), None, 1.5),
        );
        check(
            "<answer>(5,5)</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, Some(0.0), None, 1.0),
        );
        check(
            "<answer>[]</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, Some(0.0), None, 1.0),
        );
        check(
            "nope",
            Mode::Direct,
            &rec,
            None,
            none,
            (0.0, 0.0, Some(0.0), None, 0.0),
        );

        let rec = record(Task::Classify, Target::Label("golden retriever".into()));
        check(
            "<answer>The Golden Retriever.</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 1.0, None, None, 2.0),
        );
        check(
            "<answer>beagle</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, None, None, 1.0),
        );

        let rec = record(Task::Count, Target::Count(4));
        check(
            "<answer>4</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 1.0, None, None, 2.0),
        );
        check(
            "<answer>3</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, None, None, 1.0),
        );
        check(
            "<answer>3</answer>",
            Mode::Direct,
            &rec,
            None,
            |c| c.partial_count = true,
            (1.0, 0.75, None, None, 1.75),
        );
        check(
            "<answer>four</answer>",
            Mode::Direct,
            &rec,
            None,
            none,
            (1.0, 0.0, None, None, 1.0),
        );
    }

    #[test]
    fn length_term_and_weights() {
        let rec = record(Task::Count, Target::Count(4));
        let mut cfg = RewardConfig::default();
        cfg.weights.length = 1.0;
        cfg.length.target_tokens = 100.0;
        let r = score(
            "<answer>4</answer>",
            Mode::Direct,
            &rec,
            &frame(),
            None,
            100,
            &cfg,
        );
        assert!(
            (r.length - 0.5).abs() < 1e-12 && (r.total - 2.5).abs() < 1e-12,
            "{r:?}"
        );
        let r = score("<answer", Mode::Direct, &rec, &frame(), None, 100, &cfg);
        assert_eq!(r.length, 0.0);
    }

    #[test]
    fn config_is_data() {
        let cfg: RewardConfig = toml::from_str("shaped = true\n[weights]\nlength = 0.5\n").unwrap();
        assert!(cfg.shaped);
        assert_eq!(cfg.weights.length, 0.5);
        assert_eq!(cfg.weights.format, 1.0);
        assert!(cfg.validate().is_ok());
        assert!(toml::from_str::<RewardConfig>("shapd = true").is_err());
        let g1: RewardConfig = toml::from_str("click = \"gui-g1\"\n[gui_g1]\niou = 0.5\n").unwrap();
        assert_eq!(
            (g1.click, g1.gui_g1.iou, g1.gui_g1.edge),
            (ClickReward::GuiG1, 0.5, 0.125)
        );
        assert!(toml::from_str::<RewardConfig>("click = \"box\"").is_err());
        assert!(toml::from_str::<RewardConfig>("[weights]\nformt = 1.0").is_err());
        let back: RewardConfig =
            serde_json::from_str(&serde_json::to_string(&cfg).unwrap()).unwrap();
        assert_eq!(back, cfg);
        let bad = RewardConfig {
            iou_threshold: 1.0,
            ..RewardConfig::default()
        };
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("iou_threshold"));
        let mut bad = RewardConfig::default();
        bad.length.target_tokens = 0.0;
        assert!(bad
            .validate()
            .unwrap_err()
            .to_string()
            .contains("length.target_tokens"));
    }

    #[test]
    fn anchors() {
        let mut rec = record(Task::Refer, Target::Point(Point::new(1.0, 1.0)));
        assert_eq!(anchor(&rec), None);
        rec.meta = Some(json!({"anchor_point": [3, 4]}));
        assert_eq!(anchor(&rec), Some(Anchor::Point(Point::new(3.0, 4.0))));
        rec.meta = Some(json!({"anchor_point": "left"}));
        assert_eq!(anchor(&rec), None);
        rec.meta = Some(json!({"anchor_point": [3, 4], "anchor_box": [5, 6, 1, 2]}));
        assert_eq!(
            anchor(&rec),
            Some(Anchor::Box(BBox::new(1.0, 2.0, 5.0, 6.0)))
        );
    }

    proptest::proptest! {
        #[test]
        fn score_never_panics_and_is_finite(s in "\\PC{0,60}", n in 0usize..10_000) {
            let mask = Mask::new(20, 10);
            let cfg = RewardConfig { shaped: true, ..RewardConfig::default() };
            for (task, target) in [
                (Task::Click, Target::Box(BBox::new(1.0, 1.0, 5.0, 5.0))),
                (Task::Refer, Target::Mask("m.png".into())),
                (Task::Detect, Target::Boxes(vec![BBox::new(1.0, 1.0, 5.0, 5.0)])),
                (Task::Count, Target::Count(2)),
            ] {
                let rec = record(task, target);
                let text = format!("<answer>{s}</answer>");
                let r = score(&text, Mode::Direct, &rec, &frame(), Some(&mask), n, &cfg);
                proptest::prop_assert!(r.total.is_finite());
            }
        }
    }
}
