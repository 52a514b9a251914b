//! Parity with `transformers` 5.24 on the same inputs: `Qwen2VLImageProcessor` (PIL backend)
//! `pixel_values` (max abs difference; tolerance [`PIXEL_TOLERANCE`]) and `image_grid_thw`
//! (exact), `smart_resize` on a grid of sizes and bounds (exact), the Qwen2-VL chat template
//! (exact text), and safetensors headers written by the `safetensors` library.

use std::path::Path;

use anyhow::{ensure, Context, Result};
use reticle_models::qwen::checkpoint::read_header;
use reticle_models::qwen::processor::{smart_resize, ImageProcessor, ProcessorConfig};
use reticle_models::qwen::template::{expand_image_pads, ChatTemplate, IMAGE_PAD};
use serde_json::{json, Value};

use crate::util::{read_f32, shared_peer, test_image};

/// Bitwise equality is expected: the resize is Pillow's integer algorithm and rescale /
/// normalise are the same f64 → f32 operations as numpy's, so any difference is a bug.
const PIXEL_TOLERANCE: f32 = 0.0;

/// The chat template of Qwen2-VL-*-Instruct and Qwen2.5-VL-*-Instruct (`chat_template.json`
/// of the published checkpoints), written out here since nothing can be downloaded.
pub const QWEN2_VL_CHAT_TEMPLATE: &str = "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}{% for message in messages %}{% if loop.first and message['role'] != 'system' %}<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n{% endif %}<|im_start|>{{ message['role'] }}\n{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n{% else %}{% for content in message['content'] %}{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}{% set image_count.value = image_count.value + 1 %}{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}<|vision_start|><|image_pad|><|vision_end|>{% elif content['type'] == 'video' or 'video' in content %}{% set video_count.value = video_count.value + 1 %}{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}<|vision_start|><|video_pad|><|vision_end|>{% elif 'text' in content %}{{ content['text'] }}{% endif %}{% endfor %}<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

