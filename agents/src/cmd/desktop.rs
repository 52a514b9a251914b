//! `reticle desktop`: capture a monitor, ground an instruction, click or type — safely.
//!
//! ```text
//! reticle desktop monitors [--json]
//! reticle desktop do --instruction "click Save" [--action click|double|right|move]
//!                    [--type TEXT] [--dry-run] [--confirm] [--monitor N] [--max-actions N]
//!                    [--record DIR] [--min-confidence P] [--model DIR]
//! reticle desktop run PLAN [same options] [--timeout S] [--no-wait]
//! ```
//!
//! Every step prints one JSON line (the `StepReport`); a refused step ends the command
//! with an error. See docs/desktop.md.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use reticle_agents::desktop::act::{Action, EnigoInput};
use reticle_agents::desktop::mapping::Rect;
use reticle_agents::desktop::monitor;
use reticle_agents::desktop::plan::{Plan, Step};
use reticle_agents::desktop::safety::{SafetyConfig, DEFAULT_MIN_CONFIDENCE};
use reticle_agents::desktop::{Agent, AgentConfig, StepReport};
use reticle_runtime::{DecodeOptions, Pipeline, Provider};

#[derive(Debug, Subcommand)]
pub enum DesktopCommand {
    /// List the monitors (index for --monitor, logical geometry, scale factor).
    Monitors {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Ground one instruction on a monitor and act on it.
    Do(DoArgs),
    /// Run a plan: one instruction per line, or JSON steps (see docs/desktop.md).
    Run(RunArgs),
}

#[derive(Debug, Args)]
pub struct DoArgs {
    /// What to act on, e.g. "click Save".
    #[arg(long)]
    instruction: String,
    /// What to do at the target.
    #[arg(long, value_enum, default_value_t = Action::Click)]
    action: Action,
    /// Text to type after the action.
    #[arg(long = "type", value_name = "TEXT")]
    type_text: Option<String>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The plan file.
    plan: PathBuf,
    /// Seconds to wait for the screen to change after each step (overrides the plan's
    /// `timeout_s`; default 10).
    #[arg(long)]
    timeout: Option<f64>,
    /// Do not wait for the screen to change between steps.
    #[arg(long)]
    no_wait: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Model package folder; default: $RETICLE_MODEL, ./models/default, or the checkout's
    /// models/default (the shipped package).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Execution provider: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    provider: String,
    /// Monitor index (see `reticle desktop monitors`); default: the one under the pointer.
    #[arg(long)]
    monitor: Option<usize>,
    /// Act on nothing: write the screenshot with the target drawn on it.
    #[arg(long)]
    dry_run: bool,
    /// Where --dry-run writes the annotated screenshot (plans add -<step> to later steps).
    #[arg(long, default_value = "reticle-dry-run.png", value_name = "OUT.png")]
    dry_run_image: PathBuf,
    /// Ask y/N on the terminal before every action (fails when stdin is not a terminal).
    #[arg(long)]
    confirm: bool,
    /// The most actions (click, move, typing) this run may perform.
    #[arg(long, default_value_t = 20)]
    max_actions: usize,
    /// Only act inside this region, X,Y,W,H in logical desktop coordinates.
    #[arg(long, value_parser = parse_bounds, value_name = "X,Y,W,H")]
    bounds: Option<Rect>,
    /// The failsafe's corner size in pixels: a pointer this close to a monitor corner (or to
    /// (0, 0)) aborts the run.
    #[arg(long, default_value_t = 2)]
    corner_px: i32,
    /// Append every step as a dataset record (screenshot, instruction, output, action,
    /// outcome) to DIR/data.jsonl.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,
    /// Override the package's max_new_tokens.
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Do not act on a grounding whose confidence is below P (0..1): the step is refused
    /// with the confidence, the threshold and the instruction. Only pointer packages report a
    /// confidence; ReticleVLM answers are never refused by it.
    #[arg(long, default_value_t = DEFAULT_MIN_CONFIDENCE, value_name = "P", value_parser = parse_probability)]
    min_confidence: f32,
}

fn parse_probability(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        Ok(p) => Err(format!("{p} is not a probability in 0..=1")),
        Err(e) => Err(format!("{s:?}: {e}")),
    }
}

