//! Instructions that name nothing on the screen: a rendered record whose label, in its
//! instruction, is swapped for the target label of other screens of the suite that no text
//! on this screen contains ("click the Export button" on a screen without Export). The target
//! becomes `{"boxes": []}` and the right answer the empty list: what a policy must learn so
//! that a user's instruction for something that is not there is refused instead of clicked
//! somewhere. Drawn when `[ui] nothing_rate` picks it.
//!
//! The missing names are the suite's own targets, so a name is as often present (on its own
//! screen) as missing (here): a policy cannot learn "this word means nothing", only "this
//! word is not on this screen". (A first try drew them from a fixed pool of control names that
//! only ever appeared missing; the policy then refused 22 % of the real-screen instructions,
//! "Add to cart" or "Country" among them.)

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use reticle_models::dataset::Target;

use crate::Sample;

/// Turns `sample` into one whose instruction names nothing on its screen, if its
/// instruction spells the target's label and one of `names` (other screens' target labels)
/// is absent from every text on the screen. Returns whether it did.
pub(super) fn name_nothing(sample: &mut Sample, names: &[String], rng: &mut ChaCha8Rng) -> bool {
    let r = &mut sample.record;
    let Some(meta) = r.meta.as_mut() else {
        return false;
    };
    let label = meta
        .get("label")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .trim_end_matches('…')
        .trim_end_matches("...")
        .trim()
        .to_string();
    if label.len() < 2 || !r.instruction.contains(&label) {
        return false;
    }
    let texts: Vec<String> = meta
        .get("texts")
        .and_then(|t| t.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|t| t.get("text").and_then(|v| v.as_str()))
                .map(str::to_lowercase)
                .collect()
        })
        .unwrap_or_default();
    let absent = |name: &str| {
        let n = name.to_lowercase();
        // Neither inside a text on the screen nor holding one (a short text such as "OK"
        // only counts as a whole word).
        n.chars().count() >= 2
            && !texts.iter().any(|t| {
                t.contains(&n) || n.split(' ').any(|w| w == t) || (t.len() >= 4 && n.contains(t))
            })
    };
    let pool: Vec<&str> = names
        .iter()
        .map(|n| n.trim_end_matches('…').trim_end_matches("...").trim())
        .filter(|n| absent(n))
        .collect();
    let Some(name) = pool.choose(rng) else {
        return false;
    };
    let element = meta
        .get("element")
        .and_then(|v| v.as_str())
        .unwrap_or("element")
        .to_string();
    meta["named_element"] = element.into();
    meta["element"] = "nothing".into();
    meta["label"] = (*name).into();
    meta["replaced_label"] = label.clone().into();
    r.instruction = r.instruction.replacen(&label, name, 1);
    r.cot = Some(format!(
        "No text or control on the screen says {name}; the instruction names nothing here."
    ));
    r.target = Target::Boxes(Vec::new());
    true
}
