//! Rotary positions of Qwen2-VL / Qwen2.5-VL, as `transformers` 5.24 computes them.
//!
//! - [`rope_index`]: `get_rope_index` — the language model's three position rows
//!   (temporal, height, width) for a prompt of text and image tokens, and the delta that
//!   continues them during generation;
//! - [`TextRotary`]: the decoder's M-RoPE cos / sin, frequencies split by `mrope_section`
//!   between the three rows;
//! - [`vision_cos_sin`]: the vision tower's 2-D rotary over patch rows and columns, in the
//!   processor's patch order (merge blocks first).

use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// The vision tower's rotary base. `transformers` gives the vision config
/// `rope_parameters.rope_theta = 10000` and the published checkpoints never set it.
pub const VISION_ROPE_THETA: f64 = 10_000.0;

/// The three position rows of one prompt and the delta for the tokens generated after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MropePositions {
    /// `rows[r][i]`: row `r` (temporal, height, width) of token `i`.
    pub rows: [Vec<i64>; 3],
    /// `max(position) + 1 - len`: token `n` after the prompt sits at `n + delta` in all rows.
    pub delta: i64,
}

impl MropePositions {
    /// `[3, 1, len]` int64 on `device`.
    pub fn to_tensor(&self, device: Device) -> Tensor {
        let flat: Vec<i64> = self.rows.iter().flatten().copied().collect();
        Tensor::from_slice(&flat)
            .view([3, 1, self.rows[0].len() as i64])
            .to_device(device)
    }
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
                Error::Config(format!(
                    "the prompt has more runs of image tokens than the {} image grids given",
                    grids.len()
                ))
            })?;
            let (lh, lw) = (h / merge, w / merge);
            if (t * lh * lw) as usize != run {
                return Err(Error::Config(format!(
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
        return Err(Error::Config(format!(
            "{} image grids given but the prompt has fewer runs of image tokens",
            grids.len()
        )));
    }
    let max = rows.iter().flatten().copied().max().unwrap_or(-1);
    Ok(MropePositions {
        delta: max + 1 - input_ids.len() as i64,
        rows,
    })
}

/// `1 / base^(arange(0, dim, 2) / dim)` in f32 with the same operations as `transformers`
/// (`torch.pow(scalar, tensor)`, then `reciprocal`), so the frequencies are bit-identical.
fn inv_freq(base: f64, dim: i64, device: Device) -> Tensor {
    let exponent = Tensor::arange_start_step(0, dim, 2, (Kind::Float, device)) / dim as f64;
    Tensor::pow_scalar(base, &exponent).reciprocal()
}

/// `[x1, x2] → [-x2, x1]` over the last dimension.
pub fn rotate_half(x: &Tensor) -> Tensor {
    let half = x.size().last().copied().unwrap_or(0) / 2;
    let x1 = x.narrow(-1, 0, half);
    let x2 = x.narrow(-1, half, half);
    Tensor::cat(&[-x2, x1], -1)
}

/// The decoder's multimodal rotary embedding.
#[derive(Debug)]
pub struct TextRotary {
    inv_freq: Tensor,
    section: Vec<i64>,
}

impl TextRotary {
    pub fn new(head_dim: usize, theta: f64, mrope_section: &[usize], device: Device) -> Self {
        Self {
            inv_freq: inv_freq(theta, head_dim as i64, device),
            section: mrope_section.iter().map(|&s| s as i64).collect(),
        }
    }

    /// `positions [3, B, T]` (int64) → `(cos, sin)`, each `[B, T, head_dim]`: frequency chunk
    /// `i` of `mrope_section` takes its angles from position row `i % 3`.
    pub fn cos_sin(&self, positions: &Tensor) -> (Tensor, Tensor) {
        let freqs = positions.unsqueeze(-1).to_kind(Kind::Float) * &self.inv_freq;
        let recompose = |f: Tensor| {
            let chunks: Vec<Tensor> = f
                .split_with_sizes(&self.section, -1)
                .iter()
                .enumerate()
                .map(|(i, m)| m.select(0, (i % 3) as i64))
                .collect();
            let f = Tensor::cat(&chunks, -1);
            Tensor::cat(&[&f, &f], -1)
        };
        (recompose(freqs.cos()), recompose(freqs.sin()))
    }
}

/// `(row, column)` of every patch of `grids`, in the processor's order: merge blocks of
/// `merge × merge` patches row by row, the patches of a block row by row, frames one after
/// the other (`get_vision_position_ids`).
pub fn vision_patch_positions(grids: &[[i64; 3]], merge: i64) -> Vec<[i64; 2]> {
    let mut out = Vec::new();
    for &[t, h, w] in grids {
        for _ in 0..t {
            for bh in 0..h / merge {
                for bw in 0..w / merge {
                    for i in 0..merge {
                        for j in 0..merge {
                            out.push([bh * merge + i, bw * merge + j]);
                        }
                    }
                }
            }
        }
    }
    out
}

/// The vision tower's rotary `(cos, sin)`, each `[n_patches, head_dim]`: a quarter of the
/// head's frequencies rotate with the patch row, a quarter with the column, repeated twice.
pub fn vision_cos_sin(
    grids: &[[i64; 3]],
    merge: i64,
    head_dim: usize,
    device: Device,
) -> (Tensor, Tensor) {
    let positions = vision_patch_positions(grids, merge);
    let flat: Vec<i64> = positions.iter().flatten().copied().collect();
    let pos = Tensor::from_slice(&flat)
        .view([positions.len() as i64, 2])
        .to_device(device);
    let spatial_dim = head_dim as i64 / 2;
    let freqs =
        pos.unsqueeze(-1).to_kind(Kind::Float) * inv_freq(VISION_ROPE_THETA, spatial_dim, device);
    let recompose = |f: Tensor| {
        let hw = Tensor::cat(&[f.select(1, 0), f.select(1, 1)], -1);
        Tensor::cat(&[&hw, &hw], -1)
    };
    (recompose(freqs.cos()), recompose(freqs.sin()))
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

    #[test]
    fn vision_positions_follow_merge_blocks() {
        let p = vision_patch_positions(&[[1, 2, 4]], 2);
        assert_eq!(
            p,
            [
                [0, 0],
                [0, 1],
                [1, 0],
                [1, 1],
                [0, 2],
                [0, 3],
                [1, 2],
                [1, 3]
            ]
        );
    }
}
