//! The layer vocabulary the exported graphs are written in: a [`Ctx`] holds one graph under
//! construction and the model's variables, added as initializers (under their own names) on
//! first use, and writes the layers every architecture shares — linear maps with or without
//! bias, RMSNorm and LayerNorm, the activations, gated MLPs, head splitting and attention —
//! with the same operation order and constants as the tch forward passes.
//!
//! Linear weights keep their tch layout `[out, in]` (the initializer equals the variable) and
//! are multiplied through a `Transpose`, which ONNX Runtime folds into a constant on load.

use std::collections::{HashMap, HashSet};

use tch::Tensor;

use super::onnx_builder::{attr_float, attr_int, attr_ints, GraphBuilder, MS_DOMAIN};
use super::quant::{self, Quant};
use crate::error::{Error, Result};

/// Activation functions, as the tch models apply them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Act {
    Silu,
    /// `x · sigmoid(1.702 x)` (transformers' QuickGELU).
    QuickGelu,
    /// `0.5 x (1 + erf(x / √2))`.
    Gelu,
    /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
    GeluTanh,
}

/// A graph under construction plus the model's variables.
pub(crate) struct Ctx<'a> {
    pub g: GraphBuilder,
    vars: &'a HashMap<String, Tensor>,
    added: HashSet<String>,
    /// Transposed linear weights already emitted, by variable name.
    transposed: HashMap<String, String>,
    /// The epsilon of [`Ctx::rms_norm`] and [`Ctx::layer_norm`] in this graph.
    pub eps: f32,
    /// Linear maps as `com.microsoft` `MatMulNBits` over quantised weights
    /// ([`super::quant`]); `None`: f32 `MatMul`.
    pub quant: Option<Quant>,
}

impl<'a> Ctx<'a> {
    pub fn new(name: &str, vars: &'a HashMap<String, Tensor>, eps: f64) -> Self {
        Self {
            g: GraphBuilder::new(name),
            vars,
            added: HashSet::new(),
            transposed: HashMap::new(),
            eps: eps as f32,
            quant: None,
        }
    }

    /// Whether the model has variable `name`.
    pub fn has(&self, name: &str) -> bool {
        self.vars.contains_key(name)
    }

    /// The initializer holding variable `name`.
    pub fn weight(&mut self, name: &str) -> Result<String> {
        if !self.added.contains(name) {
            let t = self.vars.get(name).ok_or_else(|| Error::Export {
                path: "model".into(),
                message: format!("the model has no variable `{name}`"),
            })?;
            self.g.initializer(name, t)?;
            self.added.insert(name.to_string());
        }
        Ok(name.to_string())
    }

    pub fn op(&mut self, op: &str, inputs: &[&str]) -> Result<String> {
        self.g.node(op, inputs, vec![])
    }

    /// `x @ W^T (+ b)` for the linear layer `prefix`: `prefix.weight` is `[out, in]`, and
    /// `prefix.bias` is added when the model has it. With [`Ctx::quant`], the weight is
    /// quantised (`{prefix}.weight.int4` / `.int8` and `.scales` initializers) and multiplied
    /// by `MatMulNBits`.
    pub fn linear(&mut self, x: &str, prefix: &str) -> Result<String> {
        let name = format!("{prefix}.weight");
        let y = match self.quant {
            Some(q) => self.matmul_nbits(x, &name, q)?,
            None => self.matmul_t(x, &name)?,
        };
        let bias = format!("{prefix}.bias");
        if self.has(&bias) {
            let b = self.weight(&bias)?;
            return self.op("Add", &[&y, &b]);
        }
        Ok(y)
    }

    /// `x @ W^T` in f32 through a (folded) `Transpose`.
    fn matmul_t(&mut self, x: &str, name: &str) -> Result<String> {
        let wt = match self.transposed.get(name) {
            Some(t) => t.clone(),
            None => {
                let w = self.weight(name)?;
                let t = self
                    .g
                    .node("Transpose", &[&w], vec![attr_ints("perm", &[1, 0])])?;
                self.transposed.insert(name.to_string(), t.clone());
                t
            }
        };
        self.op("MatMul", &[x, &wt])
    }

