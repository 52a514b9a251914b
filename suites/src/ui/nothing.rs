//! Instructions that name nothing on the screen: a rendered record whose label, in its
//! instruction, is swapped for a control name that no text on the screen contains ("click
//! the Export button" on a screen without Export). The target becomes `{"boxes": []}` and the
//! right answer the empty list: what a policy must learn so that a user's instruction for
//! something that is not there is refused instead of clicked somewhere. Drawn when
//! `[ui] nothing_rate` picks it.

use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use reticle_models::dataset::Target;

use crate::Sample;

/// Control names users type, the pool a missing target is drawn from. Held-out refusal
/// checks (`scripts/recipes/pointer/refusal_eval.py`) use names that are not in it.
const NAMES: &[&str] = &[
    "Export",
    "Import",
    "Print",
    "Share",
    "Download",
    "Upload",
    "Archive",
    "Refresh",
    "Sync",
    "Publish",
    "Preview",
    "Rename",
    "Duplicate",
    "Merge",
    "Split",
    "Attach",
    "Forward",
    "Reply all",
    "Mark as read",
    "Add to cart",
    "Checkout",
    "Pay now",
    "Subscribe",
    "Unsubscribe",
    "Sign up",
    "Log out",
    "Sign out",
    "Register",
    "Invite",
    "Follow",
    "Like",
    "Bookmark",
    "Pin",
    "Unpin",
    "Mute",
    "Block",
    "Report",
    "Translate",
    "Zoom in",
    "Zoom out",
    "Full screen",
    "Crop",
    "Rotate",
    "Resize",
    "Undo",
    "Redo",
    "Bold",
    "Italic",
    "Underline",
    "Insert table",
    "Add row",
    "Delete row",
    "Sort by date",
    "Filter",
    "Group",
    "Ungroup",
    "New folder",
    "Empty trash",
    "Restore",
    "Install",
    "Uninstall",
    "Update now",
    "Check for updates",
    "Restart",
    "Shut down",
    "Connect",
    "Disconnect",
    "Pair device",
    "Scan",
    "Record",
    "Stop recording",
    "Play",
    "Pause",
    "Skip",
    "Shuffle",
    "Repeat",
    "Dark mode",
    "Notifications",
    "Privacy",
    "Accessibility",
    "Billing",
    "Invoices",
    "Payment method",
    "Shipping address",
    "Coupon code",
    "Gift card",
    "Phone number",
    "Date of birth",
    "Middle name",
    "Company",
    "Website",
    "Postal code",
    "Country",
    "Remember me",
    "Keep me signed in",
    "Auto-save",
    "Spell check",
    "Word wrap",
    "Line numbers",
    "Show hidden files",
    "Send feedback",
    "Contact support",
    "Help center",
    "Release notes",
    "Keyboard shortcuts",
    "Calendar",
    "Contacts",
    "Inbox",
    "Drafts",
    "Spam",
];

/// Turns `sample` into one whose instruction names nothing on its screen, if its
/// instruction spells the target's label and some name of [`NAMES`] is absent from every text
/// on the screen. Returns whether it did.
pub(super) fn name_nothing(sample: &mut Sample, rng: &mut ChaCha8Rng) -> bool {
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
        !texts.iter().any(|t| {
            t.contains(&n) || n.split(' ').any(|w| w == t) || (t.len() >= 4 && n.contains(t))
        })
    };
    let pool: Vec<&str> = NAMES.iter().copied().filter(|n| absent(n)).collect();
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
