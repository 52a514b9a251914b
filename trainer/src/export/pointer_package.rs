//! The package of a pointer run: `pointer.onnx`, `model.json` (architecture `pointer`, the
//! pointer section, the PP-OCRv6 stage named by file and SHA-256), `weights.safetensors` and
//! the model card; plus the tch-vs-ONNX Runtime parity check of the pointer graph.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use reticle_models::geometry::{BBox, CoordFrame};
use reticle_models::manifest::{Architecture, Manifest, OcrStage, Perception, FORMAT, VERSION};
use reticle_models::pointer::{text_inputs, PointerSpec, LEX_FEATURES};
use reticle_models::text::{TextSpan, Word};
use tch::{Device, Kind, Tensor};

use super::onnx_builder::{self, OPSET};
use super::package::{trained_tasks, CARD_FILE, WEIGHTS_FILE};
use super::parity::{run_checker_script, tools_python, ParityReport};
use crate::checkpoint::{self, load_into_varstore};
use crate::config::TrainConfig;
use crate::error::{Error, Result};
use crate::model::pointer::{PointerBatch, PointerNet};

/// The graph file of a pointer package.
pub const GRAPH_FILE: &str = "pointer.onnx";
/// The checker script, also committed as `trainer/tests/export/check_pointer_onnx.py`.
pub const CHECK_SCRIPT: &str = include_str!("../../tests/export/check_pointer_onnx.py");

/// A trained pointer policy and where it came from.
#[derive(Debug)]
pub struct TrainedPointer {
    pub cfg: TrainConfig,
    pub model: PointerNet,
    pub step: u64,
    pub run_root: PathBuf,
}

fn run_root_of(source: &Path) -> Option<PathBuf> {
    if source.join("config.toml").is_file() {
        return Some(source.to_path_buf());
    }
    source
        .parent()
        .and_then(Path::parent)
        .filter(|r| r.join("config.toml").is_file())
        .map(Path::to_path_buf)
}

/// Whether `source` (a run or one of its checkpoints) holds a pointer policy.
pub fn is_pointer_source(source: &Path) -> Result<bool> {
    let Some(root) = run_root_of(source) else {
        return Ok(false);
    };
    let path = root.join("config.toml");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    Ok(TrainConfig::from_toml(&text)?.model.architecture == Architecture::Pointer)
}

/// Loads a pointer run's last checkpoint, or the given checkpoint folder, on the CPU.
pub fn load_source(source: &Path) -> Result<TrainedPointer> {
    let run_root = run_root_of(source).ok_or_else(|| Error::Export {
        path: source.to_path_buf(),
        message: "is neither a run directory nor a checkpoint folder of one".into(),
    })?;
    let (cfg, mut model, mut step) = crate::pointer::load_trained(&run_root, Device::Cpu)?;
    if run_root != source {
        let ck = checkpoint::load_checkpoint(source)?;
        load_into_varstore(model.var_store_mut(), &ck.model)?;
        step = ck.step;
    }
    Ok(TrainedPointer {
        cfg,
        model,
        step,
        run_root,
    })
}

/// The manifest of a pointer package.
pub fn build_manifest(t: &TrainedPointer, name: &str) -> Result<Manifest> {
    let m = t.model.config();
    let manifest = Manifest {
        format: FORMAT.into(),
        version: VERSION,
        name: name.to_string(),
        description: format!(
            "Pointer policy ({}) trained with reticle-trainer to step {}",
            t.cfg.model.size, t.step
        ),
        architecture: Architecture::Pointer,
        graphs: None,
        pointer: Some(PointerSpec {
            graph: GRAPH_FILE.into(),
            cell: m.cell,
            text: m.text.clone(),
            nothing: m.nothing,
            nothing_bias: 0.0,
        }),
        decoder: None,
        qwen: None,
        preprocess: crate::data::preprocess_spec(
            &t.cfg.prep,
            (m.image_width, m.image_height, m.channels),
        ),
        coord_frame: CoordFrame::Norm1000,
        prompt: None,
        special_tokens: None,
        max_new_tokens: None,
        tokenizer: None,
        weights: Some(WEIGHTS_FILE.into()),
        card: Some(CARD_FILE.into()),
        opset: OPSET,
        tasks: trained_tasks(&t.cfg.data.train),
        perception: Perception {
            ocr: Some(OcrStage::pp_ocr_v6()),
            // Added after export by `reticle-train icons --install` (the icon reader is
            // trained apart from the policy).
            icons: None,
        },
    };
    manifest.validate().map_err(|message| Error::Export {
        path: t.run_root.clone(),
        message: format!("the manifest would be invalid: {message}"),
    })?;
    Ok(manifest)
}