/// `(width, height, seed, processor kwargs)`: odd sizes, tiny, extreme aspect ratios, a
/// screenshot under the class defaults and under the published `max_pixels`, a strong
/// downscale, an exact multiple of 28 (no resize), a non-CLIP normalisation.
fn image_cases() -> Vec<(u32, u32, u64, Value)> {
    vec![
        (37, 53, 1, json!({})),
        (5, 9, 2, json!({})),
        (1000, 6, 3, json!({})),
        (7, 1300, 4, json!({})),
        (1280, 800, 5, json!({})),
        (
            1280,
            800,
            6,
            json!({"min_pixels": 3136, "max_pixels": 12845056}),
        ),
        (
            641,
            479,
            7,
            json!({"size": {"shortest_edge": 3136, "longest_edge": 200704}}),
        ),
        (56, 84, 8, json!({})),
        (
            333,
            97,
            9,
            json!({"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}),
        ),
    ]
}

const SIZES: [usize; 24] = [
    1, 2, 5, 13, 14, 27, 28, 29, 41, 42, 43, 70, 99, 140, 333, 479, 720, 800, 1079, 1080, 1280,
    2160, 3840, 5000,
];
const BOUNDS: [(u64, u64); 3] = [(3136, 1_003_520), (3136, 12_845_056), (200_704, 1_003_520)];

fn templates() -> Vec<(Value, bool)> {
    let image_and = |text: &str| json!([{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}]);
    vec![
        (image_and("Click the \"Save\" button."), true),
        (
            image_and("Où est l'icône « Paramètres » ?\nRéponds en (x,y)."),
            true,
        ),
        (image_and("{{ not a template }} {% raw %}"), true),
        (image_and("point to the red mug"), false),
        (
            json!([
                {"role": "system", "content": "You ground UI elements."},
                {"role": "user", "content": [{"type": "text", "text": "first"}, {"type": "image", "image": "x.png"}]},
                {"role": "assistant", "content": "<answer>(10,20)</answer>"},
                {"role": "user", "content": "and now?"}
            ]),
            true,
        ),
    ]
}

fn build_job(dir: &Path) -> Result<Value> {
    let mut images = Vec::new();
    for (i, (w, h, seed, config)) in image_cases().into_iter().enumerate() {
        let path = dir.join(format!("image{i}.png"));
        test_image(w, h, seed).save(&path)?;
        images.push(json!({
            "path": path, "config": config, "out": dir.join(format!("pixel_values{i}.f32")),
        }));
    }
    let templates: Vec<Value> = templates()
        .into_iter()
        .map(|(messages, gen)| {
            json!({"template": QWEN2_VL_CHAT_TEMPLATE, "messages": messages, "add_generation_prompt": gen})
        })
        .collect();
    Ok(json!({
        "images": images,
        "smart_resize": {
            "sizes": SIZES.iter().flat_map(|&h| SIZES.iter().map(move |&w| [h, w])).collect::<Vec<_>>(),
            "bounds": BOUNDS,
            "factor": 28,
        },
        "templates": templates,
        "safetensors": {"path": dir.join("peer.safetensors")},
    }))
}

#[test]
fn pixel_values_and_grid_equal_transformers() -> Result<()> {
    let peer = shared_peer(build_job)?;
    let mut worst = 0f32;
    for (i, ((w, h, seed, config), theirs)) in image_cases()
        .into_iter()
        .zip(peer.result["images"].as_array().context("images")?)
        .enumerate()
    {
        let config = ProcessorConfig::parse(&config.to_string(), Path::new("kwargs"))?;
        let ours = ImageProcessor::new(config).process(&test_image(w, h, seed))?;
        let grid: Vec<usize> = serde_json::from_value(theirs["image_grid_thw"][0].clone())?;
        ensure!(
            grid == ours.grid_thw,
            "image {i} ({w}x{h}): grid {:?} vs transformers {grid:?}",
            ours.grid_thw
        );
        let shape: Vec<usize> = serde_json::from_value(theirs["shape"].clone())?;
        ensure!(
            shape == [ours.n_patches, ours.patch_dim],
            "image {i}: shape {shape:?}"
        );
        ensure!(
            theirs["n_image_tokens"] == json!(ours.n_image_tokens),
            "image {i}: token count"
        );
        let pixel_values = read_f32(&peer.dir.path().join(format!("pixel_values{i}.f32")))?;
        ensure!(
            pixel_values.len() == ours.pixel_values.len(),
            "image {i}: length"
        );
        let diff = pixel_values
            .iter()
            .zip(&ours.pixel_values)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        eprintln!(
            "image {i} {w}x{h} → {}x{} grid {:?}: max |Δ pixel_values| = {diff:e}",
            ours.resized.0, ours.resized.1, ours.grid_thw
        );
        worst = worst.max(diff);
    }
    eprintln!("pixel_values: max abs difference over all images = {worst:e}");
    ensure!(
        worst <= PIXEL_TOLERANCE,
        "pixel_values differ from transformers by {worst}"
    );
    Ok(())
}

#[test]
fn smart_resize_equals_transformers_on_a_grid() -> Result<()> {
    let peer = shared_peer(build_job)?;
    let theirs = peer.result["smart_resize"]
        .as_array()
        .context("smart_resize")?;
    let mut k = 0;
    let mut n_errors = 0;
    for (min_pixels, max_pixels) in BOUNDS {
        for h in SIZES {
            for w in SIZES {
                let ours = smart_resize(h, w, 28, min_pixels, max_pixels).ok();
                let want: Option<(usize, usize)> = serde_json::from_value(theirs[k].clone())?;
                ensure!(ours == want, "smart_resize({h}, {w}, 28, {min_pixels}, {max_pixels}): {ours:?} vs transformers {want:?}");
                n_errors += usize::from(want.is_none());
                k += 1;
            }
        }
    }
    ensure!(k == theirs.len(), "{k} cases vs {} results", theirs.len());
    // The grid must reach the aspect-ratio refusal.
    ensure!(n_errors > 0, "no aspect-ratio errors on the grid");
    Ok(())
}

#[test]
fn chat_template_renders_as_transformers() -> Result<()> {
    let peer = shared_peer(build_job)?;
    let theirs = peer.result["templates"].as_array().context("templates")?;
    let template = ChatTemplate::new(QWEN2_VL_CHAT_TEMPLATE)?;
    for ((messages, gen), want) in templates().into_iter().zip(theirs) {
        let ours = template.render(&messages, gen)?;
        ensure!(
            Some(ours.as_str()) == want.as_str(),
            "rendered:\n{ours}\ntransformers:\n{want}"
        );
    }
    // The grounding prompt helper builds the first case's messages.
    let prompt = template.render_image_prompt("Click the \"Save\" button.")?;
    ensure!(
        Some(prompt.as_str()) == theirs[0].as_str(),
        "render_image_prompt: {prompt}"
    );
    // Expanded with the processor's count for a 1280×800 screenshot.
    let n = ImageProcessor::new(ProcessorConfig::default()).n_image_tokens(800, 1280)?;
    let expanded = expand_image_pads(&prompt, &[n])?;
    ensure!(expanded.matches(IMAGE_PAD).count() == n, "expanded count");
    ensure!(expanded.contains(&format!(
        "<|vision_start|>{}<|vision_end|>",
        IMAGE_PAD.repeat(n)
    )));
    Ok(())
}

#[test]
fn safetensors_headers_of_the_library_are_read() -> Result<()> {
    let peer = shared_peer(build_job)?;
    let ours = read_header(&peer.dir.path().join("peer.safetensors"))?;
    let theirs = peer.result["safetensors"]
        .as_object()
        .context("safetensors")?;
    ensure!(
        ours.len() == theirs.len(),
        "{} tensors vs {}",
        ours.len(),
        theirs.len()
    );
    for (name, info) in &ours {
        let want = &theirs[name];
        let dtype = match want["dtype"].as_str() {
            Some("float16") => "F16",
            Some("float32") => "F32",
            other => anyhow::bail!("dtype {other:?}"),
        };
        ensure!(info.dtype == dtype, "{name}: {} vs {dtype}", info.dtype);
        ensure!(json!(info.shape) == want["shape"], "{name}: shape");
    }
    Ok(())
}
