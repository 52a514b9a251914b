//! The ONNX graph of a [`PointerNet`] (`pointer.onnx`), written op by op to mirror its tch
//! forward pass (`model/pointer.rs`): the same weights under the same names, the same order
//! of operations and the same constants (patch extents computed by the model itself, the
//! layer-norm epsilon, the padding logit). Inputs and outputs are those of
//! `reticle_models::pointer`; only the batch dimension is symbolic.

use std::collections::{HashMap, HashSet};

use reticle_models::pointer::{INPUTS, LEX_FEATURES, OUTPUTS, PAD_LOGIT};
use tch::{Device, Tensor};

use super::onnx_builder::{attr_float, attr_int, attr_ints, model, Dim, Elem, GraphBuilder};
use super::proto::ModelProto;
use crate::checkpoint::varstore_named;
use crate::error::{Error, Result};
use crate::model::pointer::{
    PointerNet, LN_EPS, MASK_BIAS, NOTHING_GAIN, RELATIVE_GAIN, RELATIVE_SCALE,
};

const BATCH: &str = "batch_size";

struct Ctx<'a> {
    g: GraphBuilder,
    vars: &'a HashMap<String, Tensor>,
    added: HashSet<String>,
}

impl Ctx<'_> {
    fn w(&mut self, name: &str) -> Result<String> {
        if self.added.insert(name.to_string()) {
            let t = self.vars.get(name).ok_or_else(|| Error::Export {
                path: "pointer.onnx".into(),
                message: format!("the model has no variable `{name}`"),
            })?;
            self.g.initializer(name, t)?;
        }
        Ok(name.to_string())
    }

    fn op(&mut self, op: &str, inputs: &[&str]) -> Result<String> {
        self.g.node(op, inputs, vec![])
    }

    fn ints(&mut self, hint: &str, v: &[i64]) -> Result<String> {
        self.g.ints(hint, v)
    }

    fn f(&mut self, hint: &str, v: f32) -> Result<String> {
        self.g.scalar_f32(hint, v)
    }

    fn conv(&mut self, x: &str, prefix: &str, k: i64, stride: i64) -> Result<String> {
        let w = self.w(&format!("{prefix}.weight"))?;
        let b = self.w(&format!("{prefix}.bias"))?;
        let p = k / 2;
        self.g.node(
            "Conv",
            &[x, &w, &b],
            vec![
                attr_ints("kernel_shape", &[k, k]),
                attr_ints("strides", &[stride, stride]),
                attr_ints("pads", &[p, p, p, p]),
            ],
        )
    }

    fn relu(&mut self, x: &str) -> Result<String> {
        self.op("Relu", &[x])
    }

    /// `x @ W^T + b` (tch `nn::Linear`).
    fn linear(&mut self, x: &str, prefix: &str) -> Result<String> {
        let w = self.w(&format!("{prefix}.weight"))?;
        let b = self.w(&format!("{prefix}.bias"))?;
        let wt = self
            .g
            .node("Transpose", &[&w], vec![attr_ints("perm", &[1, 0])])?;
        let y = self.op("MatMul", &[x, &wt])?;
        self.op("Add", &[&y, &b])
    }

    fn layer_norm(&mut self, x: &str, prefix: &str) -> Result<String> {
        let w = self.w(&format!("{prefix}.weight"))?;
        let b = self.w(&format!("{prefix}.bias"))?;
        self.g.node(
            "LayerNormalization",
            &[x, &w, &b],
            vec![attr_int("axis", -1), attr_float("epsilon", LN_EPS as f32)],
        )
    }

    fn reshape(&mut self, x: &str, shape: &[i64]) -> Result<String> {
        let s = self.ints("shape", shape)?;
        self.op("Reshape", &[x, &s])
    }

    fn transpose(&mut self, x: &str, perm: &[i64]) -> Result<String> {
        self.g
            .node("Transpose", &[x], vec![attr_ints("perm", perm)])
    }

    fn slice(&mut self, x: &str, axis: i64, start: i64, end: i64) -> Result<String> {
        let s = self.ints("starts", &[start])?;
        let e = self.ints("ends", &[end])?;
        let a = self.ints("axes", &[axis])?;
        self.op("Slice", &[x, &s, &e, &a])
    }

    fn reduce_sum(&mut self, x: &str, axis: i64, keep: bool) -> Result<String> {
        let a = self.ints("axes", &[axis])?;
        self.g.node(
            "ReduceSum",
            &[x, &a],
            vec![attr_int("keepdims", i64::from(keep))],
        )
    }

    fn clip_min1(&mut self, x: &str) -> Result<String> {
        let one = self.f("one", 1.0)?;
        self.op("Clip", &[x, &one])
    }

    fn unsqueeze(&mut self, x: &str, axis: i64) -> Result<String> {
        let a = self.ints("axes", &[axis])?;
        self.op("Unsqueeze", &[x, &a])
    }

    fn concat(&mut self, xs: &[&str], axis: i64) -> Result<String> {
        self.g.node("Concat", xs, vec![attr_int("axis", axis)])
    }

    /// Masked mean of piece embeddings (`PointerNet::bag`).
    fn bag(&mut self, ids: &str, mask: &str) -> Result<String> {
        let table = self.w("text.pieces.weight")?;
        let e = self
            .g
            .node("Gather", &[&table, ids], vec![attr_int("axis", 0)])?;
        let m = self.unsqueeze(mask, -1)?;
        let e = self.op("Mul", &[&e, &m])?;
        let num = self.reduce_sum(&e, -2, false)?;
        let den = self.reduce_sum(mask, -1, true)?;
        let den = self.clip_min1(&den)?;
        self.op("Div", &[&num, &den])
    }

    fn gelu(&mut self, x: &str) -> Result<String> {
        let r = self.f("inv_sqrt2", std::f32::consts::FRAC_1_SQRT_2)?;
        let half = self.f("half", 0.5)?;
        let one = self.f("one", 1.0)?;
        let xs = self.op("Mul", &[x, &r])?;
        let e = self.op("Erf", &[&xs])?;
        let e = self.op("Add", &[&e, &one])?;
        let y = self.op("Mul", &[x, &e])?;
        self.op("Mul", &[&y, &half])
    }

    fn block(
        &mut self,
        x: &str,
        bias: &str,
        prefix: &str,
        t: i64,
        d: i64,
        heads: i64,
    ) -> Result<String> {
        let dh = d / heads;
        let h = self.layer_norm(x, &format!("{prefix}.ln1"))?;
        let qkv = self.linear(&h, &format!("{prefix}.qkv"))?;
        let qkv = self.reshape(&qkv, &[0, t, 3, heads, dh])?;
        let qkv = self.transpose(&qkv, &[2, 0, 3, 1, 4])?;
        let mut parts = Vec::new();
        for i in 0..3 {
            let idx = self.g.const_i64("idx", &[], &[i])?;
            parts.push(
                self.g
                    .node("Gather", &[&qkv, &idx], vec![attr_int("axis", 0)])?,
            );
        }
        let kt = self.transpose(&parts[1], &[0, 1, 3, 2])?;
        let s = self.op("MatMul", &[&parts[0], &kt])?;
        let scale = self.f("sqrt_dh", (dh as f64).sqrt() as f32)?;
        let s = self.op("Div", &[&s, &scale])?;
        let s = self.op("Add", &[&s, bias])?;
        let a = self.g.node("Softmax", &[&s], vec![attr_int("axis", -1)])?;
        let y = self.op("MatMul", &[&a, &parts[2]])?;
        let y = self.transpose(&y, &[0, 2, 1, 3])?;
        let y = self.reshape(&y, &[0, t, d])?;
        let y = self.linear(&y, &format!("{prefix}.proj"))?;
        let x = self.op("Add", &[x, &y])?;
        let h = self.layer_norm(&x, &format!("{prefix}.ln2"))?;
        let h = self.linear(&h, &format!("{prefix}.fc1"))?;
        let h = self.gelu(&h)?;
        let h = self.linear(&h, &format!("{prefix}.fc2"))?;
        self.op("Add", &[&x, &h])
    }
}

