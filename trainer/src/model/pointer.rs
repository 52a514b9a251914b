//! The pointer policy: an action head over image patches and read text, written with tch.
//!
//! Candidates are the `cols × rows` patches of a stride-`cell` convolutional feature map and
//! the text candidates of `reticle_models::pointer` (read lines and words). The instruction
//! is a bag of hashed word pieces per word. The forward pass:
//!
//! 1. **Visual tokens**: a stride-`cell` CNN (three stride-2 convolutions and a residual
//!    block); RGB-D models add a separate depth branch of the same stride (RoboRefer's
//!    dedicated depth encoder).
//! 2. **Text**: each text candidate is a piece-bag embedding plus embeddings of its box and
//!    of its lexical overlap with the instruction. Candidates are *painted* onto the patches
//!    they overlap, so the map knows where the named text is.
//! 3. **Fusion**: a 3×3 convolution over visual + painted text, FiLM-modulated by the
//!    instruction; a stride-2 convolution to the token grid of a pre-norm transformer over
//!    `[instruction words, text candidates, patches]` (global context: "leftmost", "closest",
//!    which window a label is in); back to the patch grid by 2× repetition.
//! 4. **Two pointing steps**: an anchor head points at the object an expression is relative
//!    to; its max-normalised distribution is fed to the target head as an extra channel.
//! 5. **Pointer**: one logit per patch (plus an offset inside it) and one per text candidate
//!    (its transformer state and the target features pooled under its box); padding slots get
//!    `PAD_LOGIT`.
//! 6. **Relative geometry** (`relative`): the anchor distribution's expected position
//!    `(ax, ay)`; every candidate's logit (patch centre or candidate box centre) gets
//!    `w(instruction) · [dx, dy, dx², dy²]` of its offset from it, so "left of the mug", "the
//!    free space between A and B" (the anchor step points at both) and "the leftmost cube"
//!    need no receptive field spanning the frame.
//!
//! Every operation has a direct ONNX counterpart (`export/pointer.rs` writes the same graph);
//! variable names are the initializer names.

use reticle_models::pointer::{TextConfig, LEX_FEATURES, PAD_LOGIT};
use serde::{Deserialize, Serialize};
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use crate::error::{Error, Result};

/// Sizes of a pointer policy. Presets: `micro` (tests), `small` (the shipped default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PointerConfig {
    pub image_width: u32,
    pub image_height: u32,
    /// 3 (RGB) or 4 (RGB + a depth branch).
    pub channels: usize,
    /// Input pixels per patch; the CNN has three stride-2 stages, so this is 8.
    pub cell: u32,
    /// Channels of the three CNN stages.
    pub conv: [usize; 3],
    /// Width of the text embeddings and of the transformer.
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    /// Channels painted from the text candidates onto the patches.
    pub paint: usize,
    pub text: TextConfig,
    /// Anchor-relative geometry (step 6 of the forward pass): every candidate's logit gets
    /// an instruction-weighted function of its offset from the anchor's expected position.
    /// Off in the presets (runs before it have no such weights); `--init` from a run without
    /// it starts the new weights at zero, i.e. from the same function.
    #[serde(default)]
    pub relative: bool,
    /// A last logit for "the instruction names nothing here" (the nothing head): a classifier
    /// on the instruction words' final states, the best lexical overlap of any text candidate
    /// and the pointer's peak probability, whose output is the log-odds of nothing against all
    /// candidates together. Off in the presets; `--init` from a run or package without it
    /// starts it at log-odds −8 (probability 3e-4), i.e. from nearly the same function.
    #[serde(default)]
    pub nothing: bool,
}

impl PointerConfig {
    pub fn micro() -> Self {
        Self {
            image_width: 64,
            image_height: 48,
            channels: 3,
            cell: 8,
            conv: [8, 16, 24],
            hidden: 32,
            layers: 1,
            heads: 2,
            paint: 8,
            text: TextConfig {
                buckets: 512,
                max_words: 12,
                pieces_per_word: 8,
                max_candidates: 8,
                pieces_per_span: 16,
                max_elements: 0,
            },
            relative: false,
            nothing: false,
        }
    }

