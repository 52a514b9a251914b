//! Evaluation metrics, shared by training (periodic eval) and `reticle eval`.
//!
//! [`Metrics`] accumulates one parsed (or failed) completion per record and summarises per
//! task. The hit definitions are the rewards' ([`crate::rewards`]), so a metric and the
//! reward that trains it never disagree:
//! - **click / refer** `accuracy`: the answer's point (box → centre) is on the target
//!   (in the box, in the mask, or within `point_radius` of a point target);
//! - **detect**: micro precision / recall / F1 over all boxes, a true positive being a
//!   Visual-RFT match at IoU > 0.5; `mean_iou` is the mean per record of the Visual-RFT IoU
//!   reward (continuous IoU for one box vs one box);
//! - **classify** `accuracy`: normalised exact match;
//! - **count** `accuracy`: exact; `count_mae` over records whose answer is a count;
//! - every task: `format_rate` (share of completions that parsed) and mean completion length.
//!
//! A completion that does not parse counts as a miss everywhere (a detection record's
//! ground-truth boxes still count towards recall).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::dataset::{Record, Target, Task};
use crate::geometry::{BBox, FrameMap, Mask, Point};
use crate::grammar::{Answer, ParseError, Value};
use crate::rewards::{
    answer_to_original, detection_reward, hit_reward, label_accuracy, point_target, RewardConfig,
};

/// Running sums for one task.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct TaskSums {
    n: usize,
    n_parsed: usize,
    tokens: usize,
    hits: usize,
    // Detection.
    true_pos: usize,
    n_pred: usize,
    n_gt: usize,
    iou_sum: f64,
    // Counting.
    abs_err_sum: f64,
    n_counted: usize,
}

impl TaskSums {
    fn merge(&mut self, o: &TaskSums) {
        self.n += o.n;
        self.n_parsed += o.n_parsed;
        self.tokens += o.tokens;
        self.hits += o.hits;
        self.true_pos += o.true_pos;
        self.n_pred += o.n_pred;
        self.n_gt += o.n_gt;
        self.iou_sum += o.iou_sum;
        self.abs_err_sum += o.abs_err_sum;
        self.n_counted += o.n_counted;
    }
}

/// An accumulator of evaluation results; see the module docs for each metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Indexed like [`Task::ALL`].
    sums: [TaskSums; Task::ALL.len()],
    point_radius: f64,
    iou_threshold: f64,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new(&RewardConfig::default())
    }
}

fn task_idx(task: Task) -> usize {
    // Every task is in `Task::ALL`; the fallback only keeps this total.
    Task::ALL.iter().position(|&t| t == task).unwrap_or(0)
}

fn ratio(num: f64, den: usize) -> Option<f64> {
    (den > 0).then(|| num / den as f64)
}

impl Metrics {
    /// An empty accumulator using the rewards' point radius and IoU threshold.
    pub fn new(cfg: &RewardConfig) -> Self {
        Self {
            sums: [TaskSums::default(); Task::ALL.len()],
            point_radius: cfg.point_radius,
            iou_threshold: cfg.iou_threshold,
        }
    }

    fn reward_config(&self) -> RewardConfig {
        RewardConfig {
            point_radius: self.point_radius,
            iou_threshold: self.iou_threshold,
            ..RewardConfig::default()
        }
    }

    /// Whether a click at `point` (original pixels) lands in the target of a click or refer
    /// record, as [`Metrics::add`] scores it; false for a record naming nothing or of another
    /// task. `reticle calibrate` asks it of the clicks the nothing head overruled.
    pub fn click_hits(
        &self,
        record: &Record,
        point: Point,
        frame: &FrameMap,
        mask: Option<&Mask>,
    ) -> bool {
        click_hits(&self.reward_config(), record, point, frame, mask)
    }

