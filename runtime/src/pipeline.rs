//! [`Pipeline`]: the one grounding pipeline. A frame (RGB/RGBA/BGRA pixels, optional 16-bit
//! depth) and an instruction → the perception stages the package declares → the policy → a
//! [`Grounding`] (answer in original pixels, spans when asked, timings per stage).
//!
//! Every caller — `reticle ground`, `reticle eval`, the desktop agent, the robot pipeline, the
//! service — goes through here, so a stage is added once. The policy is the one the manifest's
//! `architecture` names (`crate::policy`): ReticleVLM reads pixels only, the pointer policy
//! also scores the spans of the package's OCR stage. The checks that depend on the
//! package (depth for RGB-D models only, and always for them) live here too.

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use image::DynamicImage;
use reticle_models::elements::Components;
use reticle_models::manifest::{Channels, Manifest};
use reticle_models::preprocess::DepthRef;
use reticle_models::text::{OcrConfig, TextSpan};

use crate::error::{Error, Result};
use crate::grounder::{Grounding, ImageInput, LoadOptions};
use crate::perception::{IconReader, IncrementalReader, OcrFiles, ReaderOptions, TextReader};
use crate::policy::{self, Policy};
use crate::sampling::DecodeOptions;

/// What one call asks for besides the instruction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GroundOptions {
    pub decode: DecodeOptions,
    /// Return the text spans read on the frame. A package without an OCR stage reads them
    /// with the default reader (loaded on first use) only for this purpose.
    pub spans: bool,
}

impl GroundOptions {
    pub fn greedy() -> Self {
        Self {
            decode: DecodeOptions::greedy(),
            spans: false,
        }
    }
}

/// A frame to ground: pixels and, for RGB-D packages, the aligned depth.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    pub image: ImageInput<'a>,
    pub depth: Option<DepthRef<'a>>,
}

impl<'a> Frame<'a> {
    pub fn rgb(image: impl Into<ImageInput<'a>>) -> Self {
        Self {
            image: image.into(),
            depth: None,
        }
    }
}

/// [`Pipeline::screen_session`]: grounding on successive frames of one screen.
#[derive(Debug)]
pub struct ScreenSession<'a> {
    pipeline: &'a Pipeline,
    reader: Option<IncrementalReader>,
}

impl ScreenSession<'_> {
    /// [`Pipeline::ground`], with the text read incrementally from the previous frame.
    pub fn ground(
        &mut self,
        frame: Frame<'_>,
        instruction: &str,
        options: &GroundOptions,
    ) -> Result<Grounding> {
        self.pipeline.run(
            frame,
            instruction,
            options,
            Spans::Read(Some(&mut self.reader)),
        )
    }

    pub fn pipeline(&self) -> &Pipeline {
        self.pipeline
    }
}