    pub fn small() -> Self {
        Self {
            image_width: 640,
            image_height: 400,
            channels: 3,
            cell: 8,
            conv: [24, 32, 48],
            hidden: 96,
            layers: 2,
            heads: 4,
            paint: 24,
            // Element proposals among the candidates: up to 32 (real screens: 16 on average,
            // 44 at most) within 96 (docs/pointer.md).
            text: TextConfig {
                max_candidates: 96,
                max_elements: 32,
                ..TextConfig::default()
            },
            relative: false,
            nothing: false,
        }
    }

    pub fn preset(name: &str) -> Result<Self> {
        match name {
            "micro" => Ok(Self::micro()),
            "small" => Ok(Self::small()),
            other => Err(Error::Config(format!(
                "unknown pointer size `{other}` (known: micro, small)"
            ))),
        }
    }

    /// Whether `other` has the same weights: everything but how many candidates are kept
    /// (`text.max_candidates`, `text.max_elements`), which no weight depends on, is equal.
    pub fn same_weights(&self, other: &Self) -> bool {
        let keep = |c: &Self| {
            let mut c = c.clone();
            c.text.max_candidates = 0;
            c.text.max_elements = 0;
            c
        };
        keep(self) == keep(other)
    }

    /// Whether a model of this config can start from `earlier`'s weights: the same weights,
    /// or these plus heads `earlier` lacks — the relative head or the nothing head, turned on
    /// here (their weights start as in [`PointerNet::new`]).
    pub fn extends(&self, earlier: &Self) -> bool {
        let with_heads = Self {
            relative: earlier.relative || self.relative,
            nothing: earlier.nothing || self.nothing,
            ..earlier.clone()
        };
        (self.relative || !earlier.relative)
            && (self.nothing || !earlier.nothing)
            && self.same_weights(&with_heads)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Config(format!("[model] {m}")));
        if self.cell != 8 {
            return bad(format!(
                "cell {} must be 8 (three stride-2 stages)",
                self.cell
            ));
        }
        if self.image_width % 16 != 0 || self.image_height % 16 != 0 || self.image_width == 0 {
            return bad(format!(
                "image size {}×{} must be positive multiples of 16",
                self.image_width, self.image_height
            ));
        }
        if self.channels != 3 && self.channels != 4 {
            return bad(format!("channels {} must be 3 or 4", self.channels));
        }
        if self.heads == 0 || self.hidden % self.heads != 0 {
            return bad(format!(
                "hidden {} must be a multiple of heads {}",
                self.hidden, self.heads
            ));
        }
        if self.conv.contains(&0) || self.paint == 0 {
            return bad("conv and paint widths must be positive".into());
        }
        self.text
            .validate()
            .map_err(|m| Error::Config(format!("[model] {m}")))
    }

    /// Patch grid `(cols, rows)`.
    pub fn grid(&self) -> (usize, usize) {
        (
            (self.image_width / self.cell) as usize,
            (self.image_height / self.cell) as usize,
        )
    }

    /// Number of patches P.
    pub fn patches(&self) -> usize {
        let (c, r) = self.grid();
        c * r
    }
}

/// One batch of pointer inputs (the graph inputs of `reticle_models::pointer`).
#[derive(Debug)]
pub struct PointerBatch {
    pub pixels: Tensor,
    pub instr_ids: Tensor,
    pub instr_mask: Tensor,
    pub span_ids: Tensor,
    pub span_mask: Tensor,
    pub span_boxes: Tensor,
    pub span_feats: Tensor,
    pub span_valid: Tensor,
}

/// The outputs: `logits [B, P+S]` (`[B, P+S+1]` with the nothing head, its logit last), `offsets [B, P, 2]`, `anchor_logits [B, P]`.
#[derive(Debug)]
pub struct PointerOutput {
    pub logits: Tensor,
    pub offsets: Tensor,
    pub anchor_logits: Tensor,
}

fn conv(p: nn::Path, i: usize, o: usize, k: i64, stride: i64) -> nn::Conv2D {
    nn::conv2d(
        p,
        i as i64,
        o as i64,
        k,
        nn::ConvConfig {
            stride,
            padding: k / 2,
            ..Default::default()
        },
    )
}