    /// `x @ W^T` with `W` quantised for `MatMulNBits` (symmetric, blocks of
    /// [`quant::BLOCK`], int8 compute: `accuracy_level` 4, as onnxruntime-genai builds it).
    fn matmul_nbits(&mut self, x: &str, name: &str, q: Quant) -> Result<String> {
        let packed_name = format!("{name}.{}", q.name());
        let scales_name = format!("{name}.scales");
        let t = self.vars.get(name).ok_or_else(|| Error::Export {
            path: "model".into(),
            message: format!("the model has no variable `{name}`"),
        })?;
        let size = t.size();
        let [n, k] = size[..] else {
            return Err(Error::Export {
                path: "model".into(),
                message: format!("`{name}` has shape {size:?}, not a matrix"),
            });
        };
        if !self.added.contains(&packed_name) {
            let values = Vec::<f32>::try_from(
                &t.to_device(tch::Device::Cpu)
                    .to_kind(tch::Kind::Float)
                    .contiguous()
                    .view([-1]),
            )?;
            let (packed, scales) = quant::quantize(&values, n as usize, k as usize, q)?;
            let blocks = (k as usize).div_ceil(quant::BLOCK) as i64;
            let blob = (quant::BLOCK as i64) * i64::from(q.bits()) / 8;
            self.g
                .initializer_u8(&packed_name, &[n, blocks, blob], packed)?;
            self.g
                .initializer_f32(&scales_name, &[n * blocks], &scales)?;
            self.added.insert(packed_name.clone());
        }
        self.g.node_in(
            MS_DOMAIN,
            "MatMulNBits",
            &[x, &packed_name, &scales_name],
            vec![
                attr_int("K", k),
                attr_int("N", n),
                attr_int("bits", i64::from(q.bits())),
                attr_int("block_size", quant::BLOCK as i64),
                attr_int("accuracy_level", 4),
            ],
        )
    }

    /// `x * rsqrt(mean(x²) + eps) * w`, written as a division by the square root.
    /// `x / sqrt(mean(x²) + eps) · weight`, written as ONNX Runtime's
    /// `SimplifiedLayerNormFusion` expects it (`Pow(x, 2)` → `ReduceMean` → `Add` → `Sqrt` →
    /// `Div` → `Mul`), so that its optimiser fuses it into `SimplifiedLayerNormalization`, and
    /// with the residual `Add` before it into `SkipSimplifiedLayerNormalization`.
    pub fn rms_norm(&mut self, x: &str, prefix: &str) -> Result<String> {
        let two = self.g.scalar_f32("two", 2.0)?;
        let sq = self.op("Pow", &[x, &two])?;
        let mean = self.g.node(
            "ReduceMean",
            &[&sq],
            vec![attr_ints("axes", &[-1]), attr_int("keepdims", 1)],
        )?;
        let eps = self.g.scalar_f32("rms_eps", self.eps)?;
        let var = self.op("Add", &[&mean, &eps])?;
        let root = self.op("Sqrt", &[&var])?;
        let normed = self.op("Div", &[x, &root])?;
        let w = self.weight(&format!("{prefix}.weight"))?;
        self.op("Mul", &[&normed, &w])
    }

    /// LayerNorm over the last axis with `prefix.weight` and `prefix.bias`.
    pub fn layer_norm(&mut self, x: &str, prefix: &str) -> Result<String> {
        let w = self.weight(&format!("{prefix}.weight"))?;
        let b = self.weight(&format!("{prefix}.bias"))?;
        self.g.node(
            "LayerNormalization",
            &[x, &w, &b],
            vec![attr_int("axis", -1), attr_float("epsilon", self.eps)],
        )
    }

    pub fn act(&mut self, x: &str, act: Act) -> Result<String> {
        match act {
            Act::Silu => {
                let s = self.op("Sigmoid", &[x])?;
                self.op("Mul", &[x, &s])
            }
            Act::QuickGelu => {
                let k = self.g.scalar_f32("quick_gelu", 1.702)?;
                let kx = self.op("Mul", &[x, &k])?;
                let s = self.op("Sigmoid", &[&kx])?;
                self.op("Mul", &[x, &s])
            }
            Act::Gelu => {
                let root2 = self
                    .g
                    .scalar_f32("sqrt2", std::f64::consts::SQRT_2 as f32)?;
                let scaled = self.op("Div", &[x, &root2])?;
                let erf = self.op("Erf", &[&scaled])?;
                let one = self.g.scalar_f32("one", 1.0)?;
                let half = self.g.scalar_f32("half", 0.5)?;
                let inner = self.op("Add", &[&erf, &one])?;
                let hx = self.op("Mul", &[x, &half])?;
                self.op("Mul", &[&hx, &inner])
            }
            Act::GeluTanh => {
                let c = self
                    .g
                    .scalar_f32("gelu_c", (2.0 / std::f64::consts::PI).sqrt() as f32)?;
                let k = self.g.scalar_f32("gelu_k", 0.044_715)?;
                let one = self.g.scalar_f32("one", 1.0)?;
                let half = self.g.scalar_f32("half", 0.5)?;
                let x2 = self.op("Mul", &[x, x])?;
                let x3 = self.op("Mul", &[&x2, x])?;
                let kx3 = self.op("Mul", &[&x3, &k])?;
                let s = self.op("Add", &[x, &kx3])?;
                let s = self.op("Mul", &[&s, &c])?;
                let t = self.op("Tanh", &[&s])?;
                let t = self.op("Add", &[&t, &one])?;
                let hx = self.op("Mul", &[x, &half])?;
                self.op("Mul", &[&hx, &t])
            }
        }
    }

