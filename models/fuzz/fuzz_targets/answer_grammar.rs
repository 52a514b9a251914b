//! Fuzzes the answer grammar: `parse` and `parse_in_mode` must return (never panic) on any
//! UTF-8 input, and every accepted answer must survive `format_answer` → `parse` unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use reticle_models::grammar::{format_answer, parse, parse_in_mode, points_in_text, Mode, Value};

fuzz_target!(|text: &str| {
    let lenient = parse(text);
    for mode in [Mode::Think, Mode::Direct] {
        let strict = parse_in_mode(text, mode);
        if let Ok(a) = &strict {
            // A strictly valid completion is also leniently valid, with the same reading.
            assert_eq!(a.mode, mode);
            assert_eq!(lenient.as_ref(), Ok(a), "strict and lenient parses differ");
        }
    }
    let _ = points_in_text(text);
    let Ok(answer) = lenient else { return };
    // Labels are re-written trimmed and `[]` always reads as boxes; both are documented.
    let expected = match &answer.value {
        Value::Points(p) if p.is_empty() => Value::Boxes(Vec::new()),
        v => v.clone(),
    };
    let think = answer.think.as_deref();
    let again = format_answer(answer.mode, think, &answer.value);
    let reparsed = parse_in_mode(&again, answer.mode)
        .unwrap_or_else(|e| panic!("formatted answer does not parse: {e}: {again:?}"));
    assert_eq!(
        reparsed.value, expected,
        "round trip changed the value: {again:?}"
    );
    assert_eq!(reparsed.think.as_deref(), think);
});
