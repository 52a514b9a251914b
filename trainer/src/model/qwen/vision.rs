//! The vision towers: `Qwen2VisionTransformerPretrainedModel` (Qwen2-VL) and
//! `Qwen2_5_VisionTransformerPretrainedModel` (Qwen2.5-VL) of `transformers` 5.24, eager
//! attention.
//!
//! Both: a patch embedding (a `Conv3d` whose stride equals its kernel, so one linear map of
//! the flattened `C·T·P·P` patch the processor writes), 2-D rotary attention within each
//! image, and a patch merger (norm, `merge²` neighbouring patches concatenated, MLP with exact
//! GELU) that writes one language-model token per merge block. They differ in the blocks:
//!
//! - Qwen2-VL: LayerNorm, MLP `fc1 → act (QuickGELU) → fc2`, full attention everywhere,
//!   LayerNorm in the merger;
//! - Qwen2.5-VL: RMSNorm, gated MLP with biases (SiLU), attention within windows of
//!   `window_size` pixels except in `fullatt_block_indexes`, RMSNorm in the merger. The patches
//!   are reordered window by window (`window_index`) before the blocks and the merged tokens
//!   put back in image order after the merger.

use tch::{Kind, Tensor};

use super::rope::{rotate_half, vision_cos_sin};
use super::text::{GatedMlp, Linear, RmsNorm};
use super::weights::Weights;
use super::Activation;
use crate::error::{Error, Result};
use reticle_models::qwen::config::VisionConfig;
use reticle_models::qwen::Family;

/// `eps` of every norm in both vision towers.
pub const VISION_NORM_EPS: f64 = 1e-6;

#[derive(Debug)]
enum Norm {
    Layer { weight: Tensor, bias: Tensor },
    Rms(RmsNorm),
}

impl Norm {
    fn new(w: &Weights, name: &str, family: Family) -> Result<Self> {
        Ok(match family {
            Family::Qwen2Vl => Norm::Layer {
                weight: w.get(&format!("{name}.weight"))?,
                bias: w.get(&format!("{name}.bias"))?,
            },
            Family::Qwen25Vl => Norm::Rms(RmsNorm::new(w, name, VISION_NORM_EPS)?),
        })
    }

    fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Norm::Layer { weight, bias } => x.layer_norm(
                [x.size().last().copied().unwrap_or(0)],
                Some(weight),
                Some(bias),
                VISION_NORM_EPS,
                false,
            ),
            Norm::Rms(n) => n.forward(x),
        }
    }
}

#[derive(Debug)]
enum Mlp {
    /// Qwen2-VL: `fc2(act(fc1(x)))`.
    Plain {
        fc1: Linear,
        fc2: Linear,
        act: Activation,
    },
    /// Qwen2.5-VL: `down(act(gate(x)) · up(x))`, with biases.
    Gated(GatedMlp),
}

impl Mlp {
    fn forward(&self, x: &Tensor) -> Tensor {
        match self {
            Mlp::Plain { fc1, fc2, act } => fc2.forward(&act.apply(&fc1.forward(x))),
            Mlp::Gated(m) => m.forward(x),
        }
    }
}

#[derive(Debug)]
struct Attention {
    qkv: Linear,
    proj: Linear,
    n_heads: i64,
}

impl Attention {
    /// `x [N, D]`, `cos`/`sin [N, head_dim]`; attention only within each segment of
    /// `cu_seqlens` (cumulative lengths, starting at 0).
    fn forward(&self, x: &Tensor, cos: &Tensor, sin: &Tensor, cu_seqlens: &[i64]) -> Tensor {
        let n = x.size()[0];
        let qkv = self
            .qkv
            .forward(x)
            .reshape([n, 3, self.n_heads, -1])
            .permute([1, 0, 2, 3]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let (cos, sin) = (cos.unsqueeze(-2), sin.unsqueeze(-2));
        let q = &q * &cos + rotate_half(&q) * &sin;
        let k = &k * &cos + rotate_half(&k) * &sin;
        // [heads, N, head_dim]
        let (q, k, v) = (q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1));
        let head_dim = q.size()[2];
        let scaling = (head_dim as f64).powf(-0.5);
        let outs: Vec<Tensor> = cu_seqlens
            .windows(2)
            .filter(|s| s[1] > s[0])
            .map(|s| {
                let (start, len) = (s[0], s[1] - s[0]);
                let (q, k, v) = (
                    q.narrow(1, start, len),
                    k.narrow(1, start, len),
                    v.narrow(1, start, len),
                );
                let scores = q.matmul(&k.transpose(1, 2)) * scaling;
                scores.softmax(-1, Kind::Float).to_kind(v.kind()).matmul(&v)
            })
            .collect();
        let out = Tensor::cat(&outs, 1).transpose(0, 1).reshape([n, -1]);
        self.proj.forward(&out)
    }
}

