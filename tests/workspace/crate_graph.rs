//! Invariants of ARCHITECTURE.md, checked on the real dependency graph:
//! - `models` ← `runtime` ← `agents`; `models` ← `suites` ← `agents` (`reticle data gen`);
//!   `trainer` depends on `models` only (the suites are a dev-dependency of trainer and
//!   runtime, for tests and benches);
//! - runtime and agents never link libtorch (directly or transitively); trainer never links
//!   ONNX Runtime;
//! - plain `cargo build` at the root (`default-members`) needs no libtorch.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::util::root;

/// The host target triple, from `rustc -vV`.
fn host_triple() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("running rustc -vV")?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .map(str::to_owned)
        .context("rustc -vV printed no host line")
}

/// Normal (non-dev, non-build) dependency edges by package name, from `cargo metadata`.
fn graph() -> Result<BTreeMap<String, BTreeSet<String>>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only this host's dependencies: the graph for other platforms (xcap's and enigo's
    // macOS/Windows crates) is never downloaded on a Linux machine, and `--offline` cannot
    // fetch it.
    let host = host_triple()?;
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(root())
        .output()
        .context("running cargo metadata")?;
    if !out.status.success() {
        bail!(
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let meta: Value = serde_json::from_slice(&out.stdout)?;
    let names: BTreeMap<&str, &str> = meta["packages"]
        .as_array()
        .context("packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, p["name"].as_str()?)))
        .collect();
    let mut g = BTreeMap::new();
    for node in meta["resolve"]["nodes"]
        .as_array()
        .context("resolve.nodes")?
    {
        let name = names[node["id"].as_str().context("id")?].to_string();
        let deps: BTreeSet<String> = node["deps"]
            .as_array()
            .context("deps")?
            .iter()
            .filter(|d| {
                d["dep_kinds"]
                    .as_array()
                    .is_some_and(|ks| ks.iter().any(|k| k["kind"].is_null()))
            })
            .filter_map(|d| Some(names[d["pkg"].as_str()?].to_string()))
            .collect();
        g.insert(name, deps);
    }
    Ok(g)
}

fn transitive(g: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_string()];
    while let Some(n) = stack.pop() {
        for d in g.get(&n).into_iter().flatten() {
            if seen.insert(d.clone()) {
                stack.push(d.clone());
            }
        }
    }
    seen
}

fn reticle_deps(g: &BTreeMap<String, BTreeSet<String>>, of: &str) -> BTreeSet<String> {
    g[of]
        .iter()
        .filter(|d| d.starts_with("reticle-"))
        .cloned()
        .collect()
}

#[test]
fn direct_edges_between_reticle_crates() -> Result<()> {
    let g = graph()?;
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(reticle_deps(&g, "reticle-models"), set(&[]));
    assert_eq!(reticle_deps(&g, "reticle-suites"), set(&["reticle-models"]));
    assert_eq!(
        reticle_deps(&g, "reticle-runtime"),
        set(&["reticle-models"])
    );
    assert_eq!(
        reticle_deps(&g, "reticle-trainer"),
        set(&["reticle-models"])
    );
    assert_eq!(
        reticle_deps(&g, "reticle-agents"),
        set(&["reticle-models", "reticle-runtime", "reticle-suites"])
    );
    Ok(())
}

#[test]
fn native_dependencies_stay_where_they_belong() -> Result<()> {
    let g = graph()?;
    let torch = ["tch", "torch-sys"];
    let onnx = ["ort", "ort-sys"];
    for krate in [
        "reticle-models",
        "reticle-suites",
        "reticle-runtime",
        "reticle-agents",
    ] {
        let deps = transitive(&g, krate);
        for t in torch {
            assert!(
                !deps.contains(t),
                "{krate} must not link libtorch, but depends on {t}"
            );
        }
    }
    for krate in ["reticle-models", "reticle-suites", "reticle-trainer"] {
        let deps = transitive(&g, krate);
        for o in onnx {
            assert!(
                !deps.contains(o),
                "{krate} must not link ONNX Runtime, but depends on {o}"
            );
        }
    }
    // The models crate is the light contract: no async runtime, no HTTP, no GUI capture or input.
    let models = transitive(&g, "reticle-models");
    for heavy in ["tokio", "axum", "hyper", "xcap", "enigo"] {
        assert!(
            !models.contains(heavy),
            "reticle-models must stay light, but depends on {heavy}"
        );
    }
    Ok(())
}

#[test]
fn default_members_need_no_libtorch() -> Result<()> {
    let text = std::fs::read_to_string(root().join("Cargo.toml"))?;
    let manifest: toml::Table = toml::from_str(&text)?;
    let ws = manifest["workspace"].as_table().context("[workspace]")?;
    let members: Vec<&str> = ws["default-members"]
        .as_array()
        .context("default-members")?
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(!members.is_empty());
    assert!(
        !members.contains(&"trainer"),
        "default-members must not include the trainer"
    );
    for m in ["models", "suites", "runtime", "agents"] {
        assert!(members.contains(&m), "default-members must include {m}");
    }
    Ok(())
}

#[test]
fn every_crate_uses_workspace_lints_and_versions() -> Result<()> {
    for dir in ["models", "runtime", "trainer", "agents", "tests"] {
        let text = std::fs::read_to_string(root().join(dir).join("Cargo.toml"))?;
        let m: toml::Table = toml::from_str(&text)?;
        let pkg = m["package"].as_table().context("[package]")?;
        let name = pkg["name"].as_str().context("name")?;
        assert!(
            name.starts_with("reticle-"),
            "{dir}: package name {name} lacks the reticle- prefix"
        );
        assert_eq!(
            m.get("lints")
                .and_then(|l| l.get("workspace"))
                .and_then(|w| w.as_bool()),
            Some(true),
            "{dir}: add `[lints] workspace = true`"
        );
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            for (dep, spec) in m
                .get(section)
                .and_then(|s| s.as_table())
                .into_iter()
                .flatten()
            {
                let inherited = spec.get("workspace").and_then(|w| w.as_bool()) == Some(true);
                assert!(inherited, "{dir}: {section}.{dep} must use `workspace = true` (versions live once in the root)");
            }
        }
    }
    Ok(())
}
