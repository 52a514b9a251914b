//! Where the shipped default model package is found when a command gets no `--model`.
//!
//! Search order: `$RETICLE_MODEL`, then `models/default` in the current directory, then the
//! `models/default` folder of the checkout this binary was built from (baked in at build
//! time, like the ONNX Runtime path). The first folder holding a `model.json` wins.

use std::path::{Path, PathBuf};

/// The environment variable that names the default package.
pub const MODEL_ENV: &str = "RETICLE_MODEL";

/// `models/default`, relative to the working directory.
pub const RELATIVE_DEFAULT: &str = "models/default";

/// The folders tried, in order, with where each one came from.
pub fn model_candidates() -> Vec<(PathBuf, &'static str)> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os(MODEL_ENV).filter(|p| !p.is_empty()) {
        out.push((PathBuf::from(p), "$RETICLE_MODEL"));
    }
    out.push((PathBuf::from(RELATIVE_DEFAULT), "./models/default"));
    let built = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(RELATIVE_DEFAULT);
    out.push((built, "the checkout reticle was built from"));
    out
}

/// The model package to use: `explicit` when given, else the shipped default.
pub fn model_dir(explicit: Option<&Path>) -> crate::Result<PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    let candidates = model_candidates();
    // `$RETICLE_MODEL` set to a folder without a package is an error, not a silent fallback.
    if let Some((p, "$RETICLE_MODEL")) = candidates.first() {
        if !p.join("model.json").is_file() {
            return Err(crate::Error::NoModel(format!(
                "$RETICLE_MODEL is {} but that folder has no model.json",
                p.display()
            )));
        }
    }
    candidates
        .iter()
        .find(|(p, _)| p.join("model.json").is_file())
        .map(|(p, _)| p.clone())
        .ok_or_else(|| {
            let tried: Vec<String> = candidates
                .iter()
                .map(|(p, why)| format!("{} ({why})", p.display()))
                .collect();
            crate::Error::NoModel(format!(
                "no --model given and no default package found; tried {}",
                tried.join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_model_wins() {
        let p = Path::new("/some/where");
        assert_eq!(model_dir(Some(p)).unwrap(), p);
    }

    #[test]
    fn candidates_end_with_the_build_checkout() {
        let c = model_candidates();
        assert!(c.last().unwrap().0.ends_with("models/default"));
    }
}