#[derive(Debug)]
struct Block {
    norm1: Norm,
    attn: Attention,
    norm2: Norm,
    mlp: Mlp,
}

#[derive(Debug)]
struct Merger {
    ln_q: Norm,
    fc1: Linear,
    fc2: Linear,
    /// `D · merge²`: the width of one merge block.
    width: i64,
}

/// One vision tower of either family.
#[derive(Debug)]
pub(super) struct VisionTower {
    family: Family,
    /// The `Conv3d` kernel flattened to `[D, C·T·P·P]`.
    patch_embed: Tensor,
    blocks: Vec<Block>,
    merger: Merger,
    cfg: VisionConfig,
}

impl VisionTower {
    /// `prefix` is `visual` (published names: `visual.blocks.0…`).
    pub(super) fn new(
        w: &Weights,
        prefix: &str,
        cfg: &VisionConfig,
        family: Family,
    ) -> Result<Self> {
        let act = Activation::parse(&cfg.hidden_act, "vision_config.hidden_act")?;
        let blocks = (0..cfg.depth)
            .map(|i| {
                let p = format!("{prefix}.blocks.{i}");
                let mlp = match family {
                    Family::Qwen2Vl => Mlp::Plain {
                        fc1: Linear::new(w, &format!("{p}.mlp.fc1"), true)?,
                        fc2: Linear::new(w, &format!("{p}.mlp.fc2"), true)?,
                        act,
                    },
                    Family::Qwen25Vl => {
                        Mlp::Gated(GatedMlp::new(w, &format!("{p}.mlp"), true, act)?)
                    }
                };
                Ok(Block {
                    norm1: Norm::new(w, &format!("{p}.norm1"), family)?,
                    attn: Attention {
                        qkv: Linear::new(w, &format!("{p}.attn.qkv"), true)?,
                        proj: Linear::new(w, &format!("{p}.attn.proj"), true)?,
                        n_heads: cfg.num_heads as i64,
                    },
                    norm2: Norm::new(w, &format!("{p}.norm2"), family)?,
                    mlp,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let d = cfg.hidden_size as i64;
        let kernel = w.get(&format!("{prefix}.patch_embed.proj.weight"))?;
        Ok(Self {
            family,
            patch_embed: kernel.reshape([d, -1]),
            blocks,
            merger: Merger {
                ln_q: Norm::new(w, &format!("{prefix}.merger.ln_q"), family)?,
                fc1: Linear::new(w, &format!("{prefix}.merger.mlp.0"), true)?,
                fc2: Linear::new(w, &format!("{prefix}.merger.mlp.2"), true)?,
                width: d * (cfg.spatial_merge_size * cfg.spatial_merge_size) as i64,
            },
            cfg: cfg.clone(),
        })
    }

    /// Every linear map of the blocks (attention and MLP; not the merger), for adapters.
    pub(super) fn linears_mut(&mut self) -> Vec<&mut Linear> {
        let mut out = Vec::new();
        for block in &mut self.blocks {
            out.extend([&mut block.attn.qkv, &mut block.attn.proj]);
            match &mut block.mlp {
                Mlp::Plain { fc1, fc2, .. } => out.extend([fc1, fc2]),
                Mlp::Gated(m) => out.extend(m.linears_mut()),
            }
        }
        out
    }

    /// The number of patches of `grids` and checks that each grid merges evenly.
    pub(super) fn check_grids(&self, grids: &[[i64; 3]]) -> Result<i64> {
        let m = self.cfg.spatial_merge_size as i64;
        let mut n = 0;
        for g in grids {
            if g.iter().any(|&d| d <= 0) || g[1] % m != 0 || g[2] % m != 0 {
                return Err(Error::Config(format!(
                    "image grid {g:?}: sizes must be positive and h, w multiples of spatial_merge_size {m}"
                )));
            }
            n += g[0] * g[1] * g[2];
        }
        Ok(n)
    }

    /// `pixel_values [N, C·T·P·P]` of the images of `grids` → `[N / merge², out_hidden]`, in
    /// image order.
    pub(super) fn forward(&self, pixel_values: &Tensor, grids: &[[i64; 3]]) -> Result<Tensor> {
        let n = self.check_grids(grids)?;
        let patch_len = self.patch_embed.size()[1];
        if pixel_values.size() != [n, patch_len] {
            return Err(Error::Config(format!(
                "pixel_values has shape {:?}, expected [{n}, {patch_len}] for grids {grids:?}",
                pixel_values.size()
            )));
        }
        let m = self.cfg.spatial_merge_size as i64;
        let unit = m * m;
        let device = pixel_values.device();
        let mut h = pixel_values
            .to_kind(self.patch_embed.kind())
            .linear::<Tensor>(&self.patch_embed, None);
        let head_dim = self.cfg.hidden_size / self.cfg.num_heads;
        let (cos, sin) = vision_cos_sin(grids, m, head_dim, device);
        let (mut cos, mut sin) = (cos.to_kind(h.kind()), sin.to_kind(h.kind()));
        // Each frame of each image is one attention segment.
        let mut cu_seqlens = vec![0i64];
        for &[t, gh, gw] in grids {
            for _ in 0..t {
                cu_seqlens.push(cu_seqlens[cu_seqlens.len() - 1] + gh * gw);
            }
        }
        let window = match (self.family, &self.cfg.window) {
            (Family::Qwen25Vl, Some(win)) => {
                let (index, cu) =
                    window_index(grids, m, win.window_size as i64, self.cfg.patch_size as i64);
                let index_t = Tensor::from_slice(&index).to_device(device);
                let permute = |x: &Tensor| {
                    x.reshape([n / unit, unit, -1])
                        .index_select(0, &index_t)
                        .reshape([n, -1])
                };
                h = permute(&h);
                cos = permute(&cos);
                sin = permute(&sin);
                Some((index_t, cu, win.fullatt_block_indexes.clone()))
            }
            _ => None,
        };
        for (i, block) in self.blocks.iter().enumerate() {
            let segments = match &window {
                Some((_, cu_window, full)) if !full.contains(&i) => cu_window,
                _ => &cu_seqlens,
            };
            h = &h
                + block
                    .attn
                    .forward(&block.norm1.forward(&h), &cos, &sin, segments);
            h = &h + block.mlp.forward(&block.norm2.forward(&h));
        }
        let merged = self.merger.fc2.forward(
            &self
                .merger
                .fc1
                .forward(&self.merger.ln_q.forward(&h).view([-1, self.merger.width]))
                .gelu("none"),
        );
        Ok(match window {
            Some((index, _, _)) => merged.index_select(0, &index.argsort(0, false)),
            None => merged,
        })
    }
}

/// `get_vision_window_index`: the order of the merge blocks window by window (windows of
/// `window_size / merge / patch` blocks a side, row-major, the last ones cut by the image
/// edge) and the cumulative window lengths in patches, empty windows dropped.
pub(super) fn window_index(
    grids: &[[i64; 3]],
    merge: i64,
    window_size: i64,
    patch_size: i64,
) -> (Vec<i64>, Vec<i64>) {
    let side = (window_size / merge / patch_size).max(1);
    let unit = merge * merge;
    let mut index = Vec::new();
    let mut cu = vec![0i64];
    let mut offset = 0;
    for &[t, h, w] in grids {
        let (lh, lw) = (h / merge, w / merge);
        // transformers pads to the next multiple, adding a whole empty window when the grid
        // already is one; empty windows leave the cumulative lengths unchanged.
        let (nwh, nww) = (
            (lh + side - lh % side) / side,
            (lw + side - lw % side) / side,
        );
        for tt in 0..t {
            for wh in 0..nwh {
                for ww in 0..nww {
                    let mut count = 0;
                    for i in 0..side {
                        for j in 0..side {
                            let (r, c) = (wh * side + i, ww * side + j);
                            if r < lh && c < lw {
                                index.push(offset + tt * lh * lw + r * lw + c);
                                count += 1;
                            }
                        }
                    }
                    let last = cu[cu.len() - 1];
                    if count > 0 {
                        cu.push(last + count * unit);
                    }
                }
            }
        }
        offset += t * lh * lw;
    }
    (index, cu)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cut_at_the_image_edge() {
        // 3×5 merge blocks, windows of 2×2 blocks: rows {0,1},{2}; columns {0,1},{2,3},{4}.
        let (index, cu) = window_index(&[[1, 6, 10]], 2, 56, 14);
        assert_eq!(index, [0, 1, 5, 6, 2, 3, 7, 8, 4, 9, 10, 11, 12, 13, 14]);
        assert_eq!(cu, [0, 16, 32, 40, 48, 56, 60]);
    }
}
