//! PNG curves of a run's metrics: one image per metric, step on x, one line per phase.
//!
//! Text uses the DejaVu Sans font bundled with `reticle-models` (through plotters'
//! `ab_glyph` backend), so plotting needs no system fonts and no fontconfig.

use std::collections::BTreeMap;
use std::fs;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};
use reticle_models::fsutil::write_atomic;
use serde_json::Value;

use crate::error::{Error, Result};

/// The metrics plotted by default.
pub const DEFAULT_PLOT_KEYS: [&str; 5] = ["reward", "accuracy", "kl", "completion_len", "loss"];

/// Width and height of every plot, in pixels.
pub const PLOT_SIZE: (u32, u32) = (900, 540);

const FONT: &str = "sans-serif";
static FONT_BYTES: &[u8] = include_bytes!("../../suites/assets/fonts/DejaVuSans.ttf");

/// One line per phase, in step order.
type Series = BTreeMap<String, Vec<(f64, f64)>>;

/// Draws `<out_dir>/<key>.png` for each of `keys` that has at least one finite value in
/// `metrics_jsonl`; returns the files written. Keys with no values are skipped.
pub fn plot_metrics(metrics_jsonl: &Path, out_dir: &Path, keys: &[&str]) -> Result<Vec<PathBuf>> {
    let text = fs::read_to_string(metrics_jsonl).map_err(|e| Error::io(metrics_jsonl, e))?;
    let records = parse_records(metrics_jsonl, &text);
    fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    let mut written = Vec::new();
    for key in keys {
        let series = collect_series(&records, key);
        if series.values().all(Vec::is_empty) {
            tracing::debug!(key, "no values to plot");
            continue;
        }
        let png = render_png(key, &series)?;
        let path = out_dir.join(format!("{}.png", file_stem(key)));
        write_atomic(&path, &png)?;
        written.push(path);
    }
    Ok(written)
}

fn parse_records(path: &Path, text: &str) -> Vec<Value> {
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(v @ Value::Object(_)) => records.push(v),
            // A run may be writing the file while we read it; skip what cannot be read.
            _ => tracing::warn!(file = %path.display(), line = i + 1, "skipping unreadable line"),
        }
    }
    records
}

fn collect_series(records: &[Value], key: &str) -> Series {
    let mut series = Series::new();
    for r in records {
        let (Some(step), Some(value)) = (r["step"].as_f64(), r[key].as_f64()) else {
            continue;
        };
        if !value.is_finite() {
            continue;
        }
        let phase = r["phase"].as_str().unwrap_or("unknown").to_string();
        series.entry(phase).or_default().push((step, value));
    }
    for points in series.values_mut() {
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    series
}

/// A file name for a metric key such as `reward/format`.
fn file_stem(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok());
    if ok {
        Ok(())
    } else {
        Err(Error::Plot(
            "the bundled DejaVu Sans font cannot be parsed".to_string(),
        ))
    }
}

/// The range of `values` with a margin, never empty.
fn padded_range(values: impl Iterator<Item = f64>, margin: f64) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span > 0.0 {
        (lo - margin * span, hi + margin * span)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    }
}

/// The same phase has the same colour in every plot.
fn phase_color(phase: &str, idx: usize) -> RGBAColor {
    match phase {
        "sft" => RGBColor(31, 119, 180).to_rgba(),
        "grpo" => RGBColor(44, 160, 44).to_rgba(),
        "eval" => RGBColor(214, 39, 40).to_rgba(),
        _ => Palette99::pick(idx + 3).to_rgba(),
    }
}

/// A phase with more points than this is drawn faint, with its running mean on top.
const SMOOTH_OVER: usize = 100;

/// The mean of each point's value and the `window − 1` before it (fewer at the start).
fn running_mean(pts: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let window = window.max(1);
    let mut sum = 0.0;
    pts.iter()
        .enumerate()
        .map(|(i, &(x, y))| {
            sum += y;
            if i >= window {
                sum -= pts[i - window].1;
            }
            (x, sum / (i + 1).min(window) as f64)
        })
        .collect()
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::Plot(e.to_string())
}