/// Writes the pointer graph of `net`.
pub fn pointer_graph(net: &PointerNet) -> Result<ModelProto> {
    let cfg = net.config();
    let vars: HashMap<String, Tensor> = varstore_named(net.var_store()).into_iter().collect();
    let mut c = Ctx {
        g: GraphBuilder::new("pointer"),
        vars: &vars,
        added: HashSet::new(),
    };
    let t = &cfg.text;
    let (cols, rows) = cfg.grid();
    let (cols, rows) = (cols as i64, rows as i64);
    let p = cols * rows;
    let (lw, kw, s, ks) = (
        t.max_words as i64,
        t.pieces_per_word as i64,
        t.max_candidates as i64,
        t.pieces_per_span as i64,
    );
    let d = cfg.hidden as i64;
    let k3 = cfg.conv[2] as i64;
    let (r2, c2) = (rows / 2, cols / 2);
    let gn = r2 * c2;
    let b = Dim::Sym(BATCH);
    let fx = Dim::Fixed;
    let pixels = c.g.input(
        INPUTS[0],
        Elem::F32,
        &[
            b.clone(),
            fx(cfg.channels as i64),
            fx(i64::from(cfg.image_height)),
            fx(i64::from(cfg.image_width)),
        ],
    )?;
    let instr_ids =
        c.g.input(INPUTS[1], Elem::I64, &[b.clone(), fx(lw), fx(kw)])?;
    let instr_mask =
        c.g.input(INPUTS[2], Elem::F32, &[b.clone(), fx(lw), fx(kw)])?;
    let span_ids =
        c.g.input(INPUTS[3], Elem::I64, &[b.clone(), fx(s), fx(ks)])?;
    let span_mask =
        c.g.input(INPUTS[4], Elem::F32, &[b.clone(), fx(s), fx(ks)])?;
    let span_boxes =
        c.g.input(INPUTS[5], Elem::F32, &[b.clone(), fx(s), fx(4)])?;
    let span_feats = c.g.input(
        INPUTS[6],
        Elem::F32,
        &[b.clone(), fx(s), fx(LEX_FEATURES as i64)],
    )?;
    let span_valid = c.g.input(INPUTS[7], Elem::F32, &[b.clone(), fx(s)])?;

    // 1. visual tokens
    let rgb = if cfg.channels == 4 {
        c.slice(&pixels, 1, 0, 3)?
    } else {
        pixels.clone()
    };
    let v = c.conv(&rgb, "stem.c1", 3, 2)?;
    let v = c.relu(&v)?;
    let v = c.conv(&v, "stem.c2", 3, 2)?;
    let v = c.relu(&v)?;
    let v = c.conv(&v, "stem.c3", 3, 2)?;
    let mut v = c.relu(&v)?;
    if cfg.channels == 4 {
        let dep = c.slice(&pixels, 1, 3, 4)?;
        let mut dd = dep;
        for name in ["depth.c1", "depth.c2", "depth.c3"] {
            dd = c.conv(&dd, name, 3, 2)?;
            dd = c.relu(&dd)?;
        }
        v = c.op("Add", &[&v, &dd])?;
    }
    let r = c.conv(&v, "stem.res", 3, 1)?;
    let r = c.relu(&r)?;
    let v = c.op("Add", &[&v, &r])?;

    // 2. text
    let words = c.bag(&instr_ids, &instr_mask)?;
    let wp = c.w("text.word_pos")?;
    let words = c.op("Add", &[&words, &wp])?;
    let wv = c.reduce_sum(&instr_mask, -1, false)?;
    let one = c.f("one", 1.0)?;
    let word_valid = c.op("Clip", &[&wv, "", &one])?;
    let wv3 = c.unsqueeze(&word_valid, -1)?;
    let qn = c.op("Mul", &[&words, &wv3])?;
    let qn = c.reduce_sum(&qn, 1, false)?;
    let qd = c.reduce_sum(&word_valid, 1, true)?;
    let qd = c.clip_min1(&qd)?;
    let q = c.op("Div", &[&qn, &qd])?;
    let sb = c.bag(&span_ids, &span_mask)?;
    let sbox = c.linear(&span_boxes, "text.span_box")?;
    let slex = c.linear(&span_feats, "text.span_lex")?;
    let sp = c.op("Add", &[&sb, &sbox])?;
    let sp = c.op("Add", &[&sp, &slex])?;
    let sp = c.relu(&sp)?;
    let spans = c.linear(&sp, "text.span_out")?;
    // coverage [B, S, P]
    let ext = net.patch_extents(Device::Cpu);
    let mut e = Vec::new();
    for (i, name) in ["px1", "py1", "px2", "py2"].iter().enumerate() {
        let vals = Vec::<f32>::try_from(&ext[i])?;
        e.push(c.g.const_f32(name, &[p], &vals)?);
    }
    let bx: Vec<String> = (0..4)
        .map(|i| c.slice(&span_boxes, 2, i, i + 1))
        .collect::<Result<_>>()?;
    let ox1 = c.op("Less", &[&bx[0], &e[2]])?;
    let ox2 = c.op("Greater", &[&bx[2], &e[0]])?;
    let ox = c.op("And", &[&ox1, &ox2])?;
    let oy1 = c.op("Less", &[&bx[1], &e[3]])?;
    let oy2 = c.op("Greater", &[&bx[3], &e[1]])?;
    let oy = c.op("And", &[&oy1, &oy2])?;
    let o = c.op("And", &[&ox, &oy])?;
    let o = c.g.node("Cast", &[&o], vec![attr_int("to", 1)])?;
    let sv3 = c.unsqueeze(&span_valid, -1)?;
    let cov = c.op("Mul", &[&o, &sv3])?;
    let pt = c.linear(&spans, "text.paint")?;
    let pt = c.transpose(&pt, &[0, 2, 1])?;
    let pt = c.op("MatMul", &[&pt, &cov])?;
    let painted = c.reshape(&pt, &[0, cfg.paint as i64, rows, cols])?;

    // 3. fusion
    let f = c.concat(&[&v, &painted], 1)?;
    let f = c.conv(&f, "fuse.conv", 3, 1)?;
    let f = c.relu(&f)?;
    let film = c.linear(&q, "fuse.film")?;
    let film = c.reshape(&film, &[0, 2 * k3, 1, 1])?;
    let gamma = c.slice(&film, 1, 0, k3)?;
    let beta = c.slice(&film, 1, k3, 2 * k3)?;
    let gamma = c.op("Add", &[&gamma, &one])?;
    let f = c.op("Mul", &[&f, &gamma])?;
    let f = c.op("Add", &[&f, &beta])?;
    let g = c.conv(&f, "global.down", 3, 2)?;
    let g = c.relu(&g)?;
    let g = c.reshape(&g, &[0, d, gn])?;
    let g = c.transpose(&g, &[0, 2, 1])?;
    let gp = c.w("global.grid_pos")?;
    let g_tok = c.op("Add", &[&g, &gp])?;
    let te = c.w("global.type_emb")?;
    let mut typed = Vec::new();
    for (i, x) in [&words, &spans, &g_tok].into_iter().enumerate() {
        let idx = c.g.const_i64("idx", &[], &[i as i64])?;
        let ti =
            c.g.node("Gather", &[&te, &idx], vec![attr_int("axis", 0)])?;
        typed.push(c.op("Add", &[x, &ti])?);
    }
    let seq = c.concat(&[&typed[0], &typed[1], &typed[2]], 1)?;
    // key validity: words, candidates, then every grid token
    let shape = c.op("Shape", &[&word_valid])?;
    let bdim = c.slice(&shape, 0, 0, 1)?;
    let gdim = c.ints("g", &[gn])?;
    let oshape = c.concat(&[&bdim, &gdim], 0)?;
    let ones = c.g.const_f32("ones", &[1, gn], &vec![1.0; gn as usize])?;
    let ones = c.op("Expand", &[&ones, &oshape])?;
    let kv = c.concat(&[&word_valid, &span_valid, &ones], 1)?;
    let kv = c.op("Sub", &[&kv, &one])?;
    let mb = c.f("mask_bias", (-MASK_BIAS) as f32)?;
    let kv = c.op("Mul", &[&kv, &mb])?;
    let tlen = lw + s + gn;
    let bias = c.reshape(&kv, &[0, 1, 1, tlen])?;
    let mut h = seq;
    for i in 0..cfg.layers {
        h = c.block(
            &h,
            &bias,
            &format!("global.blocks.{i}"),
            tlen,
            d,
            cfg.heads as i64,
        )?;
    }
    let h = c.layer_norm(&h, "global.ln_f")?;
    let span_state = c.slice(&h, 1, lw, lw + s)?;
    let go = c.slice(&h, 1, lw + s, tlen)?;
    let go = c.transpose(&go, &[0, 2, 1])?;
    let go = c.reshape(&go, &[0, d, r2, 1, c2, 1])?;
    let rep = c.ints("rep", &[1, 1, 1, 2, 1, 2])?;
    let go = c.op("Expand", &[&go, &rep])?;
    let go = c.reshape(&go, &[0, d, rows, cols])?;
    let up = c.conv(&go, "head.up", 1, 1)?;
    let m = c.op("Add", &[&f, &up])?;
    let m = c.relu(&m)?;
    let m = c.conv(&m, "head.mix", 3, 1)?;
    let m = c.relu(&m)?;

    // 4. anchor, then target
    let al = c.conv(&m, "head.anchor", 1, 1)?;
    let anchor_logits = c.reshape(&al, &[0, p])?;
    let a_soft =
        c.g.node("Softmax", &[&anchor_logits], vec![attr_int("axis", -1)])?;
    let amax = c.g.node(
        "ReduceMax",
        &[&a_soft],
        vec![attr_ints("axes", &[1]), attr_int("keepdims", 1)],
    )?;
    let a = c.op("Div", &[&a_soft, &amax])?;
    let a = c.reshape(&a, &[0, 1, rows, cols])?;
    let tt = c.concat(&[&m, &a], 1)?;
    let tt = c.conv(&tt, "head.target", 3, 1)?;
    let tt = c.relu(&tt)?;
    let tr = c.conv(&tt, "head.target_res", 3, 1)?;
    let tr = c.relu(&tr)?;
    let tt = c.op("Add", &[&tt, &tr])?;
    let pl = c.conv(&tt, "head.patch", 1, 1)?;
    let mut patch_logits = c.reshape(&pl, &[0, p])?;
    let off = c.conv(&tt, "head.offset", 1, 1)?;
    let off = c.op("Tanh", &[&off])?;
    let off = c.reshape(&off, &[0, 2, p])?;
    let offsets = c.transpose(&off, &[0, 2, 1])?;

    // 5. text candidates
    let tf = c.reshape(&tt, &[0, k3, p])?;
    let tf = c.transpose(&tf, &[0, 2, 1])?;
    let pooled = c.op("MatMul", &[&cov, &tf])?;
    let cs = c.reduce_sum(&cov, -1, true)?;
    let cs = c.clip_min1(&cs)?;
    let pooled = c.op("Div", &[&pooled, &cs])?;
    let sh = c.concat(&[&span_state, &pooled], 2)?;
    let sh = c.linear(&sh, "head.span_fc")?;
    let sh = c.relu(&sh)?;
    let sl = c.linear(&sh, "head.span")?;
    let mut sl = c.reshape(&sl, &[0, s])?;

    // 6. anchor-relative geometry
    if cfg.relative {
        let w = c.linear(&q, "head.relative")?;
        let gain = c.f("relative_gain", RELATIVE_GAIN as f32)?;
        let w = c.op("Mul", &[&w, &gain])?;
        let w = c.unsqueeze(&w, 1)?; // [B, 1, F]
                                     // Patch centres are constants, computed here as the model computes them.
        let [cx, cy] = net.patch_centres(Device::Cpu);
        let cx = c.g.const_f32("pcx", &[1, p], &Vec::<f32>::try_from(&cx)?)?;
        let cy = c.g.const_f32("pcy", &[1, p], &Vec::<f32>::try_from(&cy)?)?;
        let half = c.f("half", 0.5)?;
        let ax = c.op("Mul", &[&a_soft, &cx])?;
        let ax = c.reduce_sum(&ax, -1, true)?;
        let ay = c.op("Mul", &[&a_soft, &cy])?;
        let ay = c.reduce_sum(&ay, -1, true)?;
        let scale = c.f("relative_scale", RELATIVE_SCALE as f32)?;
        let score = |c: &mut Ctx<'_>, x: &str, y: &str| -> Result<String> {
            let dx = c.op("Sub", &[x, &ax])?;
            let dx = c.op("Mul", &[&dx, &scale])?;
            let dy = c.op("Sub", &[y, &ay])?;
            let dy = c.op("Mul", &[&dy, &scale])?;
            let dx2 = c.op("Mul", &[&dx, &dx])?;
            let dy2 = c.op("Mul", &[&dy, &dy])?;
            let parts = [&dx, &dy, &dx2, &dy2]
                .into_iter()
                .map(|t| c.unsqueeze(t, 1))
                .collect::<Result<Vec<_>>>()?;
            let f = c.concat(&[&parts[0], &parts[1], &parts[2], &parts[3]], 1)?; // [B, F, N]
            let sc = c.op("MatMul", &[&w, &f])?;
            c.reshape(&sc, &[0, -1])
        };
        let ps = score(&mut c, &cx, &cy)?;
        patch_logits = c.op("Add", &[&patch_logits, &ps])?;
        let scx = c.op("Add", &[&bx[0], &bx[2]])?;
        let scx = c.op("Mul", &[&scx, &half])?;
        let scx = c.reshape(&scx, &[0, s])?;
        let scy = c.op("Add", &[&bx[1], &bx[3]])?;
        let scy = c.op("Mul", &[&scy, &half])?;
        let scy = c.reshape(&scy, &[0, s])?;
        let ss = score(&mut c, &scx, &scy)?;
        sl = c.op("Add", &[&sl, &ss])?;
    }
    let sl = c.op("Mul", &[&sl, &span_valid])?;
    let inv = c.op("Sub", &[&one, &span_valid])?;
    let pad = c.f("pad_logit", PAD_LOGIT)?;
    let inv = c.op("Mul", &[&inv, &pad])?;
    let sl = c.op("Add", &[&sl, &inv])?;
    let mut logits = c.concat(&[&patch_logits, &sl], 1)?;

    // 7. nothing: log-odds of "names nothing here" against all candidates together
    if cfg.nothing {
        let ws = c.slice(&h, 1, 0, lw)?;
        let ws = c.op("Mul", &[&ws, &wv3])?;
        let ws = c.reduce_sum(&ws, 1, false)?;
        let ws = c.op("Div", &[&ws, &qd])?;
        let lex = c.op("Mul", &[&span_feats, &sv3])?;
        let lex = c.g.node(
            "ReduceMax",
            &[&lex],
            vec![attr_ints("axes", &[1]), attr_int("keepdims", 0)],
        )?;
        let soft =
            c.g.node("Softmax", &[&logits], vec![attr_int("axis", -1)])?;
        let peak = c.g.node(
            "ReduceMax",
            &[&soft],
            vec![attr_ints("axes", &[1]), attr_int("keepdims", 1)],
        )?;
        let feats = c.concat(&[&ws, &lex, &peak], 1)?;
        let hid = c.linear(&feats, "head.nothing_fc")?;
        let hid = c.relu(&hid)?;
        let odds = c.linear(&hid, "head.nothing")?;
        let gain = c.f("nothing_gain", NOTHING_GAIN as f32)?;
        let odds = c.op("Mul", &[&odds, &gain])?;
        let lse = c.g.node(
            "ReduceLogSumExp",
            &[&logits],
            vec![attr_ints("axes", &[1]), attr_int("keepdims", 1)],
        )?;
        let nothing = c.op("Add", &[&lse, &odds])?;
        logits = c.concat(&[&logits, &nothing], 1)?;
    }
    let n_logits = p + s + i64::from(cfg.nothing);

    c.g.output(OUTPUTS[0], &logits, Elem::F32, &[b.clone(), fx(n_logits)])?;
    c.g.output(OUTPUTS[1], &offsets, Elem::F32, &[b.clone(), fx(p), fx(2)])?;
    c.g.output(OUTPUTS[2], &anchor_logits, Elem::F32, &[b, fx(p)])?;
    if let Some(unused) = vars.keys().find(|k| !c.added.contains(*k)) {
        return Err(Error::Export {
            path: "pointer.onnx".into(),
            message: format!("variable `{unused}` is not used by the exported graph"),
        });
    }
    Ok(model(c.g.finish(), "reticle pointer policy"))
}