/// Where a call's text spans come from.
enum Spans<'s, 'r> {
    /// Read by the perception stage (incrementally when a session's reader is given).
    Read(Option<&'r mut Option<IncrementalReader>>),
    /// Given by the caller.
    Given(&'s [TextSpan]),
}

/// A loaded package with its perception stages.
#[derive(Debug)]
pub struct Pipeline {
    policy: Box<dyn Policy>,
    /// The package's own text reader (its manifest declares `perception.ocr`).
    reader: Option<Arc<TextReader>>,
    /// The package's icon reader (`perception.icons`): its spans join the text the policy
    /// scores, whether read here or given by the caller.
    icons: Option<IconReader>,
    /// The default reader, loaded when spans are asked of a package without one.
    on_demand: OnceLock<std::result::Result<Arc<TextReader>, String>>,
    load: LoadOptions,
}

impl Pipeline {
    /// Loads the package in `dir` with one worker on `provider`.
    pub fn load(dir: &Path, provider: crate::Provider) -> Result<Self> {
        Self::load_with(
            dir,
            &LoadOptions {
                provider,
                ..LoadOptions::default()
            },
        )
    }

    /// Loads the policy graphs and the perception stages the manifest declares, on the same
    /// provider (an explicit CUDA request applies to every stage; nothing falls back).
    pub fn load_with(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let policy = policy::load(dir, opts)?;
        let reader =
            match &policy.manifest().perception.ocr {
                Some(stage) => {
                    let files = OcrFiles::find(&[dir], &stage.detector, &stage.recognizer)
                        .map_err(|e| Error::Package {
                            path: dir.to_path_buf(),
                            message: format!("perception.ocr: {e}"),
                        })?;
                    let reader = TextReader::load(
                        &files,
                        &stage.config,
                        &ReaderOptions {
                            // `auto` already chose for the policy; OCR follows it.
                            provider: policy.provider(),
                            intra_threads: opts.intra_threads,
                        },
                    )?;
                    Some(Arc::new(reader))
                }
                None => None,
            };
        let icons = match &policy.manifest().perception.icons {
            Some(stage) => Some(IconReader::load(
                dir,
                stage,
                &ReaderOptions {
                    provider: policy.provider(),
                    intra_threads: opts.intra_threads,
                },
            )?),
            None => None,
        };
        Ok(Self {
            policy,
            reader,
            icons,
            on_demand: OnceLock::new(),
            load: opts.clone(),
        })
    }

    pub fn manifest(&self) -> &Manifest {
        self.policy.manifest()
    }

    pub fn dir(&self) -> &Path {
        self.policy.dir()
    }

    pub fn provider(&self) -> crate::Provider {
        self.policy.provider()
    }

    pub fn workers(&self) -> usize {
        self.policy.workers()
    }

    /// The package's text reader, if its manifest declares one.
    pub fn reader(&self) -> Option<&Arc<TextReader>> {
        self.reader.as_ref()
    }

    /// The package's icon reader, if its manifest declares one.
    pub fn icons(&self) -> Option<&IconReader> {
        self.icons.as_ref()
    }

    /// Whether the package reads depth (RGB-D preprocessing).
    pub fn wants_depth(&self) -> bool {
        self.manifest().preprocess.channels == Channels::Rgbd
    }

    /// Grounds `instruction` in `frame`.
    pub fn ground(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        options: &GroundOptions,
    ) -> Result<Grounding> {
        self.run(frame, instruction, options, Spans::Read(None))
    }

    /// Grounds `instruction` in `frame` with text spans read elsewhere (in the frame's
    /// pixels, e.g. from `reticle data perceive`): the package's OCR stage does not run, and
    /// a pointer package scores these spans instead.
    pub fn ground_with_spans(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        spans: &[TextSpan],
        options: &GroundOptions,
    ) -> Result<Grounding> {
        self.run(frame, instruction, options, Spans::Given(spans))
    }

    /// A session for successive frames of one screen (the desktop agent's captures): the
    /// text reader runs incrementally — an unchanged screen is not read again, a changed one
    /// re-reads only the lines that changed — and gives what a full read gives.
    pub fn screen_session(&self) -> ScreenSession<'_> {
        ScreenSession {
            pipeline: self,
            reader: None,
        }
    }

    /// The reader a call needs: the package's own, or the default one when spans are asked
    /// of a package without an OCR stage.
    fn reader_for(&self, options: &GroundOptions) -> Result<Option<&Arc<TextReader>>> {
        match &self.reader {
            Some(r) => Ok(Some(r)),
            None if options.spans => self.on_demand_reader().map(Some),
            None => Ok(None),
        }
    }

    fn run(
        &self,
        frame: Frame<'_>,
        instruction: &str,
        options: &GroundOptions,
        source: Spans<'_, '_>,
    ) -> Result<Grounding> {
        self.manifest().check_depth_input(frame.depth.is_some())?;
        let t0 = Instant::now();
        let for_policy = matches!(source, Spans::Given(_)) || self.reader.is_some();
        let spans = match source {
            Spans::Given(given) => Some(given.to_vec()),
            Spans::Read(incremental) => match (self.reader_for(options)?, incremental) {
                (None, _) => None,
                (Some(reader), None) => Some(reader.read(frame.image)?.spans),
                (Some(reader), Some(slot)) => {
                    let inc =
                        slot.get_or_insert_with(|| IncrementalReader::new(Arc::clone(reader)));
                    Some(inc.read(frame.image)?.0.spans)
                }
            },
        };
        // Icons are named from the pixels and the text, read or given: the same spans either
        // way (`reticle data perceive --icons` writes what this adds).
        // The frame's edge components are found once: the icon reader's crops and the
        // pointer's element proposals both filter them.
        let mut components = None;
        let spans = match (spans, &self.icons) {
            (Some(s), Some(icons)) if for_policy => {
                let rgb = crate::perception::to_rgb(frame.image)?;
                let found = Components::find(&rgb);
                let with = icons.with_icons_in(&rgb, &found, &s)?;
                components = Some(found);
                Some(with)
            }
            (s, _) => s,
        };
        let perceive = if spans.is_some() {
            t0.elapsed()
        } else {
            Duration::ZERO
        };
        // The policy sees the package's own perception (or the caller's spans), never the
        // on-demand reader's: a package without an OCR stage was trained without text.
        let policy_spans = match &spans {
            Some(s) if for_policy => s.as_slice(),
            _ => &[],
        };
        let mut out = self.policy.ground(
            frame,
            instruction,
            policy_spans,
            components.as_ref(),
            &options.decode,
        )?;
        out.timings.perceive = perceive;
        if options.spans {
            out.spans = spans;
        }
        Ok(out)
    }

    /// [`Pipeline::ground`] on tokio's blocking pool, for async callers; `depth` is a
    /// 16-bit image and its scale in metres per unit.
    pub async fn ground_async(
        self: Arc<Self>,
        image: DynamicImage,
        depth: Option<(crate::depth::Depth16, f64)>,
        instruction: String,
        options: GroundOptions,
    ) -> Result<Grounding> {
        tokio::task::spawn_blocking(move || {
            let depth_ref = match &depth {
                Some((d, scale)) => Some(DepthRef::new(d.width(), d.height(), d.as_raw(), *scale)?),
                None => None,
            };
            let frame = Frame {
                image: ImageInput::Image(&image),
                depth: depth_ref,
            };
            self.ground(frame, &instruction, &options)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }

    fn on_demand_reader(&self) -> Result<&Arc<TextReader>> {
        let r = self.on_demand.get_or_init(|| {
            OcrFiles::default_files()
                .and_then(|files| {
                    TextReader::load(
                        &files,
                        &OcrConfig::default(),
                        &ReaderOptions {
                            provider: self.policy.provider(),
                            intra_threads: self.load.intra_threads,
                        },
                    )
                })
                .map(Arc::new)
                .map_err(|e| e.to_string())
        });
        r.as_ref().map_err(|e| Error::Ocr(e.clone()))
    }
}
