//! The seam between the pipeline and a package's policy: one small trait, one implementation
//! per architecture in its own module (`grounder`: ReticleVLM, `pointer`: the pointer policy,
//! `qwen`: Qwen2-VL / Qwen2.5-VL packages),
//! chosen by the manifest's `architecture` in [`load`] and nowhere else.

use std::path::Path;

use reticle_models::elements::Components;
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
    /// declares no OCR stage), `components` the frame's edge components when a perception
    /// stage already found them. Depth has been checked against the package by the caller.
    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        spans: &[TextSpan],
        components: Option<&Components>,
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

/// The accessors of [`Policy`] that every policy answers with its own inherent methods.
macro_rules! forward_accessors {
    ($t:ident) => {
        fn manifest(&self) -> &Manifest {
            $t::manifest(self)
        }

        fn dir(&self) -> &Path {
            $t::dir(self)
        }

        fn provider(&self) -> Provider {
            $t::provider(self)
        }

        fn workers(&self) -> usize {
            $t::workers(self)
        }
    };
}

impl Policy for Grounder {
    forward_accessors!(Grounder);

    /// ReticleVLM reads pixels only: the spans are not part of its prompt.
    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        _spans: &[TextSpan],
        _components: Option<&Components>,
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        self.ground_with(frame.image, frame.depth, instruction, options)
    }
}

impl Policy for PointerPolicy {
    forward_accessors!(PointerPolicy);

    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        spans: &[TextSpan],
        components: Option<&Components>,
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        PointerPolicy::ground(
            self,
            frame.image,
            frame.depth,
            instruction,
            spans,
            components,
            options,
        )
    }
}

impl Policy for QwenPolicy {
    forward_accessors!(QwenPolicy);

    /// Qwen packages read pixels only: the spans are not part of the prompt.
    fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        _spans: &[TextSpan],
        _components: Option<&Components>,
        options: &DecodeOptions,
    ) -> Result<Grounding> {
        QwenPolicy::ground(self, frame.image, frame.depth, instruction, options)
    }
}