fn linear(p: nn::Path, i: usize, o: usize) -> nn::Linear {
    nn::linear(p, i as i64, o as i64, Default::default())
}

/// Layer-norm epsilon (the ONNX graph uses the same).
pub const LN_EPS: f64 = 1e-5;
/// Attention bias of a padded key.
pub const MASK_BIAS: f64 = -1e4;

#[derive(Debug)]
struct Block {
    ln1: nn::LayerNorm,
    qkv: nn::Linear,
    proj: nn::Linear,
    ln2: nn::LayerNorm,
    fc1: nn::Linear,
    fc2: nn::Linear,
    heads: i64,
}

impl Block {
    fn new(p: nn::Path, dim: usize, heads: usize) -> Self {
        let ln = |p: nn::Path| {
            nn::layer_norm(
                p,
                vec![dim as i64],
                nn::LayerNormConfig {
                    eps: LN_EPS,
                    ..Default::default()
                },
            )
        };
        Self {
            ln1: ln(&p / "ln1"),
            qkv: linear(&p / "qkv", dim, 3 * dim),
            proj: linear(&p / "proj", dim, dim),
            ln2: ln(&p / "ln2"),
            fc1: linear(&p / "fc1", dim, 2 * dim),
            fc2: linear(&p / "fc2", 2 * dim, dim),
            heads: heads as i64,
        }
    }

    /// `x [B, T, D]`, `bias [B, 1, 1, T]`.
    fn forward(&self, x: &Tensor, bias: &Tensor) -> Tensor {
        let (b, t, d) = x.size3().unwrap_or((1, 1, 1));
        let dh = d / self.heads;
        let qkv = self
            .qkv
            .forward(&self.ln1.forward(x))
            .view([b, t, 3, self.heads, dh])
            .permute([2, 0, 3, 1, 4]);
        let (q, k, v) = (qkv.get(0), qkv.get(1), qkv.get(2));
        let att =
            (q.matmul(&k.transpose(-2, -1)) / (dh as f64).sqrt() + bias).softmax(-1, Kind::Float);
        let y = att.matmul(&v).transpose(1, 2).reshape([b, t, d]);
        let x = x + self.proj.forward(&y);
        let h = self
            .fc2
            .forward(&self.fc1.forward(&self.ln2.forward(&x)).gelu("none"));
        x + h
    }
}

/// The pointer policy.
#[derive(Debug)]
pub struct PointerNet {
    cfg: PointerConfig,
    vs: nn::VarStore,
    c1: nn::Conv2D,
    c2: nn::Conv2D,
    c3: nn::Conv2D,
    res: nn::Conv2D,
    depth: Option<[nn::Conv2D; 3]>,
    pieces: nn::Embedding,
    word_pos: Tensor,
    span_box: nn::Linear,
    span_lex: nn::Linear,
    span_out: nn::Linear,
    paint: nn::Linear,
    fuse: nn::Conv2D,
    film: nn::Linear,
    down: nn::Conv2D,
    grid_pos: Tensor,
    type_emb: Tensor,
    blocks: Vec<Block>,
    ln_f: nn::LayerNorm,
    up: nn::Conv2D,
    mix: nn::Conv2D,
    anchor_head: nn::Conv2D,
    target: nn::Conv2D,
    target_res: nn::Conv2D,
    patch_head: nn::Conv2D,
    offset_head: nn::Conv2D,
    span_fc: nn::Linear,
    span_head: nn::Linear,
    relative: Option<nn::Linear>,
    nothing: Option<(nn::Linear, nn::Linear)>,
}

