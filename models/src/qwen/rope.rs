//! The language model's 3-row rotary positions of Qwen2-VL / Qwen2.5-VL (M-RoPE), as
//! `transformers` 5.24's `get_rope_index` computes them: shared by the trainer's tch model and
//! the runtime's decode loop, so that both place every token identically.

use crate::error::{Error, Result};

/// The three position rows of one prompt and the delta for the tokens generated after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MropePositions {
    /// `rows[r][i]`: row `r` (temporal, height, width) of token `i`.
    pub rows: [Vec<i64>; 3],
    /// `max(position) + 1 - len`: token `n` after the prompt sits at `n + delta` in all rows.
    pub delta: i64,
}

/// `get_rope_index` for one sequence: text tokens count up by one in all three rows; each run
/// of `image_token_id` takes the next grid `[t, h, w]` (in patches) and gets the merged grid's
/// (t, row, column) positions offset by the position reached so far, which then advances by
/// `max(h, w) / merge`.
pub fn rope_index(
    input_ids: &[i64],
    image_token_id: i64,
    grids: &[[i64; 3]],
    merge: i64,
) -> Result<MropePositions> {
    let mut rows: [Vec<i64>; 3] = Default::default();
    let mut grids_left = grids.iter();
    let mut current = 0i64;
    let mut i = 0;
    while i < input_ids.len() {
        let is_image = input_ids[i] == image_token_id;
        let run = input_ids[i..]
            .iter()
            .take_while(|&&id| (id == image_token_id) == is_image)
            .count();
        if is_image {
            let [t, h, w] = *grids_left.next().ok_or_else(|| {
                Error::invalid(
                    "prompt",
                    format!(
                        "the prompt has more runs of image tokens than the {} image grids given",
                        grids.len()
                    ),
                )
            })?;
            let (lh, lw) = (h / merge, w / merge);
            if (t * lh * lw) as usize != run {
                return Err(Error::invalid("prompt", format!(
                    "a run of {run} image tokens at position {i} but its grid {t}×{h}×{w} merges to {} tokens",
                    t * lh * lw
                )));
            }
            for tt in 0..t {
                for r in 0..lh {
                    for c in 0..lw {
                        rows[0].push(tt + current);
                        rows[1].push(r + current);
                        rows[2].push(c + current);
                    }
                }
            }
            current += h.max(w) / merge;
        } else {
            for k in 0..run as i64 {
                for row in rows.iter_mut() {
                    row.push(current + k);
                }
            }
            current += run as i64;
        }
        i += run;
    }
    if grids_left.next().is_some() {
        return Err(Error::invalid(
            "prompt",
            format!(
                "{} image grids given but the prompt has fewer runs of image tokens",
                grids.len()
            ),
        ));
    }
    let max = rows.iter().flatten().copied().max().unwrap_or(-1);
    Ok(MropePositions {
        delta: max + 1 - input_ids.len() as i64,
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rope_index_of_text_image_text() {
        // 2 text tokens, a 1×4×6 grid (2×3 merged tokens), 2 text tokens.
        let ids = [1, 2, 9, 9, 9, 9, 9, 9, 3, 4];
        let p = rope_index(&ids, 9, &[[1, 4, 6]], 2).unwrap();
        assert_eq!(p.rows[0], [0, 1, 2, 2, 2, 2, 2, 2, 5, 6]);
        assert_eq!(p.rows[1], [0, 1, 2, 2, 2, 3, 3, 3, 5, 6]);
        assert_eq!(p.rows[2], [0, 1, 2, 3, 4, 2, 3, 4, 5, 6]);
        // Next position max + 1 = 7 for the token at index 10: delta −3.
        assert_eq!(p.delta, 7 - 10);
    }

    #[test]
    fn rope_index_refuses_mismatched_grids() {
        let err = rope_index(&[1, 9, 9, 2], 9, &[[1, 4, 6]], 2).unwrap_err();
        assert!(err.to_string().contains("merges to 6 tokens"), "{err}");
        let err = rope_index(&[1, 2], 9, &[[1, 4, 6]], 2).unwrap_err();
        assert!(err.to_string().contains("fewer runs"), "{err}");
        let err = rope_index(&[9, 9, 9, 9, 9, 9], 9, &[], 2).unwrap_err();
        assert!(err.to_string().contains("more runs"), "{err}");
    }
}