/// Writes every file of the package into `dir`.
pub fn fill(t: &TrainedPointer, dir: &Path, name: &str) -> Result<()> {
    let manifest = build_manifest(t, name)?;
    let graph = super::pointer::pointer_graph(&t.model)?;
    let bytes = onnx_builder::encode(&graph);
    tracing::info!(file = GRAPH_FILE, bytes = bytes.len(), "writing graph");
    reticle_models::fsutil::write_atomic(&dir.join(GRAPH_FILE), &bytes)?;
    if let Some(w) = &manifest.weights {
        Tensor::write_safetensors(
            &checkpoint::varstore_named(t.model.var_store()),
            dir.join(w),
        )?;
    }
    if let Some(card) = &manifest.card {
        reticle_models::fsutil::write_atomic(
            &dir.join(card),
            model_card(t, &manifest)?.as_bytes(),
        )?;
    }
    manifest.save(dir)?;
    Ok(())
}

fn model_card(t: &TrainedPointer, manifest: &Manifest) -> Result<String> {
    let m = t.model.config();
    let (cols, rows) = m.grid();
    let params: i64 = t
        .model
        .var_store()
        .variables()
        .values()
        .map(|v| v.numel() as i64)
        .sum();
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n\n{}.\n", manifest.name, manifest.description);
    let _ = writeln!(
        s,
        "A reticle pointer package: one ONNX graph (`{GRAPH_FILE}`, opset {}) that scores \
         {cols}×{rows} image patches and up to {} text candidates read by PP-OCRv6, and \
         clicks the best one (a patch's centre moved by its offset, or a text box's centre).\n",
        manifest.opset, m.text.max_candidates
    );
    let _ = writeln!(s, "| | |\n|---|---|");
    let _ = writeln!(
        s,
        "| input | {}x{} {:?}, stretch resize |",
        m.image_width, m.image_height, manifest.preprocess.channels
    );
    let _ = writeln!(s, "| patches | {cols}×{rows} of {} px |", m.cell);
    let _ = writeln!(
        s,
        "| model | conv {:?}, hidden {}, {} layers × {} heads |",
        m.conv, m.hidden, m.layers, m.heads
    );
    let _ = writeln!(s, "| parameters | {params} |");
    let _ = writeln!(s, "| exported step | {} |", t.step);
    let config = t.cfg.to_toml()?;
    let _ = writeln!(
        s,
        "\nConfiguration (`config.toml` of the run):\n\n```toml\n{config}```"
    );
    Ok(s)
}

