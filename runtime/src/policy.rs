//! The seam between the pipeline and a package's policy: one small trait, one implementation
//! per architecture in its own module (`grounder`: ReticleVLM, `pointer`: the pointer policy,
//! `qwen`: Qwen2-VL / Qwen2.5-VL packages),
//! chosen by the manifest's `architecture` in [`load`] and nowhere else.

use std::path::Path;

use reticle_models::manifest::{Architecture, Manifest};
use reticle_models::text::TextSpan;

use crate::error::Result;
use crate::grounder::{Grounder, Grounding, LoadOptions};
use crate::pipeline::Frame;
use crate::pointer::PointerPolicy;
use crate::provider::Provider;
use crate::qwen::QwenPolicy;
use crate::sampling::DecodeOptions;

/// A loaded policy: a frame, an instruction and the text read on the frame → a grounding.
pub(crate) trait Policy: Send + Sync + std::fmt::Debug {
    fn manifest(&self) -> &Manifest;
    fn dir(&self) -> &Path;
    /// The provider really in use (never `auto`).
    fn provider(&self) -> Provider;
    fn workers(&self) -> usize;
    /// Grounds `instruction`; `spans` are the package's perception output (empty when it
    /// declares no OCR stage). Depth has been checked against the package by the caller.
    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        spans: &[TextSpan],
        options: &DecodeOptions,
    ) -> Result<Grounding>;
}

/// Loads the policy the package in `dir` names.
pub(crate) fn load(dir: &Path, opts: &LoadOptions) -> Result<Box<dyn Policy>> {
    let manifest = Manifest::load(dir)?;
    Ok(match manifest.architecture {
        Architecture::ReticleVlm => Box::new(Grounder::load_with(dir, opts)?),
        Architecture::Pointer => Box::new(PointerPolicy::load_with(dir, opts)?),
        Architecture::Qwen2Vl => Box::new(QwenPolicy::load_with(dir, opts)?),
    })
}

impl Policy for Grounder {
    fn manifest(&self) -> &Manifest {
        Grounder::manifest(self)
    }

    fn dir(&self) -> &Path {
        Grounder::dir(self)
    }

    fn provider(&self) -> Provider {
        Grounder::provider(self)
    }

    fn workers(&self) -> usize {
        Grounder::workers(self)
    }

    /// ReticleVLM reads pixels only: the spans are not part of its prompt.
    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        _spans: &[TextSpan],
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        self.ground_with(frame.image, frame.depth, instruction, options)
    }
}

impl Policy for PointerPolicy {
    fn manifest(&self) -> &Manifest {
        PointerPolicy::manifest(self)
    }

    fn dir(&self) -> &Path {
        PointerPolicy::dir(self)
    }

    fn provider(&self) -> Provider {
        PointerPolicy::provider(self)
    }

    fn workers(&self) -> usize {
        PointerPolicy::workers(self)
    }

    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        spans: &[TextSpan],
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        PointerPolicy::ground(self, frame.image, frame.depth, instruction, spans, options)
    }
}

impl Policy for QwenPolicy {
    fn manifest(&self) -> &Manifest {
        QwenPolicy::manifest(self)
    }

    fn dir(&self) -> &Path {
        QwenPolicy::dir(self)
    }

    fn provider(&self) -> Provider {
        QwenPolicy::provider(self)
    }

    fn workers(&self) -> usize {
        QwenPolicy::workers(self)
    }

    /// Qwen packages read pixels only: the spans are not part of the prompt.
    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        _spans: &[TextSpan],
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        QwenPolicy::ground(self, frame.image, frame.depth, instruction, options)
    }
}
