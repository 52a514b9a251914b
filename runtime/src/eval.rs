//! Evaluating a model package on a dataset: greedy grounding of every record, scored with
//! the metrics of `reticle-models` (the same ones `reticle-train eval` uses).

use reticle_models::dataset::{Record, Target, Task};
use reticle_models::geometry::Mask;
use reticle_models::grammar::{self, Mode, Value};
use reticle_models::metrics::Metrics;
pub use reticle_models::metrics::{EvalReport, EvalSample, Overruled};
use reticle_models::preprocess::{open_image, DepthRef};
use reticle_models::rewards::RewardConfig;
use reticle_models::text::TextSpan;

use crate::error::Result;
use crate::{Frame, GroundOptions, ImageInput, Pipeline};

/// The spans last read, by image path: records that share a screenshot (a real-screen set
/// asks many questions of one screen) are read once. Reading is deterministic, so this
/// changes nothing but the time.
#[derive(Debug, Default)]
pub struct SpanCache {
    last: Option<(std::path::PathBuf, Vec<TextSpan>)>,
}

/// Grounds one record greedily and adds its outcome to `metrics`; returns the sample (the
/// completion, and the pointer's confidence, p(nothing) and overruled click if any).
pub fn evaluate_record(
    pipeline: &Pipeline,
    record: &Record,
    metrics: &mut Metrics,
) -> Result<EvalSample> {
    evaluate_record_cached(pipeline, record, metrics, &mut SpanCache::default())
}

/// [`evaluate_record`] with the spans of the previous record's image reused when the image
/// is the same file.
pub fn evaluate_record_cached(
    pipeline: &Pipeline,
    record: &Record,
    metrics: &mut Metrics,
    cache: &mut SpanCache,
) -> Result<EvalSample> {
    let image = open_image(&record.image)?;
    // A record's depth is read only by RGB-D packages (an RGB package grounds the colour
    // image of an RGB-D record).
    let depth = match (&record.depth, pipeline.wants_depth()) {
        (Some(p), true) => Some(crate::depth::read_depth16(p)?),
        _ => None,
    };
    let scale = record.camera.map_or(0.001, |k| k.depth_scale);
    let depth_ref = match &depth {
        Some(d) => Some(DepthRef::new(d.width(), d.height(), d.as_raw(), scale)?),
        None => None,
    };
    let frame = Frame {
        image: ImageInput::Image(&image),
        depth: depth_ref,
    };
    let out = match pipeline.reader() {
        Some(reader) => {
            let hit = matches!(&cache.last, Some((p, _)) if *p == record.image);
            if !hit {
                let spans = reader.read(ImageInput::Image(&image))?.spans;
                cache.last = Some((record.image.clone(), spans));
            }
            let spans = cache.last.as_ref().map_or(&[][..], |(_, s)| s.as_slice());
            pipeline.ground_with_spans(
                frame,
                &record.instruction,
                spans,
                &GroundOptions::greedy(),
            )?
        }
        None => pipeline.ground(frame, &record.instruction, &GroundOptions::greedy())?,
    };
    let mask = match &record.target {
        Target::Mask(p) => Some(Mask::load(p)?),
        _ => None,
    };
    let parsed = grammar::parse(&out.text);
    metrics.add(
        record,
        &parsed,
        &out.frame,
        mask.as_ref(),
        out.completion_tokens,
    );
    // Both judged on the point as the completion writes it (rounded in the answer frame),
    // as `metrics` scores it.
    let hits = |answer: &Result<grammar::Answer, grammar::ParseError>| {
        answer
            .as_ref()
            .ok()
            .and_then(|a| a.value.first_point())
            .is_some_and(|p| {
                let p = out.frame.answer_to_original(p);
                metrics.click_hits(record, p, &out.frame, mask.as_ref())
            })
    };
    let correct = matches!(record.task, Task::Click | Task::Refer).then(|| {
        if record.names_nothing() {
            out.names_nothing()
        } else {
            hits(&parsed)
        }
    });
    // The overruled click as a smaller bias would have written it.
    let overruled = out.overruled.map(|o| {
        let shown = Value::Points(vec![out.frame.original_to_answer(o.point)]);
        let text = grammar::format_answer(Mode::Direct, None, &shown);
        Overruled {
            confidence: o.confidence,
            hit: hits(&grammar::parse(&text)),
        }
    });
    Ok(EvalSample {
        id: record.id.clone(),
        instruction: record.instruction.clone(),
        completion: out.text,
        correct,
        confidence: out.confidence,
        nothing: out.nothing,
        overruled,
    })
}

/// Evaluates every record; `progress` is called after each one with the count so far.
pub fn evaluate(
    pipeline: &Pipeline,
    records: &[Record],
    rewards: &RewardConfig,
    progress: &dyn Fn(usize),
) -> Result<EvalReport> {
    let mut metrics = Metrics::new(rewards);
    let mut samples = Vec::with_capacity(records.len());
    let mut cache = SpanCache::default();
    for (i, record) in records.iter().enumerate() {
        samples.push(evaluate_record_cached(
            pipeline,
            record,
            &mut metrics,
            &mut cache,
        )?);
        progress(i + 1);
    }
    Ok(EvalReport {
        summary: metrics.summary(),
        samples,
    })
}
