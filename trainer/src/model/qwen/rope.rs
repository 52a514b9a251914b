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

/// The vision tower's rotary base. `transformers` gives the vision config
/// `rope_parameters.rope_theta = 10000` and the published checkpoints never set it.
pub const VISION_ROPE_THETA: f64 = 10_000.0;

pub use reticle_models::qwen::rope::{rope_index, MropePositions};

/// `[3, 1, len]` int64 positions of one prompt on `device`.
pub fn positions_tensor(p: &MropePositions, device: Device) -> Tensor {
    let flat: Vec<i64> = p.rows.iter().flatten().copied().collect();
    Tensor::from_slice(&flat)
        .view([3, 1, p.rows[0].len() as i64])
        .to_device(device)
}

/// `1 / base^(arange(0, dim, 2) / dim)` in f32 with the same operations as `transformers`
/// (`torch.pow(scalar, tensor)`, then `reciprocal`), so the frequencies are bit-identical.
pub fn inv_freq(base: f64, dim: i64, device: Device) -> Tensor {
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
