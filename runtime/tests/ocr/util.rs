use std::sync::{Arc, OnceLock};

use image::RgbImage;
use reticle_models::geometry::BBox;
use reticle_models::text::{find_label, OcrConfig, TextSpan};
use reticle_runtime::perception::{OcrFiles, ReaderOptions, TextReader};
use reticle_runtime::Provider;
use reticle_suites::{self as suites, SuiteConfig, SuiteKind};

/// One reader for the whole test binary (loading takes ~0.3 s).
pub fn reader() -> Arc<TextReader> {
    static READER: OnceLock<Arc<TextReader>> = OnceLock::new();
    READER
        .get_or_init(|| {
            let files =
                OcrFiles::default_files().expect("the OCR graphs (run scripts/setup.sh runtime)");
            Arc::new(
                TextReader::load(
                    &files,
                    &OcrConfig::default(),
                    &ReaderOptions {
                        provider: Provider::Cpu,
                        intra_threads: Some(2),
                    },
                )
                .expect("load the text reader"),
            )
        })
        .clone()
}

/// A `ui` screen of the given size and scale, with the labels drawn on it.
pub fn ui_screen(
    seed: u64,
    index: usize,
    size: [u32; 2],
    scale: f32,
) -> (RgbImage, Vec<(String, BBox)>) {
    let mut cfg = SuiteConfig::new(SuiteKind::Ui, index + 1, seed);
    cfg.ui.resolutions = vec![size];
    cfg.ui.other_resolution_rate = 0.0;
    cfg.ui.scales = vec![scale];
    let s = suites::sample_with(&cfg, index).expect("render a ui screen");
    let texts = s.record.meta.as_ref().and_then(|m| m.get("texts")).cloned();
    let labels = texts
        .and_then(|t| t.as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter_map(|t| {
            let text = t.get("text")?.as_str()?.to_string();
            if !reticle_models::text::is_label(&text) {
                return None;
            }
            let b: BBox = serde_json::from_value(t.get("box")?.clone()).ok()?;
            Some((text, b))
        })
        .collect();
    (s.image, labels)
}

/// The share of labels read exactly, and the mean IoU of the found ones.
pub fn recall(spans: &[TextSpan], labels: &[(String, BBox)]) -> (usize, usize, f64) {
    let mut found = 0;
    let mut iou = 0.0;
    for (text, truth) in labels {
        if let Some(b) = find_label(spans, text) {
            found += 1;
            iou += truth.iou(&b);
        }
    }
    (found, labels.len(), iou / found.max(1) as f64)
}