fn render_png(key: &str, series: &Series) -> Result<Vec<u8>> {
    ensure_font()?;
    let (w, h) = PLOT_SIZE;
    let mut rgb = vec![0u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_err)?;
        let points = || series.values().flatten();
        let (x0, x1) = padded_range(points().map(|p| p.0), 0.0);
        let (y0, y1) = padded_range(points().map(|p| p.1), 0.05);
        let mut chart = ChartBuilder::on(&root)
            .caption(key, (FONT, 28))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(plot_err)?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc(key)
            .label_style((FONT, 16))
            .axis_desc_style((FONT, 18))
            .light_line_style(WHITE.mix(0.0))
            .bold_line_style(BLACK.mix(0.08))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .draw()
            .map_err(plot_err)?;
        for (idx, (phase, pts)) in series.iter().enumerate() {
            let color = phase_color(phase, idx);
            let style = color.stroke_width(2);
            if pts.len() > SMOOTH_OVER {
                // A per-step curve of batches of 8 is mostly noise: the raw values faint,
                // their running mean on top.
                let window = (pts.len() / 30).max(5);
                let faint = color.mix(0.3).stroke_width(1);
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), faint))
                    .map_err(plot_err)?;
                chart
                    .draw_series(LineSeries::new(running_mean(pts, window), style))
                    .map_err(plot_err)?
                    .label(format!("{phase} (mean of the last {window})"))
                    .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
                continue;
            }
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), style))
                .map_err(plot_err)?
                .label(phase.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
            if pts.len() <= 50 {
                // Few points: mark them, a lone point would otherwise be invisible.
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(plot_err)?;
            }
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.4))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(plot_err)?;
        root.present().map_err(plot_err)?;
    }
    let image = image::RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| Error::Plot("pixel buffer does not match the plot size".to_string()))?;
    let mut png = Vec::new();
    image
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(plot_err)?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_metrics(dir: &Path) -> PathBuf {
        let path = dir.join("metrics.jsonl");
        let mut text = String::new();
        for step in 0..40u64 {
            let s = step as f64;
            text.push_str(&format!(
                "{{\"step\":{step},\"phase\":\"grpo\",\"time\":0.0,\"reward\":{},\"kl\":{},\"completion_len\":{}}}\n",
                0.2 + 0.6 * (1.0 - (-s / 12.0).exp()),
                0.002 * s,
                if step == 7 { "null".to_string() } else { format!("{}", 120.0 - s) },
            ));
            if step % 10 == 0 {
                text.push_str(&format!(
                    "{{\"step\":{step},\"phase\":\"eval\",\"reward\":{}}}\n",
                    0.15 + 0.015 * s
                ));
            }
        }
        text.push_str("{\"step\":40,\"pha"); // A line torn by a concurrent writer.
        fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn writes_one_valid_png_per_present_key() {
        let tmp = tempfile::tempdir().unwrap();
        let metrics = write_metrics(tmp.path());
        let out = tmp.path().join("plots");
        let written = plot_metrics(&metrics, &out, &DEFAULT_PLOT_KEYS).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        // `accuracy` and `loss` are not in the file and are skipped.
        assert_eq!(names, ["reward.png", "kl.png", "completion_len.png"]);
        for path in &written {
            let img = image::open(path).unwrap();
            assert_eq!((img.width(), img.height()), PLOT_SIZE, "{}", path.display());
            // Not a blank canvas: there are dark (text, axes) pixels.
            let dark = img.to_luma8().pixels().filter(|p| p.0[0] < 100).count();
            assert!(dark > 500, "{}: {dark} dark pixels", path.display());
        }
    }

    #[test]
    fn the_running_mean_covers_the_window_before_each_point() {
        let pts: Vec<(f64, f64)> = [2.0, 4.0, 6.0, 8.0]
            .iter()
            .enumerate()
            .map(|(i, &y)| (i as f64, y))
            .collect();
        let m = running_mean(&pts, 2);
        assert_eq!(m, vec![(0.0, 2.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)]);
        assert_eq!(running_mean(&pts, 10)[3], (3.0, 5.0));
    }

    #[test]
    fn a_single_point_still_plots() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("m.jsonl");
        fs::write(&path, "{\"step\":3,\"phase\":\"sft\",\"loss\":1.5}\n").unwrap();
        let written = plot_metrics(&path, tmp.path(), &["loss", "reward/format"]).unwrap();
        assert_eq!(written, [tmp.path().join("loss.png")]);
    }

    #[test]
    fn keys_become_safe_file_names() {
        assert_eq!(file_stem("reward/format"), "reward_format");
        assert_eq!(file_stem("kl"), "kl");
    }
}