/// Names of the relative head's weights (absent from runs made before it).
const RELATIVE_WEIGHTS: [&str; 2] = ["head.relative.weight", "head.relative.bias"];
/// Features of a candidate's offset `(dx, dy)` from the anchor's expected position, in
/// fractions of the frame times [`RELATIVE_SCALE`]: `dx, dy, dx², dy²` (a linear term says
/// "left of", a quadratic one "near" or "at a distance").
pub const RELATIVE_FEATURES: usize = 4;
pub const RELATIVE_SCALE: f64 = 4.0;
/// The relative head's output is `RELATIVE_GAIN · (W q + b)`: its few weights see a consistent
/// gradient only from the minority of records that name a relation, so under AdamW (a step of
/// about `lr` per weight) they would take thousands of steps to reach useful sizes; the gain
/// multiplies their effective learning rate (measured: max |W| 0.036 after 500 steps without it).
pub const RELATIVE_GAIN: f64 = 8.0;
/// Names of the nothing head's weights (absent from runs made before it).
const NOTHING_WEIGHTS: [&str; 4] = [
    "head.nothing_fc.weight",
    "head.nothing_fc.bias",
    "head.nothing.weight",
    "head.nothing.bias",
];
/// The nothing head's output is `NOTHING_GAIN · (w h + b)`, the log-odds of "nothing" (the
/// same reason as [`RELATIVE_GAIN`]: AdamW moves a weight by about `lr` per step).
pub const NOTHING_GAIN: f64 = 8.0;
/// The nothing head's starting bias: log-odds `NOTHING_GAIN · NOTHING_START` = −8.
pub const NOTHING_START: f64 = -1.0;

