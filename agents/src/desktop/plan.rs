//! Scripted mode: a plan of steps, run in order.
//!
//! A plan is either plain text, one instruction per line (blank lines and lines starting with
//! `#` are skipped; every step is a left click), or JSON — an array of steps, or an object
//! with `steps` and optional `timeout_s` (how long to wait for the screen to change after
//! each step, default 10) — where a step is an instruction string or an object:
//!
//! ```json
//! {"timeout_s": 5, "steps": [
//!   "click File",
//!   {"instruction": "click the Name field", "action": "double", "type": "report.txt"},
//!   {"instruction": "press Save", "wait": false}
//! ]}
//! ```
//!
//! `wait` (default true) makes the runner wait, after acting, until the screen differs from
//! the screenshot the step was grounded on, before the next step captures again.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::act::Action;
use super::error::{Error, Result};

/// Default wait for the screen to change after a step.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One step of a plan (or the single step of `reticle desktop do`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub instruction: String,
    #[serde(default)]
    pub action: Action,
    /// Text typed after the action.
    #[serde(default, rename = "type")]
    pub type_text: Option<String>,
    /// Wait for the screen to change after acting.
    #[serde(default = "yes")]
    pub wait: bool,
}

fn yes() -> bool {
    true
}

impl Step {
    pub fn click(instruction: &str) -> Self {
        Self {
            instruction: instruction.to_string(),
            action: Action::Click,
            type_text: None,
            wait: true,
        }
    }
}

/// A parsed plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub steps: Vec<Step>,
    pub timeout: Duration,
}

/// One step of a JSON plan: an instruction string or a [`Step`] object.
fn step_from_json(idx: usize, v: serde_json::Value) -> std::result::Result<Step, String> {
    match v {
        serde_json::Value::String(i) => Ok(Step::click(&i)),
        v @ serde_json::Value::Object(_) => {
            serde_json::from_value(v).map_err(|e| format!("step {}: {e}", idx + 1))
        }
        other => Err(format!(
            "step {}: {other} is neither an instruction string nor a step object",
            idx + 1
        )),
    }
}

impl Plan {
    /// Reads a plan file (see the module docs for the formats).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| reticle_models::Error::io(path, e))?;
        Self::parse(&text).map_err(|m| Error::Plan(format!("{}: {m}", path.display())))
    }

    /// Parses plan text; the error message names the line or the JSON position.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let trimmed = text.trim_start();
        let plan = if trimmed.starts_with('[') || trimmed.starts_with('{') {
            let v: serde_json::Value = serde_json::from_str(text)
                .map_err(|e| format!("line {}, column {}: {e}", e.line(), e.column()))?;
            let (specs, timeout_s) = match v {
                serde_json::Value::Array(steps) => (steps, None),
                serde_json::Value::Object(mut o) => {
                    let timeout_s = match o.remove("timeout_s") {
                        None => None,
                        Some(t) => Some(
                            t.as_f64()
                                .ok_or_else(|| format!("timeout_s {t} is not a number"))?,
                        ),
                    };
                    let steps = match o.remove("steps") {
                        Some(serde_json::Value::Array(s)) => s,
                        _ => return Err("a plan object needs a `steps` array".into()),
                    };
                    if let Some(k) = o.keys().next() {
                        return Err(format!(
                            "unknown plan field `{k}` (fields: steps, timeout_s)"
                        ));
                    }
                    (steps, timeout_s)
                }
                other => {
                    return Err(format!(
                        "a plan is an array of steps or an object with `steps`, not {other}"
                    ))
                }
            };
            let timeout = match timeout_s {
                None => DEFAULT_TIMEOUT,
                Some(t) if t.is_finite() && (0.0..=3600.0).contains(&t) => {
                    Duration::from_secs_f64(t)
                }
                Some(t) => return Err(format!("timeout_s {t} is not between 0 and 3600")),
            };
            let steps = specs
                .into_iter()
                .enumerate()
                .map(|(i, v)| step_from_json(i, v))
                .collect::<std::result::Result<_, _>>()?;
            Plan { steps, timeout }
        } else {
            let steps = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(Step::click)
                .collect();
            Plan {
                steps,
                timeout: DEFAULT_TIMEOUT,
            }
        };
        if plan.steps.is_empty() {
            return Err("the plan has no steps".into());
        }
        for (i, s) in plan.steps.iter().enumerate() {
            if s.instruction.trim().is_empty() {
                return Err(format!("step {}: empty instruction", i + 1));
            }
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_plan_one_instruction_per_line() {
        let p = Plan::parse("# open\nclick File\n\n  press Save  \n").unwrap();
        assert_eq!(
            p.steps,
            vec![Step::click("click File"), Step::click("press Save")]
        );
        assert_eq!(p.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn json_plans() {
        let p = Plan::parse(
            r#"{"timeout_s": 2.5, "steps": ["click File",
                {"instruction": "name", "action": "double", "type": "a.txt", "wait": false}]}"#,
        )
        .unwrap();
        assert_eq!(p.timeout, Duration::from_millis(2500));
        assert_eq!(p.steps[0], Step::click("click File"));
        assert_eq!(
            p.steps[1],
            Step {
                instruction: "name".into(),
                action: Action::Double,
                type_text: Some("a.txt".into()),
                wait: false
            }
        );
        let p = Plan::parse(r#"["a", {"instruction": "b", "action": "right"}]"#).unwrap();
        assert_eq!(p.steps[1].action, Action::Right);
    }

    #[test]
    fn bad_plans_say_why() {
        for (text, want) in [
            ("", "no steps"),
            ("# only a comment\n", "no steps"),
            ("[]", "no steps"),
            (
                r#"[{"instruction": "a", "action": "triple"}]"#,
                "step 1: unknown variant `triple`",
            ),
            (
                r#"{"steps": ["a"], "wait": 1}"#,
                "unknown plan field `wait`",
            ),
            (r#"[{"instruction": "  "}]"#, "step 1: empty instruction"),
            (r#"{"steps": ["a"], "timeout_s": -1}"#, "timeout_s -1"),
            ("[\"a\",\n 3]", "step 2: 3 is neither"),
            ("[\"a\",\n 3", "line 2, column 2: EOF"),
        ] {
            let e = Plan::parse(text).unwrap_err();
            assert!(e.contains(want), "{text:?}: {e}");
        }
    }
}
