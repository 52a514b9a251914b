//! The checkpoint's Jinja chat template, rendered with `minijinja` configured as
//! `transformers` configures Jinja2 for `apply_chat_template` (`trim_blocks`, `lstrip_blocks`,
//! loop controls, `raise_exception`), plus Python string methods through `minijinja-contrib`'s
//! `pycompat` for templates that call `.strip()` and the like.
//!
//! One grounding prompt is one user message holding an image then the instruction, with the
//! generation prompt; [`expand_image_pads`] then repeats each `<|image_pad|>` as many times as
//! the image has merged patches, as `Qwen2VLProcessor` does before tokenising.
//!
//! Known difference: `tojson` is minijinja's (HTML-safe escaping, compact separators), not
//! `transformers`' `json.dumps`; the Qwen2-VL / Qwen2.5-VL templates use it only for tool
//! definitions, which reticle never passes.

use minijinja::syntax::SyntaxConfig;
use minijinja::value::Serde;
use minijinja::{context, Environment, ErrorKind, Value};

use crate::error::{Error, Result};

/// The image placeholder the templates write once per image.
pub const IMAGE_PAD: &str = "<|image_pad|>";

const TEMPLATE_NAME: &str = "chat_template";

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").finish_non_exhaustive()
    }
}

impl ChatTemplate {
    /// Compiles `source` (the `chat_template` string of `tokenizer_config.json`).
    pub fn new(source: &str) -> Result<ChatTemplate> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|e| Error::invalid("chat template", format!("{e:#}")))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> std::result::Result<Value, minijinja::Error> {
                Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned(TEMPLATE_NAME, source.to_string())
            .map_err(|e| Error::invalid("chat template", format!("{e:#}")))?;
        Ok(ChatTemplate { env })
    }

    /// Renders `messages` (a list of `{role, content}` maps, as `transformers` takes them).
    pub fn render(
        &self,
        messages: &serde_json::Value,
        add_generation_prompt: bool,
    ) -> Result<String> {
        let template = self
            .env
            .get_template(TEMPLATE_NAME)
            .map_err(|e| Error::invalid("chat template", format!("{e:#}")))?;
        template
            .render(context! {
                messages => Value::from(Serde(messages)),
                add_generation_prompt => add_generation_prompt,
            })
            .map_err(|e| Error::invalid("chat template", format!("{e:#}")))
    }

    /// The prompt for one image and an instruction: one user message
    /// `[{"type": "image"}, {"type": "text", "text": instruction}]` and the generation prompt,
    /// with one unexpanded `<|image_pad|>`.
    pub fn render_image_prompt(&self, instruction: &str) -> Result<String> {
        let messages = serde_json::json!([{
            "role": "user",
            "content": [
                {"type": "image"},
                {"type": "text", "text": instruction},
            ],
        }]);
        self.render(&messages, true)
    }
}

/// Repeats the `i`-th `<|image_pad|>` of `prompt` `n_tokens[i]` times; the counts must match
/// the placeholders one to one.
pub fn expand_image_pads(prompt: &str, n_tokens: &[usize]) -> Result<String> {
    let n_found = prompt.matches(IMAGE_PAD).count();
    if n_found != n_tokens.len() {
        return Err(Error::invalid(
            "prompt",
            format!(
                "{n_found} {IMAGE_PAD} placeholders for {} images",
                n_tokens.len()
            ),
        ));
    }
    let total: usize = n_tokens.iter().sum();
    let mut out = String::with_capacity(prompt.len() + total * IMAGE_PAD.len());
    let mut pieces = prompt.split(IMAGE_PAD);
    // `split` yields one more piece than there are placeholders.
    out.push_str(pieces.next().unwrap_or_default());
    for (piece, &n) in pieces.zip(n_tokens) {
        out.push_str(&IMAGE_PAD.repeat(n));
        out.push_str(piece);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_each_placeholder() {
        let p = "a<|image_pad|>b<|image_pad|>c";
        assert_eq!(
            expand_image_pads(p, &[2, 1]).unwrap(),
            "a<|image_pad|><|image_pad|>b<|image_pad|>c"
        );
        let err = expand_image_pads(p, &[2]).unwrap_err().to_string();
        assert!(
            err.contains("2 <|image_pad|> placeholders for 1 images"),
            "{err}"
        );
    }

    #[test]
    fn raise_exception_is_an_error() {
        let t = ChatTemplate::new("{{ raise_exception('no system messages') }}").unwrap();
        let err = t
            .render(&serde_json::json!([]), true)
            .unwrap_err()
            .to_string();
        assert!(err.contains("no system messages"), "{err}");
    }

    #[test]
    fn python_string_methods_work() {
        let t = ChatTemplate::new("{{ messages[0].content.strip() }}").unwrap();
        let out = t
            .render(
                &serde_json::json!([{"role": "user", "content": "  hi  "}]),
                false,
            )
            .unwrap();
        assert_eq!(out, "hi");
    }
}