    /// Adds one completion's outcome. `frame` maps the answer to original pixels, `mask` is
    /// the record's target mask (mask targets only), `n_tokens` the completion length.
    pub fn add(
        &mut self,
        record: &Record,
        outcome: &Result<Answer, ParseError>,
        frame: &FrameMap,
        mask: Option<&Mask>,
        n_tokens: usize,
    ) {
        let cfg = self.reward_config();
        let s = &mut self.sums[task_idx(record.task)];
        s.n += 1;
        s.tokens += n_tokens;
        if let Target::Boxes(gt) = &record.target {
            s.n_gt += gt.len();
        } else if let (Task::Detect, Target::Box(_)) = (record.task, &record.target) {
            s.n_gt += 1;
        }
        let Ok(answer) = outcome else {
            return;
        };
        s.n_parsed += 1;
        let value = answer_to_original(&answer.value, frame);
        match (record.task, &record.target) {
            // An instruction naming nothing: right when the answer is the empty list.
            (Task::Click | Task::Refer, _) if record.names_nothing() => {
                s.hits += usize::from(matches!(&value, Value::Boxes(b) if b.is_empty()));
            }
            (Task::Click | Task::Refer, _) => {
                let hit = value
                    .first_point()
                    .is_some_and(|p| click_hits(&cfg, record, p, frame, mask));
                s.hits += usize::from(hit);
            }
            (Task::Detect, Target::Boxes(_) | Target::Box(_)) => {
                let gt: &[BBox] = match &record.target {
                    Target::Boxes(b) => b,
                    Target::Box(b) => std::slice::from_ref(b),
                    _ => &[],
                };
                if let Some(pred) = value.boxes() {
                    let score = detection_reward(pred, gt, cfg.iou_threshold);
                    s.true_pos += score.n_matched;
                    s.n_pred += pred.len();
                    s.iou_sum += score.iou;
                    s.hits += usize::from(score.n_matched == gt.len() && pred.len() == gt.len());
                }
            }
            (Task::Classify, Target::Label(label)) => {
                s.hits += usize::from(label_accuracy(&answer.text, label) > 0.0);
            }
            (Task::Count, Target::Count(gt)) => {
                if let Value::Count(n) = value {
                    s.hits += usize::from(n == *gt);
                    s.abs_err_sum += (f64::from(n) - f64::from(*gt)).abs();
                    s.n_counted += 1;
                }
            }
            _ => {}
        }
    }

    /// Adds another accumulator's counts (parallel evaluation).
    pub fn merge(&mut self, other: &Metrics) {
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            a.merge(b);
        }
    }

    /// Number of completions added.
    pub fn len(&self) -> usize {
        self.sums.iter().map(|s| s.n).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The per-task table, tasks with no records left out, plus an overall row.
    pub fn summary(&self) -> MetricsSummary {
        let tasks = Task::ALL
            .iter()
            .zip(&self.sums)
            .filter(|(_, s)| s.n > 0)
            .map(|(&task, s)| summarize(task, s))
            .collect();
        let mut all = TaskSums::default();
        for s in &self.sums {
            all.merge(s);
        }
        MetricsSummary {
            tasks,
            n: all.n,
            format_rate: ratio(all.n_parsed as f64, all.n).unwrap_or(0.0),
            mean_length: ratio(all.tokens as f64, all.n).unwrap_or(0.0),
        }
    }
}

fn summarize(task: Task, s: &TaskSums) -> TaskSummary {
    let mut out = TaskSummary {
        task,
        n: s.n,
        format_rate: ratio(s.n_parsed as f64, s.n).unwrap_or(0.0),
        mean_length: ratio(s.tokens as f64, s.n).unwrap_or(0.0),
        accuracy: ratio(s.hits as f64, s.n),
        precision: None,
        recall: None,
        f1: None,
        mean_iou: None,
        count_mae: None,
    };
    match task {
        Task::Detect => {
            // No predicted boxes at all: precision is vacuous, reported as 0 so a silent
            // model does not look precise.
            let p = ratio(s.true_pos as f64, s.n_pred).unwrap_or(0.0);
            let r = ratio(s.true_pos as f64, s.n_gt).unwrap_or(0.0);
            out.precision = Some(p);
            out.recall = Some(r);
            out.f1 = Some(if p + r > 0.0 {
                2.0 * p * r / (p + r)
            } else {
                0.0
            });
            out.mean_iou = ratio(s.iou_sum, s.n);
        }
        Task::Count => out.count_mae = ratio(s.abs_err_sum, s.n_counted),
        Task::Click | Task::Refer | Task::Classify => {}
    }
    out
}

