//! `icons.onnx`: the classifier as an ONNX graph (`crops [N, 1, 32, 32]` → `probs [N, K + 1]`,
//! softmax), its manifest entry, and a parity fixture (crops and tch's probabilities) the
//! runtime's test compares ONNX Runtime with.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};
use tch::{nn, Device, Kind, Tensor};

use super::data::IconSet;
use super::model::{probabilities, IconNet, CHANNELS};
use crate::error::{Error, Result};
use crate::export::onnx_builder::{self, attr_int, attr_ints, Dim, Elem, GraphBuilder};
use reticle_models::icons::{IconClass, IconStage, INPUT};
use reticle_models::manifest::ModelFile;

/// The graph's file name in a package.
pub const ICONS_FILE: &str = "icons.onnx";
/// The parity fixture's file name beside it.
pub const PARITY_FILE: &str = "icons-parity.json";

/// What [`export_stage`] wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportedStage {
    pub stage: IconStage,
    pub parity_crops: usize,
}

#[derive(Serialize)]
struct Parity<'a> {
    /// The graph these probabilities came from (its SHA-256).
    sha256: &'a str,
    classes: &'a [IconClass],
    crops: Vec<Vec<f32>>,
    probs: Vec<Vec<f32>>,
}

fn graph(vars: &HashMap<String, Tensor>) -> Result<GraphBuilder> {
    let mut g = GraphBuilder::new("reticle-icons");
    let w = |g: &mut GraphBuilder, name: &str| -> Result<String> {
        let t = vars.get(name).ok_or_else(|| Error::Export {
            path: ICONS_FILE.into(),
            message: format!("the model has no variable `{name}`"),
        })?;
        g.initializer(name, t)
    };
    let mut h = g.input(
        "crops",
        Elem::F32,
        &[
            Dim::Sym("n"),
            Dim::Fixed(1),
            Dim::Fixed(INPUT as i64),
            Dim::Fixed(INPUT as i64),
        ],
    )?;
    let pools = [true, true, false, true, false];
    for (i, pool) in pools.iter().enumerate().take(CHANNELS.len()) {
        let wt = w(&mut g, &format!("conv{i}.weight"))?;
        let b = w(&mut g, &format!("conv{i}.bias"))?;
        h = g.node(
            "Conv",
            &[&h, &wt, &b],
            vec![
                attr_ints("kernel_shape", &[3, 3]),
                attr_ints("pads", &[1, 1, 1, 1]),
            ],
        )?;
        h = g.node("Relu", &[&h], vec![])?;
        if *pool {
            h = g.node(
                "MaxPool",
                &[&h],
                vec![
                    attr_ints("kernel_shape", &[2, 2]),
                    attr_ints("strides", &[2, 2]),
                ],
            )?;
        }
    }
    h = g.node("GlobalAveragePool", &[&h], vec![])?;
    h = g.node("Flatten", &[&h], vec![attr_int("axis", 1)])?;
    let fw = w(&mut g, "fc.weight")?;
    let fb = w(&mut g, "fc.bias")?;
    let ft = g.node("Transpose", &[&fw], vec![attr_ints("perm", &[1, 0])])?;
    h = g.node("MatMul", &[&h, &ft], vec![])?;
    h = g.node("Add", &[&h, &fb], vec![])?;
    let p = g.node("Softmax", &[&h], vec![attr_int("axis", -1)])?;
    let outputs = vars.get("fc.bias").map_or(0, |b| b.size()[0]);
    g.output(
        "probs",
        &p,
        Elem::F32,
        &[Dim::Sym("n"), Dim::Fixed(outputs)],
    )?;
    Ok(g)
}

/// Writes `icons.onnx` and `icons-parity.json` (the first `parity` crops of `check`) into
/// `out` (which must exist) and returns the manifest entry.
pub fn export_stage(
    vs: &nn::VarStore,
    net: &IconNet,
    classes: &[IconClass],
    threshold: f32,
    check: &IconSet,
    parity: usize,
    out: &Path,
) -> Result<ExportedStage> {
    let vars: HashMap<String, Tensor> = vs
        .variables()
        .into_iter()
        .map(|(k, v)| (k, v.to_device(Device::Cpu).to_kind(Kind::Float)))
        .collect();
    let g = graph(&vars)?;
    let model = onnx_builder::model(
        g.finish(),
        "reticle icon reader: crops [N,1,32,32] -> probs [N,K+1]",
    );
    onnx_builder::write_model(model, out, ICONS_FILE, u64::MAX)?;
    let path = out.join(ICONS_FILE);
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let sha256 = format!("{:x}", Sha256::digest(&bytes));
    // The parity fixture: crops spread over the check set.
    let n = parity.min(check.len());
    let step = (check.len() / n.max(1)).max(1);
    let picked: Vec<usize> = (0..n).map(|i| i * step).collect();
    let sub = IconSet {
        classes: check.classes.clone(),
        crops: picked
            .iter()
            .flat_map(|&i| {
                check.crops[i * INPUT * INPUT..(i + 1) * INPUT * INPUT]
                    .iter()
                    .copied()
            })
            .collect(),
        labels: picked.iter().map(|&i| check.labels[i]).collect(),
    };
    let probs = probabilities(net, &sub, vs.device())?;
    let k = net.outputs as usize;
    let fixture = Parity {
        sha256: &sha256,
        classes,
        crops: (0..n).map(|i| sub.crop(i).collect()).collect(),
        probs: probs.chunks_exact(k).map(<[f32]>::to_vec).collect(),
    };
    let json = serde_json::to_vec(&fixture).map_err(|e| Error::Export {
        path: out.join(PARITY_FILE),
        message: e.to_string(),
    })?;
    reticle_models::fsutil::write_atomic(&out.join(PARITY_FILE), &json)?;
    Ok(ExportedStage {
        stage: IconStage {
            model: ModelFile {
                file: ICONS_FILE.into(),
                sha256,
            },
            classes: classes.to_vec(),
            threshold,
        },
        parity_crops: n,
    })
}
