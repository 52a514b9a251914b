//! Rewards on text answers (classification labels, counts) and on completion length.

/// Lower-cases, trims, drops surrounding quotes, trailing punctuation and the articles
/// "a", "an", "the", and collapses whitespace: `"  The Golden  Retriever."` → `"golden
/// retriever"`. A label made only of articles keeps them, so "A" still compares.
pub fn normalize_label(s: &str) -> String {
    let lower = s.to_lowercase();
    let stripped = lower
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '`')
        .trim_end_matches(|c: char| {
            matches!(c, '.' | ',' | ';' | ':' | '!' | '?') || c.is_whitespace()
        })
        .trim_matches(|c: char| c == '"' || c == '\'' || c == '`');
    let words: Vec<&str> = stripped.split_whitespace().collect();
    let content: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !matches!(*w, "a" | "an" | "the"))
        .collect();
    if content.is_empty() {
        words.join(" ")
    } else {
        content.join(" ")
    }
}

/// Classification: 1 when the labels are equal after [`normalize_label`], else 0.
pub fn label_accuracy(pred: &str, gt: &str) -> f64 {
    if normalize_label(pred) == normalize_label(gt) {
        1.0
    } else {
        0.0
    }
}

/// Counting: 1 for the exact count; with `partial`, `max(0, 1 − |pred − gt| / max(gt, 1))`
/// (Reason-RFT-style partial credit), else 0.
pub fn count_reward(pred: u32, gt: u32, partial: bool) -> f64 {
    if pred == gt {
        1.0
    } else if partial {
        let err = (f64::from(pred) - f64::from(gt)).abs();
        (1.0 - err / f64::from(gt.max(1))).max(0.0)
    } else {
        0.0
    }
}

/// The normalized length reward of seed 001 ("On the Suitability of Reinforcement
/// Fine-Tuning to Visual Tasks"): `r = σ(α·(L − L0)/L0)` with `L` the completion length in
/// tokens, `L0` the target length and `α` a scale (1 in the paper).
///
/// The seed's text lost its formula; it says the reward is a sigmoid-normalised length in
/// (0, 1), α = 1, and a fixed predefined length. Normalising by `L0` makes α unit-free:
/// r = 0.5 at the target length, ≈ 0.73 at twice it, ≈ 0.27 for an empty completion, and
/// the diminishing slope past `L0` is what keeps the length from running away (the paper's
/// point against a per-token bonus). A non-positive `L0` is treated as 1.
pub fn length_reward(n_tokens: usize, target_tokens: f64, alpha: f64) -> f64 {
    let l0 = if target_tokens.is_finite() && target_tokens > 0.0 {
        target_tokens
    } else {
        1.0
    };
    let x = alpha * (n_tokens as f64 - l0) / l0;
    let r = 1.0 / (1.0 + (-x).exp());
    if r.is_finite() {
        r
    } else {
        0.5
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        let check =
            |input: &str, expected: &str| assert_eq!(normalize_label(input), expected, "{input:?}");
        check("  The Golden  Retriever. ", "golden retriever");
        check("\"Boeing 737-800\"!", "boeing 737-800");
        check("an apple?", "apple");
        check("A", "a");
        check("the end of the line", "end of line");
        check("", "");
        assert_eq!(label_accuracy("Golden retriever.", "golden retriever"), 1.0);
        assert_eq!(label_accuracy("retriever", "golden retriever"), 0.0);
    }

    #[test]
    fn counts() {
        let check = |pred, gt, partial, expected: f64| {
            let r = count_reward(pred, gt, partial);
            assert!(
                (r - expected).abs() < 1e-12,
                "{pred} vs {gt}: {r} != {expected}"
            );
        };
        check(4, 4, false, 1.0);
        check(3, 4, false, 0.0);
        check(3, 4, true, 0.75);
        check(6, 4, true, 0.5);
        check(9, 4, true, 0.0);
        check(1, 0, true, 0.0);
        check(0, 0, true, 1.0);
        check(u32::MAX, 1, true, 0.0);
    }

    #[test]
    fn length() {
        let check = |n, l0, alpha, expected: f64| {
            let r = length_reward(n, l0, alpha);
            assert!((r - expected).abs() < 1e-9, "{n}/{l0}: {r} != {expected}");
        };
        let sig = |x: f64| 1.0 / (1.0 + (-x).exp());
        check(256, 256.0, 1.0, 0.5);
        check(512, 256.0, 1.0, sig(1.0));
        check(0, 256.0, 1.0, sig(-1.0));
        check(300, 100.0, 2.0, sig(4.0));
        check(5, 0.0, 1.0, sig(4.0));
        assert!(length_reward(usize::MAX, 1.0, 1.0) <= 1.0);
    }
}
