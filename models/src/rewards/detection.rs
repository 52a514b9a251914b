//! Detection rewards after Visual-RFT: confidence-ordered greedy matching at IoU > 0.5, an
//! IoU reward normalised by `max(#gt, #pred)`, and a confidence reward.

use crate::geometry::BBox;
use crate::grammar::Detection;

/// The Visual-RFT matching threshold: a prediction matches when its IoU is above it.
pub const IOU_MATCH: f64 = 0.5;

/// For each prediction, in answer order: the ground-truth index it matched and the IoU.
pub type Matches = Vec<Option<(usize, f64)>>;

/// A prediction without a confidence counts as fully confident (Visual-RFT's default).
fn confidence_of(d: &Detection) -> f64 {
    d.confidence.filter(|c| c.is_finite()).unwrap_or(1.0)
}

/// Greedy matching: predictions in descending confidence (ties keep answer order) each take
/// the unmatched ground truth with the highest IoU (ties: the lowest index) when that IoU is
/// above `threshold`.
pub fn match_detections(pred: &[Detection], gt: &[BBox], threshold: f64) -> Matches {
    let mut order: Vec<usize> = (0..pred.len()).collect();
    // `sort_by` is stable, so equal confidences keep the order the model wrote them in.
    order.sort_by(|&a, &b| confidence_of(&pred[b]).total_cmp(&confidence_of(&pred[a])));
    let mut taken = vec![false; gt.len()];
    let mut out = vec![None; pred.len()];
    for idx in order {
        let mut best: Option<(usize, f64)> = None;
        for (g, b) in gt.iter().enumerate() {
            let iou = pred[idx].bbox.iou(b);
            if !taken[g] && best.is_none_or(|(_, bi)| iou > bi) {
                best = Some((g, iou));
            }
        }
        if let Some((g, iou)) = best.filter(|&(_, iou)| iou > threshold) {
            taken[g] = true;
            out[idx] = Some((g, iou));
        }
    }
    out
}

/// The two Visual-RFT detection reward terms, each in `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectionScore {
    /// One prediction vs one ground truth: their IoU. Otherwise the sum of matched IoUs
    /// divided by `max(#gt, #pred)`, so missed and extra boxes both cost.
    pub iou: f64,
    /// The mean over predictions of `c` when matched and `1 − c` when not: confident hits
    /// and unconfident misses are rewarded.
    pub confidence: f64,
    pub n_matched: usize,
}

/// Scores a box answer against the ground truth. Both empty (nothing to find, nothing
/// found) scores 1 on both terms; no prediction with something to find scores 0.
pub fn detection_reward(pred: &[Detection], gt: &[BBox], threshold: f64) -> DetectionScore {
    if pred.is_empty() {
        let v = if gt.is_empty() { 1.0 } else { 0.0 };
        return DetectionScore {
            iou: v,
            confidence: v,
            n_matched: 0,
        };
    }
    let matches = match_detections(pred, gt, threshold);
    let n_matched = matches.iter().flatten().count();
    let iou = match (pred, gt) {
        // A single box is graded continuously so that GRPO sees progress below 0.5.
        ([p], [g]) => p.bbox.iou(g),
        _ => {
            matches.iter().flatten().map(|(_, iou)| iou).sum::<f64>()
                / pred.len().max(gt.len()) as f64
        }
    };
    let confidence = pred
        .iter()
        .zip(&matches)
        .map(|(d, m)| {
            let c = confidence_of(d).clamp(0.0, 1.0);
            if m.is_some() {
                c
            } else {
                1.0 - c
            }
        })
        .sum::<f64>()
        / pred.len() as f64;
    DetectionScore {
        iou,
        confidence,
        n_matched,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(b: [f64; 4], confidence: Option<f64>) -> Detection {
        Detection {
            bbox: BBox::from(b),
            confidence,
        }
    }

    #[track_caller]
    fn check(pred: &[Detection], gt: &[[f64; 4]], iou: f64, confidence: f64, n_matched: usize) {
        let gt: Vec<BBox> = gt.iter().map(|&b| BBox::from(b)).collect();
        let s = detection_reward(pred, &gt, IOU_MATCH);
        assert!((s.iou - iou).abs() < 1e-9, "iou {} != {iou}", s.iou);
        assert!(
            (s.confidence - confidence).abs() < 1e-9,
            "confidence {} != {confidence}",
            s.confidence
        );
        assert_eq!(s.n_matched, n_matched);
    }

    #[test]
    fn hand_computed() {
        let g1 = [0.0, 0.0, 10.0, 10.0];
        let g2 = [20.0, 0.0, 30.0, 10.0];
        // 0..10 vs 0..8 (height 10): IoU 80/100 = 0.8.
        let near1 = [0.0, 0.0, 8.0, 10.0];
        // One vs one: continuous, even below the threshold (IoU 20/180 = 1/9).
        check(
            &[det([0.0, 0.0, 10.0, 2.0], None)],
            &[[0.0, 0.0, 10.0, 20.0]],
            0.1,
            0.0,
            0,
        );
        check(&[det(near1, Some(0.9))], &[g1], 0.8, 0.9, 1);
        // Two gt, one perfect prediction: 1 / max(2, 1).
        check(&[det(g1, None)], &[g1, g2], 0.5, 1.0, 1);
        // Two gt, two predictions, one a miss with confidence 0.2: (1 + 0) / 2 IoU,
        // confidence (1.0 + (1 − 0.2)) / 2.
        check(
            &[det(g1, Some(1.0)), det([50.0, 50.0, 60.0, 60.0], Some(0.2))],
            &[g1, g2],
            0.5,
            0.9,
            1,
        );
        // Three predictions, two gt: (0.8 + 1) / 3.
        check(
            &[
                det(near1, Some(0.7)),
                det(g2, Some(0.6)),
                det([100.0, 0.0, 110.0, 10.0], Some(0.1)),
            ],
            &[g1, g2],
            1.8 / 3.0,
            (0.7 + 0.6 + 0.9) / 3.0,
            2,
        );
        check(&[], &[], 1.0, 1.0, 0);
        check(&[], &[g1], 0.0, 0.0, 0);
        check(&[det(g1, Some(0.3))], &[], 0.0, 0.7, 0);
    }

    #[test]
    fn confidence_orders_matching() {
        let g = [BBox::new(0.0, 0.0, 10.0, 10.0)];
        // Both overlap the single gt; the more confident one (written second) takes it, even
        // though the first overlaps more.
        let pred = [
            det([0.0, 0.0, 10.0, 9.0], Some(0.4)),
            det([0.0, 0.0, 10.0, 7.0], Some(0.8)),
        ];
        assert_eq!(
            match_detections(&pred, &g, IOU_MATCH),
            vec![None, Some((0, 0.7))]
        );
        // Equal (missing) confidences: answer order decides.
        let pred = [
            det([0.0, 0.0, 10.0, 9.0], None),
            det([0.0, 0.0, 10.0, 7.0], None),
        ];
        assert_eq!(
            match_detections(&pred, &g, IOU_MATCH),
            vec![Some((0, 0.9)), None]
        );
        // Exactly at the threshold is not a match.
        let pred = [
            det([0.0, 0.0, 10.0, 5.0], None),
            det([0.0, 0.0, 10.0, 5.0], None),
        ];
        assert_eq!(match_detections(&pred, &g, IOU_MATCH), vec![None, None]);
    }
}
