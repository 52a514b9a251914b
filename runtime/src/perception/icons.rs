//! [`IconReader`]: names the icons on a frame with the package's icon classifier
//! (`perception.icons`, `reticle_models::icons`) on ONNX Runtime, so the pointer can read an
//! icon as it reads a word. Crops come from the element proposals of icon size and the read
//! words of one or two characters; each crop the classifier names above the stage's threshold
//! becomes a span ("settings gear cog icon", `icon: "settings"`).

use std::path::Path;
use std::sync::Mutex;

use image::RgbImage;
use ort::session::Session;
use ort::value::TensorRef;
use reticle_models::elements::Components;
use reticle_models::icons::{crop_boxes, crop_input, icon_spans, IconStage, INPUT};
use reticle_models::text::TextSpan;

use super::files::sha256_file;
use super::reader::{open_session, ReaderOptions};
use crate::error::{Error, Result};
use crate::provider::Provider;

const IN: &str = "crops";
const OUT: &str = "probs";

/// The icon classifier of a package.
#[derive(Debug)]
pub struct IconReader {
    session: Mutex<Session>,
    stage: IconStage,
    provider: Provider,
}

impl IconReader {
    /// Opens `dir/<stage.model.file>` after checking its SHA-256 and its inputs and outputs.
    pub fn load(dir: &Path, stage: &IconStage, opts: &ReaderOptions) -> Result<Self> {
        let bad = |message: String| Error::Package {
            path: dir.to_path_buf(),
            message: format!("perception.icons: {message}"),
        };
        stage.validate().map_err(bad)?;
        let path = dir.join(&stage.model.file);
        if !path.is_file() {
            return Err(bad(format!("{} is missing", path.display())));
        }
        let got = sha256_file(&path)?;
        if got != stage.model.sha256 {
            return Err(bad(format!(
                "{} has SHA-256 {got}, the manifest says {}",
                path.display(),
                stage.model.sha256
            )));
        }
        crate::ort_lib::environment()?;
        // A few kilobytes of convolutions: the CPU is as fast as a GPU round trip.
        let provider = match opts.provider {
            Provider::Auto => Provider::Cpu,
            p => p,
        };
        let session = open_session(&path, provider, opts.intra_threads)?;
        let ins: Vec<&str> = session.inputs().iter().map(|o| o.name()).collect();
        let outs: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
        if ins != [IN] || outs != [OUT] {
            return Err(bad(format!(
                "{}: expected input `{IN}` and output `{OUT}`, found inputs {ins:?} and outputs {outs:?}",
                path.display()
            )));
        }
        tracing::info!(file = %path.display(), classes = stage.classes.len(), %provider, "icon reader loaded");
        Ok(Self {
            session: Mutex::new(session),
            stage: stage.clone(),
            provider,
        })
    }

    pub fn stage(&self) -> &IconStage {
        &self.stage
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// Class probabilities (`classes + 1` per crop, "other" last) of ink-map crops.
    pub fn classify(&self, crops: &[[f32; INPUT * INPUT]]) -> Result<Vec<f32>> {
        let k = self.stage.classes.len() + 1;
        if crops.is_empty() {
            return Ok(Vec::new());
        }
        let flat: Vec<f32> = crops.iter().flatten().copied().collect();
        let shape = [crops.len(), 1, INPUT, INPUT];
        let mut session = self
            .session
            .lock()
            .map_err(|_| Error::Ocr("a previous icon read panicked; reload the package".into()))?;
        let input = TensorRef::from_array_view((shape, &flat[..]))?;
        let outputs = session.run(ort::inputs![IN => input])?;
        let (shape, probs) = outputs[OUT].try_extract_tensor::<f32>()?;
        if shape.len() != 2 || shape[0] != crops.len() as i64 || shape[1] != k as i64 {
            return Err(Error::Output {
                graph: "icon reader",
                message: format!(
                    "output has shape {shape}, expected [{}, {k}] ({} classes and other)",
                    crops.len(),
                    k - 1
                ),
            });
        }
        Ok(probs.to_vec())
    }

    /// The icon spans of `rgb`, whose text was read as `spans` (icon spans among them are
    /// ignored: the icons are named again from the pixels).
    pub fn read(&self, rgb: &RgbImage, spans: &[TextSpan]) -> Result<Vec<TextSpan>> {
        self.read_in(rgb, &Components::find(rgb), spans)
    }

    /// [`IconReader::read`] given the frame's edge components ([`Components::find`] of `rgb`),
    /// for a caller that uses them again (the pipeline hands them to the pointer).
    pub fn read_in(
        &self,
        rgb: &RgbImage,
        components: &Components,
        spans: &[TextSpan],
    ) -> Result<Vec<TextSpan>> {
        let text: Vec<TextSpan> = spans.iter().filter(|s| s.icon.is_none()).cloned().collect();
        let boxes = crop_boxes(rgb, components, &text);
        let crops: Vec<[f32; INPUT * INPUT]> = boxes.iter().map(|b| crop_input(rgb, b)).collect();
        let probs = self.classify(&crops)?;
        Ok(icon_spans(&self.stage, &boxes, &probs))
    }

    /// `spans` without icon spans, then the icons of `rgb`.
    pub fn with_icons(&self, rgb: &RgbImage, spans: &[TextSpan]) -> Result<Vec<TextSpan>> {
        self.with_icons_in(rgb, &Components::find(rgb), spans)
    }

    /// [`IconReader::with_icons`] given the frame's edge components.
    pub fn with_icons_in(
        &self,
        rgb: &RgbImage,
        components: &Components,
        spans: &[TextSpan],
    ) -> Result<Vec<TextSpan>> {
        let mut out: Vec<TextSpan> = spans.iter().filter(|s| s.icon.is_none()).cloned().collect();
        out.extend(self.read_in(rgb, components, &out)?);
        Ok(out)
    }
}