fn parse_bounds(s: &str) -> Result<Rect, String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{s:?}: {e} (want X,Y,W,H)"))?;
    match v[..] {
        [x, y, w, h] if v.iter().all(|c| c.is_finite()) && w > 0.0 && h > 0.0 => {
            Ok(Rect::new(x, y, w, h))
        }
        _ => Err(format!(
            "{s:?}: want four finite numbers X,Y,W,H with W and H > 0"
        )),
    }
}

pub fn run(c: DesktopCommand) -> anyhow::Result<()> {
    match c {
        DesktopCommand::Monitors { json } => monitors(json),
        DesktopCommand::Do(a) => {
            let step = Step {
                instruction: a.instruction,
                action: a.action,
                type_text: a.type_text,
                wait: false,
            };
            let plan = Plan {
                steps: vec![step],
                timeout: Duration::ZERO,
            };
            run_plan(&a.common, &plan)
        }
        DesktopCommand::Run(a) => {
            let mut plan = Plan::read(&a.plan)?;
            if let Some(t) = a.timeout {
                if !(t.is_finite() && (0.0..=3600.0).contains(&t)) {
                    bail!("--timeout {t}: want seconds between 0 and 3600");
                }
                plan.timeout = Duration::from_secs_f64(t);
            }
            if a.no_wait {
                plan.steps.iter_mut().for_each(|s| s.wait = false);
            }
            run_plan(&a.common, &plan)
        }
    }
}

fn monitors(json: bool) -> anyhow::Result<()> {
    let ms = monitor::list()?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&ms)?);
        return Ok(());
    }
    outln!("index  name              x      y  width  height  scale  primary");
    for m in &ms {
        outln!(
            "{:>5}  {:<14} {:>6} {:>6} {:>6} {:>7} {:>6.2}  {}",
            m.index,
            m.name,
            m.x,
            m.y,
            m.width,
            m.height,
            m.scale_factor,
            if m.is_primary { "yes" } else { "" }
        );
    }
    Ok(())
}

fn run_plan(args: &CommonArgs, plan: &Plan) -> anyhow::Result<()> {
    let model = reticle_agents::defaults::model_dir(args.model.as_deref())?;
    let provider: Provider = args.provider.parse()?;
    let decode = DecodeOptions {
        max_new_tokens: args.max_new_tokens,
        ..DecodeOptions::greedy()
    };
    decode.validate()?;
    if args.confirm && !args.dry_run {
        use std::io::IsTerminal as _;
        if !std::io::stdin().is_terminal() {
            bail!("--confirm needs a terminal on stdin to ask y/N (refusing to act unasked)");
        }
    }
    let grounder = Pipeline::load(&model, provider)
        .with_context(|| format!("loading model package {}", model.display()))?;
    let config = AgentConfig {
        monitor: args.monitor,
        safety: SafetyConfig {
            max_actions: args.max_actions,
            corner_px: args.corner_px,
            bounds: args.bounds,
            min_confidence: args.min_confidence,
        },
        dry_run: args.dry_run,
        dry_run_image: args.dry_run_image.clone(),
        confirm: args.confirm,
        record: args.record.clone(),
        decode,
        ..AgentConfig::default()
    };
    let input = EnigoInput::new()?;
    let mut agent = Agent::new(&grounder, Box::new(input), config)?;
    let print = |r: &StepReport| -> reticle_agents::desktop::Result<()> {
        use std::io::Write as _;
        let line = serde_json::to_string(r).map_err(|e| {
            reticle_agents::desktop::Error::Record(format!("serialising the step report: {e}"))
        })?;
        // A closed stdout must not stop the agent half-way: the report is also logged.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
        Ok(())
    };
    let reports = agent.run_plan(plan, print)?;
    if let Some(dir) = agent.recorder_dir() {
        tracing::info!(dir = %dir.display(), steps = reports.len(), "recorded");
    }
    Ok(())
}
