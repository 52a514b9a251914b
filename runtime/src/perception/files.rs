//! Locating the OCR graphs and checking them against their SHA-256.

use std::io::Read;
use std::path::{Path, PathBuf};

use reticle_models::manifest::ModelFile;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The reader's graphs (rapidocr 3.10's PP-OCRv6 small): file and SHA-256, from the contract.
pub use reticle_models::manifest::{
    PP_OCR_V6_DETECTOR as OCR_DETECTOR, PP_OCR_V6_RECOGNIZER as OCR_RECOGNIZER,
};

const SETUP_HINT: &str = "`scripts/setup.sh runtime` fetches it";

/// The two graphs of the text reader, found and verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OcrFiles {
    pub detector: PathBuf,
    pub recognizer: PathBuf,
}

impl OcrFiles {
    /// The default graphs (rapidocr 3.10's PP-OCRv6 small), found in the usual places.
    pub fn default_files() -> Result<Self> {
        Self::find(
            &[],
            &default_spec(OCR_DETECTOR),
            &default_spec(OCR_RECOGNIZER),
        )
    }

    /// Finds `detector` and `recognizer` by file name — in `extra_dirs` first (a package's
    /// folder), then `$RETICLE_OCR_DIR`, then the set-up cache — and checks their SHA-256.
    /// A file that is missing everywhere, or whose digest differs, is an error naming it.
    pub fn find(
        extra_dirs: &[&Path],
        detector: &ModelFile,
        recognizer: &ModelFile,
    ) -> Result<Self> {
        Ok(Self {
            detector: locate(extra_dirs, detector)?,
            recognizer: locate(extra_dirs, recognizer)?,
        })
    }
}

fn default_spec((file, sha256): (&str, &str)) -> ModelFile {
    ModelFile {
        file: file.to_string(),
        sha256: sha256.to_string(),
    }
}

/// The folders searched after a caller's own, in order.
pub(crate) fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("RETICLE_OCR_DIR") {
        dirs.push(PathBuf::from(d));
    }
    let cache = std::env::var_os("RETICLE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/reticle")));
    if let Some(cache) = cache {
        dirs.push(cache.join("ocr/rapidocr-3.10.0"));
    }
    dirs
}

fn locate(extra_dirs: &[&Path], spec: &ModelFile) -> Result<PathBuf> {
    let name = Path::new(&spec.file);
    if name.components().count() != 1 {
        return Err(Error::invalid(
            "OCR file",
            format!("{}: must be a bare file name", spec.file),
        ));
    }
    let mut looked = Vec::new();
    let dirs: Vec<PathBuf> = extra_dirs
        .iter()
        .map(|d| d.to_path_buf())
        .chain(search_dirs())
        .collect();
    for dir in &dirs {
        let path = dir.join(name);
        if path.is_file() {
            let got = sha256_file(&path)?;
            if !got.eq_ignore_ascii_case(&spec.sha256) {
                return Err(Error::Ocr(format!(
                    "{} has SHA-256 {got}, expected {} (a corrupt or different file; {SETUP_HINT} \
                     again after deleting it)",
                    path.display(),
                    spec.sha256
                )));
            }
            return Ok(path);
        }
        looked.push(dir.display().to_string());
    }
    Err(Error::Ocr(format!(
        "OCR file {} not found (looked in: {}); {SETUP_HINT}",
        spec.file,
        if looked.is_empty() {
            "nowhere: set RETICLE_OCR_DIR".to_string()
        } else {
            looked.join(", ")
        }
    )))
}

/// The hex SHA-256 of a file, read in 1 MiB blocks.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let err = |e: std::io::Error| Error::Ocr(format!("{}: {e}", path.display()));
    let mut f = std::fs::File::open(path).map_err(err)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(err)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_digest_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("det.onnx"), b"not a model").unwrap();
        let spec = ModelFile {
            file: "det.onnx".into(),
            sha256: "00".repeat(32),
        };
        let err = locate(&[dir.path()], &spec).unwrap_err().to_string();
        assert!(err.contains("det.onnx has SHA-256"), "{err}");
        assert!(err.contains("scripts/setup.sh runtime"), "{err}");
    }

    #[test]
    fn a_missing_file_says_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let spec = ModelFile {
            file: "nowhere-to-be-found.onnx".into(),
            sha256: "00".repeat(32),
        };
        let err = locate(&[dir.path()], &spec).unwrap_err().to_string();
        assert!(err.contains("nowhere-to-be-found.onnx not found"), "{err}");
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        let bad = ModelFile {
            file: "../x.onnx".into(),
            sha256: String::new(),
        };
        assert!(locate(&[], &bad).is_err());
    }
}