impl PointerNet {
    pub fn new(cfg: &PointerConfig, device: Device) -> Result<Self> {
        cfg.validate()?;
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let [k1, k2, k3] = cfg.conv;
        let d = cfg.hidden;
        let (cols, rows) = cfg.grid();
        let g16 = (cols / 2) * (rows / 2);
        let depth = (cfg.channels == 4).then(|| {
            let p = &root / "depth";
            [
                conv(&p / "c1", 1, 8, 3, 2),
                conv(&p / "c2", 8, 16, 3, 2),
                conv(&p / "c3", 16, k3, 3, 2),
            ]
        });
        let net = Self {
            c1: conv(&root / "stem" / "c1", 3, k1, 3, 2),
            c2: conv(&root / "stem" / "c2", k1, k2, 3, 2),
            c3: conv(&root / "stem" / "c3", k2, k3, 3, 2),
            res: conv(&root / "stem" / "res", k3, k3, 3, 1),
            depth,
            pieces: nn::embedding(
                &root / "text" / "pieces",
                i64::from(cfg.text.buckets),
                d as i64,
                nn::EmbeddingConfig {
                    ws_init: nn::Init::Randn {
                        mean: 0.0,
                        stdev: 0.3,
                    },
                    ..Default::default()
                },
            ),
            word_pos: (&root / "text").var(
                "word_pos",
                &[cfg.text.max_words as i64, d as i64],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            span_box: linear(&root / "text" / "span_box", 4, d),
            span_lex: linear(&root / "text" / "span_lex", LEX_FEATURES, d),
            span_out: linear(&root / "text" / "span_out", d, d),
            paint: linear(&root / "text" / "paint", d, cfg.paint),
            fuse: conv(&root / "fuse" / "conv", k3 + cfg.paint, k3, 3, 1),
            film: linear(&root / "fuse" / "film", d, 2 * k3),
            down: conv(&root / "global" / "down", k3, d, 3, 2),
            grid_pos: (&root / "global").var(
                "grid_pos",
                &[g16 as i64, d as i64],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            type_emb: (&root / "global").var(
                "type_emb",
                &[3, d as i64],
                nn::Init::Randn {
                    mean: 0.0,
                    stdev: 0.02,
                },
            ),
            blocks: (0..cfg.layers)
                .map(|i| Block::new(&root / "global" / "blocks" / i, d, cfg.heads))
                .collect(),
            ln_f: nn::layer_norm(
                &root / "global" / "ln_f",
                vec![d as i64],
                nn::LayerNormConfig {
                    eps: LN_EPS,
                    ..Default::default()
                },
            ),
            up: conv(&root / "head" / "up", d, k3, 1, 1),
            mix: conv(&root / "head" / "mix", k3, k3, 3, 1),
            anchor_head: conv(&root / "head" / "anchor", k3, 1, 1, 1),
            target: conv(&root / "head" / "target", k3 + 1, k3, 3, 1),
            target_res: conv(&root / "head" / "target_res", k3, k3, 3, 1),
            patch_head: conv(&root / "head" / "patch", k3, 1, 1, 1),
            offset_head: conv(&root / "head" / "offset", k3, 2, 1, 1),
            span_fc: linear(&root / "head" / "span_fc", d + k3, d),
            span_head: linear(&root / "head" / "span", d, 1),
            relative: cfg.relative.then(|| {
                nn::linear(
                    &root / "head" / "relative",
                    d as i64,
                    RELATIVE_FEATURES as i64,
                    nn::LinearConfig {
                        ws_init: nn::Init::Const(0.0),
                        bs_init: Some(nn::Init::Const(0.0)),
                        bias: true,
                    },
                )
            }),
            nothing: cfg.nothing.then(|| {
                let f = d + LEX_FEATURES + 1;
                (
                    linear(&root / "head" / "nothing_fc", f, d),
                    nn::linear(
                        &root / "head" / "nothing",
                        d as i64,
                        1,
                        nn::LinearConfig {
                            ws_init: nn::Init::Const(0.0),
                            bs_init: Some(nn::Init::Const(NOTHING_START)),
                            bias: true,
                        },
                    ),
                )
            }),
            cfg: cfg.clone(),
            vs,
        };
        Ok(net)
    }

    pub fn config(&self) -> &PointerConfig {
        &self.cfg
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    /// Masked mean of piece embeddings: `ids [B, N, K]`, `mask [B, N, K]` → `[B, N, D]`.
    fn bag(&self, ids: &Tensor, mask: &Tensor) -> Tensor {
        let e = self.pieces.forward(ids) * mask.unsqueeze(-1);
        e.sum_dim_intlist(-2, false, Kind::Float)
            / mask.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1.0)
    }

    /// Patch extents `[x1, y1, x2, y2]`, each `[P]`, as fractions of the image (row-major,
    /// x fastest). The exporter writes these exact values as constants.
    pub fn patch_extents(&self, dev: Device) -> [Tensor; 4] {
        let (cols, rows) = self.cfg.grid();
        let xs = Tensor::arange(cols as i64, (Kind::Float, dev)) / cols as f64;
        let ys = Tensor::arange(rows as i64, (Kind::Float, dev)) / rows as f64;
        let px1 = xs.repeat([rows as i64]);
        let py1 = ys.repeat_interleave_self_int(cols as i64, None, None);
        let px2 = &px1 + 1.0 / cols as f64;
        let py2 = &py1 + 1.0 / rows as f64;
        [px1, py1, px2, py2]
    }

    /// Patch centres `[cx, cy]` (`[P]` each, fractions of the frame), the points the relative
    /// head measures offsets from.
    pub fn patch_centres(&self, dev: Device) -> [Tensor; 2] {
        let [px1, py1, px2, py2] = self.patch_extents(dev);
        [(px1 + px2) * 0.5, (py1 + py2) * 0.5]
    }

    /// Loads `earlier`'s weights (a run whose config this one [`PointerConfig::extends`]); a
    /// relative or nothing head `earlier` lacks keeps its start, so the model begins as
    /// `earlier`'s function (exactly with a new relative head, nearly with a new nothing head).
    pub fn load_from(&mut self, earlier: &PointerNet) -> Result<()> {
        self.load_named(crate::checkpoint::varstore_named(earlier.var_store()))
    }

    /// Loads named weights (a checkpoint's, or a package graph's initializers), keeping the
    /// starting values of the relative and nothing heads when `named` lacks them.
    pub fn load_named(&mut self, mut named: Vec<(String, Tensor)>) -> Result<()> {
        let has = |named: &[(String, Tensor)], n: &str| named.iter().any(|(k, _)| k == n);
        for (on, names, what) in [
            (self.relative.is_some(), &RELATIVE_WEIGHTS[..], "relative"),
            (self.nothing.is_some(), &NOTHING_WEIGHTS[..], "nothing"),
        ] {
            if on && !has(&named, names[0]) {
                named.extend(
                    crate::checkpoint::varstore_named(self.var_store())
                        .into_iter()
                        .filter(|(n, _)| names.contains(&n.as_str())),
                );
                tracing::info!(
                    head = what,
                    "the head starts fresh (the earlier weights have none)"
                );
            }
        }
        crate::checkpoint::load_into_varstore(self.var_store_mut(), &named)
    }

    /// Which patches each text candidate overlaps: `boxes [B, S, 4]` (fractions) → `[B, S, P]`.
    fn coverage(&self, boxes: &Tensor, valid: &Tensor) -> Tensor {
        let [px1, py1, px2, py2] = self.patch_extents(boxes.device());
        let b = |i: i64| boxes.narrow(2, i, 1); // [B, S, 1]
        let ox = b(0).lt_tensor(&px2).logical_and(&b(2).gt_tensor(&px1));
        let oy = b(1).lt_tensor(&py2).logical_and(&b(3).gt_tensor(&py1));
        ox.logical_and(&oy).to_kind(Kind::Float) * valid.unsqueeze(-1)
    }

    pub fn forward(&self, x: &PointerBatch) -> PointerOutput {
        let cfg = &self.cfg;
        let (cols, rows) = cfg.grid();
        let (cols, rows) = (cols as i64, rows as i64);
        let p = cols * rows;
        let b = x.pixels.size()[0];
        let d = cfg.hidden as i64;
        let k3 = cfg.conv[2] as i64;

        // 1. visual tokens
        let rgb = x.pixels.narrow(1, 0, 3);
        let v = self.c1.forward(&rgb).relu();
        let v = self.c2.forward(&v).relu();
        let mut v = self.c3.forward(&v).relu();
        if let Some([d1, d2, d3]) = &self.depth {
            let dep = x.pixels.narrow(1, 3, 1);
            let dd = d3
                .forward(&d2.forward(&d1.forward(&dep).relu()).relu())
                .relu();
            v += dd;
        }
        let v = &v + self.res.forward(&v).relu();

        // 2. text
        let words = self.bag(&x.instr_ids, &x.instr_mask) + &self.word_pos; // [B, L, D]
        let word_valid = x
            .instr_mask
            .sum_dim_intlist(-1, false, Kind::Float)
            .clamp_max(1.0); // [B, L]
        let q = (&words * word_valid.unsqueeze(-1)).sum_dim_intlist(1, false, Kind::Float)
            / word_valid
                .sum_dim_intlist(1, true, Kind::Float)
                .clamp_min(1.0); // [B, D]
        let spans = (self.bag(&x.span_ids, &x.span_mask)
            + self.span_box.forward(&x.span_boxes)
            + self.span_lex.forward(&x.span_feats))
        .relu();
        let spans = self.span_out.forward(&spans); // [B, S, D]
        let cov = self.coverage(&x.span_boxes, &x.span_valid); // [B, S, P]
        let painted = self
            .paint
            .forward(&spans)
            .transpose(1, 2)
            .matmul(&cov)
            .view([b, cfg.paint as i64, rows, cols]);

        // 3. fusion
        let f = self.fuse.forward(&Tensor::cat(&[&v, &painted], 1)).relu();
        let film = self.film.forward(&q).view([b, 2 * k3, 1, 1]);
        let f = &f * (film.narrow(1, 0, k3) + 1.0) + film.narrow(1, k3, k3);
        let g = self.down.forward(&f).relu(); // [B, D, rows/2, cols/2]
        let g_tok = g.flatten(2, 3).transpose(1, 2) + &self.grid_pos; // [B, G, D]
        let l = words.size()[1];
        let s = spans.size()[1];
        let seq = Tensor::cat(
            &[
                &words + self.type_emb.get(0),
                &spans + self.type_emb.get(1),
                &g_tok + self.type_emb.get(2),
            ],
            1,
        );
        let g_n = g_tok.size()[1];
        let key_valid = Tensor::cat(
            &[
                &word_valid,
                &x.span_valid,
                &Tensor::ones([b, g_n], (Kind::Float, x.pixels.device())),
            ],
            1,
        );
        let bias = ((key_valid - 1.0) * -MASK_BIAS).view([b, 1, 1, l + s + g_n]);
        let mut h = seq;
        for blk in &self.blocks {
            h = blk.forward(&h, &bias);
        }
        let h = self.ln_f.forward(&h);
        let span_state = h.narrow(1, l, s); // [B, S, D]
        let g_out = h
            .narrow(1, l + s, g_n)
            .transpose(1, 2)
            .view([b, d, rows / 2, 1, cols / 2, 1])
            .expand([b, d, rows / 2, 2, cols / 2, 2], false)
            .reshape([b, d, rows, cols]);
        let m = (&f + self.up.forward(&g_out)).relu();
        let m = self.mix.forward(&m).relu();

        // 4. anchor step, then target
        let anchor_logits = self.anchor_head.forward(&m).view([b, p]);
        let a = anchor_logits.softmax(-1, Kind::Float);
        let a = (&a / a.amax([1], true)).view([b, 1, rows, cols]);
        let t = self
            .target
            .forward(&Tensor::cat(&[&m, &a.detach()], 1))
            .relu();
        let t = &t + self.target_res.forward(&t).relu();
        let mut patch_logits = self.patch_head.forward(&t).view([b, p]);
        let offsets = self
            .offset_head
            .forward(&t)
            .tanh()
            .view([b, 2, p])
            .transpose(1, 2);

        // 5. text candidates: their state and the target features under their box
        let t_flat = t.view([b, k3, p]).transpose(1, 2); // [B, P, k3]
        let pooled =
            cov.matmul(&t_flat) / cov.sum_dim_intlist(-1, true, Kind::Float).clamp_min(1.0);
        let sh = self
            .span_fc
            .forward(&Tensor::cat(&[&span_state, &pooled], 2))
            .relu();
        let mut span_logits = self.span_head.forward(&sh).view([b, s]);

        // 6. anchor-relative geometry
        if let Some(rel) = &self.relative {
            let w = (rel.forward(&q) * RELATIVE_GAIN).unsqueeze(1); // [B, 1, F]
            let a = anchor_logits.softmax(-1, Kind::Float); // [B, P]
            let [cx, cy] = self.patch_centres(x.pixels.device()); // [P]
            let ax = (&a * &cx).sum_dim_intlist(-1, true, Kind::Float); // [B, 1]
            let ay = (&a * &cy).sum_dim_intlist(-1, true, Kind::Float);
            let score = |x: &Tensor, y: &Tensor| {
                let dx = (x - &ax) * RELATIVE_SCALE;
                let dy = (y - &ay) * RELATIVE_SCALE;
                let f = Tensor::stack(&[&dx, &dy, &(&dx * &dx), &(&dy * &dy)], 1); // [B, F, N]
                w.matmul(&f).squeeze_dim(1) // [B, N]
            };
            patch_logits = &patch_logits + score(&cx.unsqueeze(0), &cy.unsqueeze(0));
            let bx = |i: i64| x.span_boxes.narrow(2, i, 1).squeeze_dim(2); // [B, S]
            let scx = (bx(0) + bx(2)) * 0.5;
            let scy = (bx(1) + bx(3)) * 0.5;
            span_logits = &span_logits + score(&scx, &scy);
        }
        let span_logits =
            &span_logits * &x.span_valid + (1.0 - &x.span_valid) * f64::from(PAD_LOGIT);
        let mut logits = Tensor::cat(&[&patch_logits, &span_logits], 1);

        // 7. nothing: log-odds of "names nothing here" against all candidates together
        if let Some((fc, out)) = &self.nothing {
            let ws = h.narrow(1, 0, l) * word_valid.unsqueeze(-1);
            let ws = ws.sum_dim_intlist(1, false, Kind::Float)
                / word_valid
                    .sum_dim_intlist(1, true, Kind::Float)
                    .clamp_min(1.0); // [B, D]
            let lex = (&x.span_feats * x.span_valid.unsqueeze(-1)).amax([1], false); // [B, F]
            let peak = logits.softmax(-1, Kind::Float).amax([1], true).detach(); // [B, 1]
            let hid = fc.forward(&Tensor::cat(&[&ws, &lex, &peak], 1)).relu();
            let odds = out.forward(&hid) * NOTHING_GAIN; // [B, 1]
            let lse = logits.logsumexp([1], true);
            logits = Tensor::cat(&[&logits, &(lse + odds)], 1);
        }
        PointerOutput {
            logits,
            offsets,
            anchor_logits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn batch(cfg: &PointerConfig, b: i64) -> PointerBatch {
        let t = &cfg.text;
        let f = (Kind::Float, Device::Cpu);
        let (lw, kw, s, ks) = (
            t.max_words as i64,
            t.pieces_per_word as i64,
            t.max_candidates as i64,
            t.pieces_per_span as i64,
        );
        let valid = Tensor::zeros([b, s], f);
        let _ = valid.narrow(1, 0, 2).fill_(1.0);
        PointerBatch {
            pixels: Tensor::randn(
                [
                    b,
                    cfg.channels as i64,
                    i64::from(cfg.image_height),
                    i64::from(cfg.image_width),
                ],
                f,
            ),
            instr_ids: Tensor::randint(
                i64::from(t.buckets),
                [b, lw, kw],
                (Kind::Int64, Device::Cpu),
            ),
            instr_mask: Tensor::ones([b, lw, kw], f),
            span_ids: Tensor::randint(i64::from(t.buckets), [b, s, ks], (Kind::Int64, Device::Cpu)),
            span_mask: Tensor::ones([b, s, ks], f),
            span_boxes: Tensor::from_slice(&[0.1f32, 0.1, 0.3, 0.2])
                .view([1, 1, 4])
                .repeat([b, s, 1]),
            span_feats: Tensor::rand([b, s, 4], f),
            span_valid: valid,
        }
    }

    #[test]
    fn shapes_and_padding() {
        for channels in [3, 4] {
            let cfg = PointerConfig {
                channels,
                ..PointerConfig::micro()
            };
            let net = PointerNet::new(&cfg, Device::Cpu).unwrap();
            let out = net.forward(&batch(&cfg, 2));
            let p = cfg.patches() as i64;
            let s = cfg.text.max_candidates as i64;
            assert_eq!(out.logits.size(), [2, p + s]);
            assert_eq!(out.offsets.size(), [2, p, 2]);
            assert_eq!(out.anchor_logits.size(), [2, p]);
            // Padding candidates (all but the first two) are at PAD_LOGIT.
            let pad = out.logits.narrow(1, p + 2, s - 2);
            assert!(pad.eq(f64::from(PAD_LOGIT)).all().int64_value(&[]) == 1);
        }
    }

    #[test]
    fn unknown_size_is_an_error() {
        assert!(PointerConfig::preset("huge")
            .unwrap_err()
            .to_string()
            .contains("huge"));
    }

    #[test]
    fn the_relative_head_starts_as_the_model_without_it() {
        let plain = PointerConfig::micro();
        let rel = PointerConfig {
            relative: true,
            ..plain.clone()
        };
        assert!(rel.extends(&plain));
        assert!(!plain.extends(&rel));
        assert!(!rel.same_weights(&plain));
        let a = PointerNet::new(&plain, Device::Cpu).unwrap();
        let mut b = PointerNet::new(&rel, Device::Cpu).unwrap();
        b.load_from(&a).unwrap();
        let x = batch(&plain, 2);
        let (oa, ob) = (a.forward(&x), b.forward(&x));
        assert_eq!(
            f64::try_from((&oa.logits - &ob.logits).abs().max()).unwrap(),
            0.0
        );
        // Once its weights move, candidates left of the anchor's expected position gain
        // logit over those right of it (w_dx < 0: "left of").
        tch::no_grad(|| {
            let mut vars = b.var_store().variables();
            vars.get_mut("head.relative.bias")
                .unwrap()
                .copy_(&Tensor::from_slice(&[-2.0f32, 0.0, 0.0, 0.0]));
        });
        let d = (b.forward(&x).logits - oa.logits).narrow(1, 0, plain.patches() as i64);
        let (cols, _) = plain.grid();
        let first_row = Vec::<f32>::try_from(d.get(0).narrow(0, 0, cols as i64)).unwrap();
        assert!(first_row.windows(2).all(|w| w[0] > w[1]), "{first_row:?}");
    }

    #[test]
    fn keeping_more_candidates_keeps_the_weights() {
        let a = PointerConfig::small();
        assert_eq!((a.text.max_candidates, a.text.max_elements), (96, 32));
        let mut b = a.clone();
        b.text.max_candidates = 64;
        b.text.max_elements = 0;
        assert!(a.same_weights(&b));
        b.text.buckets = 4096;
        assert!(!a.same_weights(&b));
        assert!(!a.same_weights(&PointerConfig::micro()));
    }
}
