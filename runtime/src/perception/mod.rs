//! Perception: reading the text on a screen with a pretrained OCR model (PP-OCRv6 small,
//! detection + recognition, from the `rapidocr` wheel) on ONNX Runtime.
//!
//! - [`OcrFiles`]: where the two graphs are (package folder, `$RETICLE_OCR_DIR`, the set-up
//!   cache) and the check of their SHA-256;
//! - [`TextReader`]: an image → [`TextSpan`]s (line box, text, score, word boxes), in the
//!   same ONNX Runtime environment and with the same provider rules as the grounder;
//! - [`IconReader`]: the package's icon classifier (`perception.icons`), which names icons
//!   as spans beside the read text;
//! - [`IncrementalReader`]: successive screenshots of one screen, re-reading only the tiles
//!   that changed.
//!
//! The pipeline, as PaddleOCR defines it: the detector (DB) gives a text probability map;
//! it is thresholded, dilated by 2×2 and split into connected components; each component's
//! box is scored by the mean probability inside it and expanded by `area · ratio /
//! perimeter`; each box is cropped, resized to height 48 and recognised (CTC, greedy,
//! blank first, space last). Screen text is upright, so boxes are axis-aligned and no angle
//! classifier runs.

mod det;
mod files;
mod frame;
mod icons;
mod incremental;
mod reader;
mod rec;

pub use files::{OcrFiles, OCR_DETECTOR, OCR_RECOGNIZER};
pub(crate) use frame::to_rgb;
pub use icons::IconReader;
pub use incremental::{IncrementalReader, IncrementalStats};
pub use reader::{ReadTimings, ReaderOptions, Reading, TextReader};
pub use reticle_models::text::OcrConfig;
pub use reticle_models::text::{TextSpan, Word};