    /// `down(act(gate(x)) * up(x))`.
    pub fn gated_mlp(&mut self, x: &str, prefix: &str, act: Act) -> Result<String> {
        let gate = self.linear(x, &format!("{prefix}.gate_proj"))?;
        let gate = self.act(&gate, act)?;
        let up = self.linear(x, &format!("{prefix}.up_proj"))?;
        let h = self.op("Mul", &[&gate, &up])?;
        self.linear(&h, &format!("{prefix}.down_proj"))
    }

    /// `[B, S, heads * hd]` → `[B, heads, S, hd]`.
    pub fn split_heads(&mut self, x: &str, heads: i64, hd: i64) -> Result<String> {
        let shape = self.g.ints("heads_shape", &[0, 0, heads, hd])?;
        let r = self.op("Reshape", &[x, &shape])?;
        self.g
            .node("Transpose", &[&r], vec![attr_ints("perm", &[0, 2, 1, 3])])
    }

    /// `[B, heads, S, hd]` → `[B, S, heads * hd]`.
    pub fn merge_heads(&mut self, x: &str, width: i64) -> Result<String> {
        let t = self
            .g
            .node("Transpose", &[x], vec![attr_ints("perm", &[0, 2, 1, 3])])?;
        let shape = self.g.ints("merge_shape", &[0, 0, width])?;
        self.op("Reshape", &[&t, &shape])
    }

    /// `softmax(q kᵀ / sqrt(hd) [+ bias]) v` over `[…, S, hd]` tensors (the key transposed
    /// on its last two axes, whatever the rank).
    pub fn attend(
        &mut self,
        q: &str,
        k: &str,
        v: &str,
        hd: i64,
        rank: usize,
        bias: Option<&str>,
    ) -> Result<String> {
        let mut perm: Vec<i64> = (0..rank as i64).collect();
        perm.swap(rank - 1, rank - 2);
        let kt = self
            .g
            .node("Transpose", &[k], vec![attr_ints("perm", &perm)])?;
        let scores = self.op("MatMul", &[q, &kt])?;
        let scale = self.g.scalar_f32("attn_scale", (hd as f64).sqrt() as f32)?;
        let mut scores = self.op("Div", &[&scores, &scale])?;
        if let Some(b) = bias {
            scores = self.op("Add", &[&scores, b])?;
        }
        let probs = self
            .g
            .node("Softmax", &[&scores], vec![attr_int("axis", -1)])?;
        self.op("MatMul", &[&probs, v])
    }

    /// `x · cos + rotate_half(x) · sin` with `rotate_half([x1, x2]) = [−x2, x1]` over the
    /// last axis (of size `hd`, axis number `axis`).
    pub fn rope(&mut self, x: &str, cos: &str, sin: &str, hd: i64, axis: i64) -> Result<String> {
        let half = hd / 2;
        let lo = self.g.ints("slice", &[0])?;
        let mid = self.g.ints("slice", &[half])?;
        let hi = self.g.ints("slice", &[hd])?;
        let ax = self.g.ints("slice_axis", &[axis])?;
        let x1 = self.op("Slice", &[x, &lo, &mid, &ax])?;
        let x2 = self.op("Slice", &[x, &mid, &hi, &ax])?;
        let neg = self.op("Neg", &[&x2])?;
        let rotated = self
            .g
            .node("Concat", &[&neg, &x1], vec![attr_int("axis", axis)])?;
        let a = self.op("Mul", &[x, cos])?;
        let b = self.op("Mul", &[&rotated, sin])?;
        self.op("Add", &[&a, &b])
    }
}