/// Seeded parity inputs for `net`: two rows with different instructions and spans.
pub fn parity_batch(net: &PointerNet, seed: i64) -> PointerBatch {
    let cfg = net.config();
    tch::manual_seed(seed);
    let span = |text: &str, x: f64| TextSpan {
        icon: None,
        text: text.into(),
        bbox: BBox::new(x, 20.0, x + 90.0, 40.0),
        score: 0.9,
        words: text
            .split(' ')
            .enumerate()
            .map(|(i, w)| Word {
                text: w.into(),
                bbox: BBox::new(x + 40.0 * i as f64, 20.0, x + 40.0 * i as f64 + 35.0, 40.0),
            })
            .collect(),
    };
    let rows = [
        (
            "click the Save button",
            vec![span("Save", 10.0), span("Cancel", 200.0)],
        ),
        (
            "toggle Keep me signed in",
            vec![span("Keep me signed in", 50.0)],
        ),
    ];
    let inputs: Vec<_> = rows
        .iter()
        .map(|(i, s)| text_inputs(i, s, &[], 400, 300, &cfg.text))
        .collect();
    let t = &cfg.text;
    let (lw, kw, s, ks) = (
        t.max_words as i64,
        t.pieces_per_word as i64,
        t.max_candidates as i64,
        t.pieces_per_span as i64,
    );
    let cat_i = |f: &dyn Fn(&reticle_models::pointer::TextInputs) -> &[i64], shape: &[i64]| {
        let v: Vec<i64> = inputs.iter().flat_map(|x| f(x).iter().copied()).collect();
        Tensor::from_slice(&v).view(shape)
    };
    let cat_f = |f: &dyn Fn(&reticle_models::pointer::TextInputs) -> &[f32], shape: &[i64]| {
        let v: Vec<f32> = inputs.iter().flat_map(|x| f(x).iter().copied()).collect();
        Tensor::from_slice(&v).view(shape)
    };
    PointerBatch {
        pixels: Tensor::randn(
            [
                2,
                cfg.channels as i64,
                i64::from(cfg.image_height),
                i64::from(cfg.image_width),
            ],
            (Kind::Float, Device::Cpu),
        ),
        instr_ids: cat_i(&|x| &x.instr_ids, &[2, lw, kw]),
        instr_mask: cat_f(&|x| &x.instr_mask, &[2, lw, kw]),
        span_ids: cat_i(&|x| &x.span_ids, &[2, s, ks]),
        span_mask: cat_f(&|x| &x.span_mask, &[2, s, ks]),
        span_boxes: cat_f(&|x| &x.span_boxes, &[2, s, 4]),
        span_feats: cat_f(&|x| &x.span_feats, &[2, s, LEX_FEATURES as i64]),
        span_valid: cat_f(&|x| &x.span_valid, &[2, s]),
    }
}

/// Runs `net` (tch, CPU) on seeded inputs, writes them with its outputs to `work_dir`, and
/// checks `package`'s graph against them with ONNX Runtime.
pub fn check_package(
    net: &PointerNet,
    package: &Path,
    work_dir: &Path,
    tolerance: f64,
) -> Result<ParityReport> {
    let python = tools_python()?;
    let b = parity_batch(net, 0);
    let out = tch::no_grad(|| net.forward(&b));
    let named: Vec<(&str, Tensor)> = vec![
        ("pixel_values", b.pixels.shallow_clone()),
        ("instr_ids", b.instr_ids.shallow_clone()),
        ("instr_mask", b.instr_mask.shallow_clone()),
        ("span_ids", b.span_ids.shallow_clone()),
        ("span_mask", b.span_mask.shallow_clone()),
        ("span_boxes", b.span_boxes.shallow_clone()),
        ("span_feats", b.span_feats.shallow_clone()),
        ("span_valid", b.span_valid.shallow_clone()),
        ("expected_logits", out.logits.to_device(Device::Cpu)),
        ("expected_offsets", out.offsets.to_device(Device::Cpu)),
        (
            "expected_anchor_logits",
            out.anchor_logits.to_device(Device::Cpu),
        ),
    ];
    let fixture = work_dir.join("pointer_parity.npz");
    let named: Vec<(&str, Tensor)> = named
        .into_iter()
        .map(|(n, t)| (n, t.contiguous()))
        .collect();
    Tensor::write_npz(&named, &fixture)?;
    run_checker_script(
        &python,
        ("check_pointer_onnx.py", CHECK_SCRIPT),
        package,
        &fixture,
        tolerance,
    )
}
