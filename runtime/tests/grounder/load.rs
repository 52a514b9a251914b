//! Loading: every way a package can be wrong gets an error that names the problem.

use anyhow::Result;
use reticle_runtime::{Grounder, Provider};

use crate::util::{self, Fixture};

fn load_err(dir: &std::path::Path) -> String {
    match Grounder::load(dir, Provider::Cpu) {
        Ok(_) => panic!("loading {} should fail", dir.display()),
        Err(e) => e.to_string(),
    }
}

fn check(err: &str, needles: &[&str]) {
    for n in needles {
        assert!(err.contains(n), "expected `{n}` in: {err}");
    }
}

#[test]
fn a_missing_file_is_named() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    std::fs::remove_file(pkg.path().join("embed_tokens.onnx"))?;
    check(&load_err(pkg.path()), &["missing file embed_tokens.onnx"]);
    Ok(())
}

#[test]
fn a_renamed_graph_input_or_output_is_named_with_what_the_graph_has() -> Result<()> {
    let fx = Fixture {
        rename: serde_json::json!({"decoder_model_merged.onnx": {"position_ids": "pos_ids"}}),
        ..Fixture::default()
    };
    let pkg = util::package(&fx)?;
    check(
        &load_err(pkg.path()),
        &[
            "decoder_model_merged.onnx has no input `position_ids`",
            "inputs: inputs_embeds, attention_mask, pos_ids",
        ],
    );
    let fx = Fixture {
        rename: serde_json::json!({"decoder_model_merged.onnx": {"present.1.value": "present_1_v"}}),
        ..Fixture::default()
    };
    let pkg = util::package(&fx)?;
    check(
        &load_err(pkg.path()),
        &[
            "decoder_model_merged.onnx has no output `present.1.value`",
            "present_1_v",
        ],
    );
    Ok(())
}

#[test]
fn a_wrong_element_type_or_size_is_named() -> Result<()> {
    let fx = Fixture {
        input_ids_int32: true,
        ..Fixture::default()
    };
    let pkg = util::package(&fx)?;
    check(
        &load_err(pkg.path()),
        &["embed_tokens.onnx input `input_ids` has element type i32, expected i64"],
    );
    // The manifest promises 5 image tokens; the graph makes 4.
    let pkg = util::package(&Fixture::default())?;
    let mut m = util::manifest(reticle_models::grammar::Mode::Direct);
    if let Some(d) = m.decoder.as_mut() {
        d.num_image_tokens = 5;
    }
    m.save(pkg.path())?;
    check(
        &load_err(pkg.path()),
        &[
            "vision_encoder.onnx output `image_features` has size 4 on axis 1",
            "says 5",
        ],
    );
    Ok(())
}

#[test]
fn a_corrupt_onnx_file_is_named() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    let path = pkg.path().join("decoder_model_merged.onnx");
    let bytes = std::fs::read(&path)?;
    std::fs::write(&path, &bytes[..bytes.len() / 3])?;
    check(
        &load_err(pkg.path()),
        &["cannot load decoder_model_merged.onnx"],
    );
    std::fs::write(&path, b"not a protobuf at all")?;
    check(
        &load_err(pkg.path()),
        &["cannot load decoder_model_merged.onnx"],
    );
    Ok(())
}

#[test]
fn an_unknown_manifest_version_is_refused() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    let path = pkg.path().join("model.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
    v["version"] = 9.into();
    std::fs::write(&path, v.to_string())?;
    check(
        &load_err(pkg.path()),
        &["manifest version 9 is not supported"],
    );
    Ok(())
}

#[test]
fn a_tokenizer_without_the_special_tokens_is_refused() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    let mut m = util::manifest(reticle_models::grammar::Mode::Direct);
    if let Some(st) = m.special_tokens.as_mut() {
        st.bos = "<s>".into();
    }
    m.save(pkg.path())?;
    check(
        &load_err(pkg.path()),
        &["tokenizer.json", "token `<s>` is not in the vocabulary"],
    );
    Ok(())
}

#[test]
fn explicit_cuda_is_an_error_or_really_cuda_never_a_cpu_fallback() -> Result<()> {
    let pkg = util::package(&Fixture::default())?;
    reticle_runtime::ort_lib::load()?;
    match Grounder::load(pkg.path(), Provider::Cuda(0)) {
        Ok(g) => {
            assert!(reticle_runtime::provider::cuda_in_library());
            assert_eq!(g.provider(), Provider::Cuda(0));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("execution provider cuda:"), "{msg}");
        }
    }
    // `auto` always loads and reports a concrete provider.
    let g = Grounder::load(pkg.path(), Provider::Auto)?;
    assert_ne!(g.provider(), Provider::Auto);
    Ok(())
}