/// One task's metrics. Fields that do not apply to the task are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSummary {
    pub task: Task,
    pub n: usize,
    /// Share of completions that parsed.
    pub format_rate: f64,
    /// Mean completion length in tokens.
    pub mean_length: f64,
    /// Click: point in box; refer: point in mask (or box / near point); classify: label
    /// match; count: exact count; detect: every box matched and none extra.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recall: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_iou: Option<f64>,
    /// Mean absolute count error over records answered with a count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count_mae: Option<f64>,
}

/// The metrics of an evaluation: one row per task present, and overall totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsSummary {
    pub tasks: Vec<TaskSummary>,
    pub n: usize,
    pub format_rate: f64,
    pub mean_length: f64,
}

impl MetricsSummary {
    /// The row of `task`, if it had records.
    pub fn task(&self, task: Task) -> Option<&TaskSummary> {
        self.tasks.iter().find(|t| t.task == task)
    }
}

impl fmt::Display for MetricsSummary {
    /// A fixed-width text table, e.g. for the end-of-run summary and model cards.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cell = |v: Option<f64>| v.map_or_else(|| "-".to_string(), |v| format!("{v:.3}"));
        writeln!(
            f,
            "{:<9}{:>7}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}",
            "task", "n", "format", "acc", "prec", "recall", "f1", "mIoU", "MAE", "len"
        )?;
        for t in &self.tasks {
            writeln!(
                f,
                "{:<9}{:>7}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8}{:>8.1}",
                t.task.as_str(),
                t.n,
                cell(Some(t.format_rate)),
                cell(t.accuracy),
                cell(t.precision),
                cell(t.recall),
                cell(t.f1),
                cell(t.mean_iou),
                cell(t.count_mae),
                t.mean_length
            )?;
        }
        write!(
            f,
            "{:<9}{:>7}{:>8}{:>56.1}",
            "all",
            self.n,
            cell(Some(self.format_rate)),
            self.mean_length
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::{CoordFrame, Point, ResizeMode};
    use crate::grammar::parse;

    fn frame() -> FrameMap {
        // Identity: answers are original pixels.
        FrameMap::new(
            (100, 100),
            (100, 100),
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

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    /// Adds `(record, completion, n_tokens)` triples and returns the summary.
    fn run(cases: &[(Record, &str, usize)], mask: Option<&Mask>) -> MetricsSummary {
        let mut m = Metrics::default();
        for (rec, text, n) in cases {
            m.add(rec, &parse(text), &frame(), mask, *n);
        }
        m.summary()
    }

    #[test]
    fn pointing_and_format() {
        let click = record(Task::Click, Target::Box(BBox::new(10.0, 10.0, 20.0, 20.0)));
        let s = run(
            &[
                (click.clone(), "<answer>(15,15)</answer>", 10),
                // Centre (20,20): on the border, which counts.
                (click.clone(), "<answer>[10,10,30,30]</answer>", 20),
                (click.clone(), "<answer>(25,15)</answer>", 30),
                (click, "no answer", 40),
            ],
            None,
        );
        let t = s.task(Task::Click).unwrap();
        assert_eq!(t.n, 4);
        assert!((t.format_rate - 0.75).abs() < 1e-12);
        assert!(close(t.accuracy, 0.5));
        assert!((t.mean_length - 25.0).abs() < 1e-12);
        assert_eq!(t.precision, None);

        let mut mask = Mask::new(100, 100);
        mask.set(50, 50, true);
        let refer = record(Task::Refer, Target::Mask("m.png".into()));
        let s = run(
            &[
                (refer.clone(), "<answer>(50,50)</answer>", 1),
                (refer, "<answer>(51,50)</answer>", 1),
            ],
            Some(&mask),
        );
        assert!(close(s.task(Task::Refer).unwrap().accuracy, 0.5));
        assert!(s.task(Task::Click).is_none());
    }

    #[test]
    fn detection() {
        let g = |x: f64| BBox::new(x, 0.0, x + 10.0, 10.0);
        let rec = record(Task::Detect, Target::Boxes(vec![g(0.0), g(20.0)]));
        let s = run(
            &[
                // Both found: tp 2, pred 2, iou 1.
                (rec.clone(), "<answer>[0,0,10,10],[20,0,30,10]</answer>", 5),
                // One found (IoU 0.8), one extra: tp 1, pred 2, iou 0.8 / 2.
                (rec.clone(), "<answer>[0,0,8,10],[60,0,70,10]</answer>", 5),
                // Unparsed: tp 0, pred 0, iou 0; its 2 gt still count.
                (rec, "[0,0,10,10]", 5),
            ],
            None,
        );
        let t = s.task(Task::Detect).unwrap();
        // precision 3/4, recall 3/6, F1 = 2·0.75·0.5 / 1.25 = 0.6.
        assert!(close(t.precision, 0.75));
        assert!(close(t.recall, 0.5));
        assert!(close(t.f1, 0.6));
        assert!(close(t.mean_iou, (1.0 + 0.4 + 0.0) / 3.0));
        assert!(close(t.accuracy, 1.0 / 3.0));
    }

    #[test]
    fn classify_and_count() {
        let cls = record(Task::Classify, Target::Label("cat".into()));
        let cnt = record(Task::Count, Target::Count(4));
        let s = run(
            &[
                (cls.clone(), "<answer>A cat.</answer>", 3),
                (cls, "<answer>dog</answer>", 3),
                (cnt.clone(), "<answer>4</answer>", 3),
                (cnt.clone(), "<answer>7</answer>", 3),
                (cnt.clone(), "<answer>two</answer>", 3),
                (cnt, "<answer>2", 3),
            ],
            None,
        );
        assert!(close(s.task(Task::Classify).unwrap().accuracy, 0.5));
        let c = s.task(Task::Count).unwrap();
        assert!(close(c.accuracy, 0.25));
        assert!(close(c.count_mae, 1.5)); // (0 + 3) / 2 counted answers
        assert!((c.format_rate - 0.75).abs() < 1e-12);
        assert_eq!(s.n, 6);
        assert!((s.format_rate - 5.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn merge_display_and_serde() {
        let rec = record(Task::Refer, Target::Point(Point::new(50.0, 50.0)));
        let mut a = Metrics::default();
        a.add(&rec, &parse("<answer>(51,50)</answer>"), &frame(), None, 8);
        let mut b = Metrics::default();
        b.add(&rec, &parse("<answer>(90,90)</answer>"), &frame(), None, 12);
        a.merge(&b);
        assert_eq!(a.len(), 2);
        let s = a.summary();
        assert!(close(s.task(Task::Refer).unwrap().accuracy, 0.5));
        let table = s.to_string();
        assert!(table.starts_with("task"), "{table}");
        assert!(
            table.contains("refer") && table.contains("0.500"),
            "{table}"
        );
        assert_eq!(table.lines().count(), 3, "{table}");
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("precision"), "{json}");
        assert_eq!(serde_json::from_str::<MetricsSummary>(&json).unwrap(), s);
        assert!(Metrics::default().summary().tasks.is_empty());
    }
}

fn click_hits(
    cfg: &RewardConfig,
    record: &Record,
    point: Point,
    frame: &FrameMap,
    mask: Option<&Mask>,
) -> bool {
    matches!(record.task, Task::Click | Task::Refer)
        && !record.names_nothing()
        && point_target(&record.target, frame, mask, cfg)
            .is_some_and(|t| hit_reward(&point, &t) > 0.0)
}

/// One evaluated record: what the model answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalSample {
    pub id: String,
    pub instruction: String,
    pub completion: String,
    /// For click and refer records (`reticle eval`): whether the answer is right — a click
    /// in the target, or `[]` for an instruction naming nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correct: Option<bool>,
    /// The pointer policy's confidence in its answer (`reticle eval`, pointer packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f32>,
    /// The probability that the instruction names nothing (packages with the nothing head).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nothing: Option<f32>,
    /// When the nothing head overruled a click: the region's mass, and whether the click
    /// would have hit (what `reticle calibrate` weighs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overruled: Option<Overruled>,
}

/// A click the nothing head overruled, as evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Overruled {
    /// Probability mass of the region the click rule chose.
    pub confidence: f32,
    /// Whether the click lands in the record's target.
    pub hit: bool,
}

/// An evaluation: the metrics and every completion (`reticle eval --json`,
/// `reticle-train eval --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub summary: MetricsSummary,
    pub samples: Vec<EvalSample>,
}
