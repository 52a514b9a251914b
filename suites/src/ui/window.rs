//! Windows: what they contain (templates), where their widgets go (layout) and how they are
//! painted. Layout and painting are one pass over the window's rows; a first pass without
//! an image measures the height so the frame can be painted before the contents.

use image::RgbImage;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::icons::{draw_icon, ICONS};
use super::theme::{Style, Theme};
use crate::canvas::{
    bordered_round_rect, drop_shadow, fill_circle, fill_rect, fill_round_rect, line, mix, polyline,
    Color, Rect,
};
use crate::font::{Fonts, Ink, Weight};

/// Pixel sizes for one screen: logical sizes times the UI scale.
#[derive(Debug, Clone, Copy)]
pub struct Metrics {
    pub scale: f32,
    /// Text pixel scale.
    pub font: f32,
}

impl Metrics {
    pub fn d(&self, v: f32) -> i32 {
        (v * self.scale).round() as i32
    }
}

/// A clickable element kind, as recorded in `meta.element`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElKind {
    Button,
    TextField,
    Checkbox,
    Radio,
    Toggle,
    Icon,
    Menu,
    MenuItem,
    ListItem,
    SidebarItem,
    Tab,
    Link,
    Close,
    Minimize,
    DesktopIcon,
}

impl ElKind {
    pub fn name(self) -> &'static str {
        match self {
            ElKind::Button => "button",
            ElKind::TextField => "text_field",
            ElKind::Checkbox => "checkbox",
            ElKind::Radio => "radio",
            ElKind::Toggle => "toggle",
            ElKind::Icon => "icon",
            ElKind::Menu => "menu",
            ElKind::MenuItem => "menu_item",
            ElKind::ListItem => "list_item",
            ElKind::SidebarItem => "sidebar_item",
            ElKind::Tab => "tab",
            ElKind::Link => "link",
            ElKind::Close => "close_button",
            ElKind::Minimize => "minimize_button",
            ElKind::DesktopIcon => "desktop_icon",
        }
    }
}

/// A clickable element on the screen.
#[derive(Debug, Clone)]
pub struct El {
    pub kind: ElKind,
    pub label: String,
    pub rect: Rect,
    /// Index of the window it belongs to.
    pub window: Option<usize>,
    /// The open menu a menu item belongs to.
    pub menu: Option<String>,
    /// Paint order of the surface it sits on (0 = desktop).
    pub z: usize,
    pub checked: Option<bool>,
}

/// One row of a window body.
#[derive(Debug, Clone)]
pub enum Row {
    Text {
        text: String,
        bold: bool,
        size: f32,
        muted: bool,
    },
    Field {
        label: String,
        text: String,
        placeholder: bool,
        above: bool,
    },
    Check {
        label: String,
        checked: bool,
        style: CheckStyle,
    },
    Buttons(Vec<(String, bool)>),
    List {
        items: Vec<String>,
        selected: Option<usize>,
    },
    Link(String),
    Progress(f32),
}

/// How a two-state control is drawn (and named in instructions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStyle {
    Box,
    Radio,
    Toggle,
}

impl CheckStyle {
    pub fn kind(self) -> ElKind {
        match self {
            CheckStyle::Box => ElKind::Checkbox,
            CheckStyle::Radio => ElKind::Radio,
            CheckStyle::Toggle => ElKind::Toggle,
        }
    }
}

/// What a window contains.
#[derive(Debug, Clone)]
pub struct WindowSpec {
    pub title: String,
    /// "window" or "dialog", for instructions.
    pub noun: &'static str,
    pub template: &'static str,
    /// Width in logical pixels.
    pub width: f32,
    pub menubar: Vec<String>,
    pub toolbar: Vec<&'static str>,
    /// Drawn size of the toolbar icons in logical pixels (18 unless `ui.icon_rate` > 0).
    pub toolbar_px: f32,
    /// The toolbar's icons sit at the right end of the bar (a web page's header) instead
    /// of the left.
    pub toolbar_right: bool,
    /// Checkbox and switch rows are drawn as a settings list (`ui.trailing_rate`): the label
    /// at the left, the control at the right end of the row, a hairline between rows.
    pub trailing: bool,
    /// In a settings list, a muted line under each label says what the option does.
    pub notes: bool,
    pub tabs: Option<(Vec<String>, usize)>,
    pub sidebar: Option<(Vec<String>, usize)>,
    pub rows: Vec<Row>,
    pub status: Option<String>,
}

/// The muted line a settings list shows under an option's label.
fn option_note(label: &str) -> &'static str {
    match label {
        "Enable notifications" => "Show alerts for new messages and events.",
        "Start at login" => "Open the app when you sign in.",
        "Automatic updates" => "Download and install updates in the background.",
        "Show hidden files" => "List files whose names start with a dot.",
        "Dark mode" => "Use a dark background in every window.",
        "Play sounds" => "Play a sound for alerts and errors.",
        "Send usage statistics" => "Help improve the app by sending anonymous data.",
        "Show battery percentage" => "Show the charge level next to the battery icon.",
        "Include metadata" => "Keep the author, dates and tags in the file.",
        "Open after export" => "Open the exported file when it is ready.",
        "Use high quality" => "Larger files, slower to export.",
        "Subscribe to newsletter" => "At most one email a month.",
        "I agree to the terms" => "Read the terms of service before you agree.",
        "Remember me" | "Keep me signed in" | "Stay logged in" => {
            "Stay signed in on this computer."
        }
        _ => "Applies to every window of this app.",
    }
}

fn pick<'a>(rng: &mut ChaCha8Rng, xs: &[&'a str]) -> &'a str {
    xs[rng.gen_range(0..xs.len())]
}

fn some<'a>(rng: &mut ChaCha8Rng, xs: &[&'a str], lo: usize, hi: usize) -> Vec<&'a str> {
    let n = rng.gen_range(lo..=hi.min(xs.len()));
    let mut v: Vec<&str> = xs.choose_multiple(rng, n).copied().collect();
    // Keep the vocabulary order so menus and lists look natural.
    v.sort_by_key(|x| xs.iter().position(|y| y == x));
    v
}

const FILES: [&str; 14] = [
    "report.pdf",
    "budget.xlsx",
    "photo_0412.jpg",
    "notes.txt",
    "slides.pptx",
    "invoice_2023.pdf",
    "README.md",
    "archive.zip",
    "song.mp3",
    "draft.docx",
    "data.csv",
    "logo.svg",
    "backup.tar.gz",
    "todo.md",
];
const WORDS: [&str; 40] = [
    "the",
    "quarterly",
    "results",
    "were",
    "better",
    "than",
    "expected",
    "and",
    "our",
    "team",
    "will",
    "review",
    "them",
    "on",
    "Monday",
    "before",
    "sending",
    "a",
    "summary",
    "to",
    "everyone",
    "please",
    "check",
    "figures",
    "in",
    "second",
    "section",
    "carefully",
    "meeting",
    "notes",
    "from",
    "last",
    "week",
    "are",
    "attached",
    "below",
    "with",
    "new",
    "plan",
    "ideas",
];

fn sentence(rng: &mut ChaCha8Rng, n: usize) -> String {
    let mut s: Vec<&str> = (0..n).map(|_| pick(rng, &WORDS)).collect();
    let first = s.first().map(|w| {
        let mut c = w.chars();
        c.next().map_or_else(String::new, |f| {
            f.to_uppercase().chain(c).collect::<String>()
        })
    });
    let mut out = first.unwrap_or_default();
    s.remove(0);
    for w in s {
        out.push(' ');
        out.push_str(w);
    }
    out.push('.');
    out
}

fn buttons(rng: &mut ChaCha8Rng, sets: &[&[&str]]) -> Row {
    let set = sets[rng.gen_range(0..sets.len())];
    Row::Buttons(
        set.iter()
            .enumerate()
            .map(|(i, b)| (b.to_string(), i + 1 == set.len()))
            .collect(),
    )
}

/// The menus of an application menu bar, and the items each menu opens.
pub fn menu_items(menu: &str) -> &'static [&'static str] {
    match menu {
        "File" => &[
            "New",
            "Open…",
            "Save",
            "Save As…",
            "Export…",
            "Print…",
            "Close",
        ],
        "Edit" => &[
            "Undo",
            "Redo",
            "Cut",
            "Copy",
            "Paste",
            "Select All",
            "Find…",
        ],
        "View" => &[
            "Zoom In",
            "Zoom Out",
            "Full Screen",
            "Show Sidebar",
            "Word Wrap",
        ],
        "Insert" => &["Image…", "Table", "Hyperlink", "Page Break", "Comment"],
        "Format" => &["Bold", "Italic", "Underline", "Font…", "Paragraph…"],
        "Tools" => &["Spelling", "Word Count", "Macros", "Options…"],
        _ => &[
            "Documentation",
            "Keyboard Shortcuts",
            "Check for Updates",
            "About",
        ],
    }
}

/// A random window of one of the templates.
pub fn random_spec(rng: &mut ChaCha8Rng) -> WindowSpec {
    let mut spec = WindowSpec {
        title: String::new(),
        noun: "window",
        template: "",
        width: 420.0,
        menubar: Vec::new(),
        toolbar: Vec::new(),
        toolbar_px: 18.0,
        toolbar_right: false,
        trailing: false,
        notes: false,
        tabs: None,
        sidebar: None,
        rows: Vec::new(),
        status: None,
    };
    let above = rng.gen_bool(0.4);
    let field = |label: &str, text: &str, placeholder: bool| Row::Field {
        label: label.into(),
        text: text.into(),
        placeholder,
        above,
    };
    match rng.gen_range(0..6) {
        0 => {
            spec.template = "login";
            spec.title = pick(rng, &["Sign In", "Log In", "Welcome Back", "Account Login"]).into();
            spec.width = rng.gen_range(340.0..420.0);
            if rng.gen_bool(0.5) {
                spec.rows.push(Row::Text {
                    text: pick(
                        rng,
                        &[
                            "Sign in to continue",
                            "Enter your credentials",
                            "Use your work account",
                        ],
                    )
                    .into(),
                    bold: true,
                    size: 1.15,
                    muted: false,
                });
            }
            let user = pick(rng, &["Email", "Username", "Email address"]);
            spec.rows.push(field(
                user,
                pick(rng, &["name@example.com", "jane.doe@mail.com", ""]),
                rng.gen_bool(0.6),
            ));
            spec.rows.push(field("Password", "••••••••", false));
            spec.rows.push(Row::Check {
                label: pick(rng, &["Remember me", "Keep me signed in", "Stay logged in"]).into(),
                checked: rng.gen_bool(0.4),
                style: if rng.gen_bool(0.3) {
                    CheckStyle::Toggle
                } else {
                    CheckStyle::Box
                },
            });
            if rng.gen_bool(0.6) {
                spec.rows.push(Row::Link(
                    pick(
                        rng,
                        &["Forgot password?", "Create an account", "Need help?"],
                    )
                    .into(),
                ));
            }
            spec.rows.push(buttons(
                rng,
                &[
                    &["Cancel", "Sign in"],
                    &["Cancel", "Log in"],
                    &["Sign up", "Continue"],
                ],
            ));
        }
        1 => {
            spec.template = "settings";
            spec.title = pick(
                rng,
                &["Settings", "Preferences", "Options", "System Settings"],
            )
            .into();
            spec.width = rng.gen_range(520.0..640.0);
            let sections = some(
                rng,
                &[
                    "General",
                    "Appearance",
                    "Privacy",
                    "Network",
                    "Notifications",
                    "Sound",
                    "Accounts",
                    "Display",
                    "Keyboard",
                    "Updates",
                ],
                5,
                8,
            );
            let sel = rng.gen_range(0..sections.len());
            if rng.gen_bool(0.6) {
                spec.sidebar = Some((sections.iter().map(|s| s.to_string()).collect(), sel));
            } else {
                let tabs = some(
                    rng,
                    &["General", "Advanced", "Security", "Sharing", "Accounts"],
                    3,
                    4,
                );
                let active = rng.gen_range(0..tabs.len());
                spec.tabs = Some((tabs.iter().map(|s| s.to_string()).collect(), active));
            }
            // Settings pages draw their on/off options as switches as often as as boxes.
            let switches = if rng.gen_bool(0.5) {
                CheckStyle::Toggle
            } else {
                CheckStyle::Box
            };
            for label in some(
                rng,
                &[
                    "Enable notifications",
                    "Start at login",
                    "Automatic updates",
                    "Show hidden files",
                    "Dark mode",
                    "Play sounds",
                    "Send usage statistics",
                    "Show battery percentage",
                ],
                2,
                4,
            ) {
                spec.rows.push(Row::Check {
                    label: label.into(),
                    checked: rng.gen_bool(0.5),
                    style: switches,
                });
            }
            if rng.gen_bool(0.5) {
                let group = [
                    ["Light", "Dark", "System"],
                    ["Small", "Medium", "Large"],
                    ["Daily", "Weekly", "Monthly"],
                    ["Never", "Always", "Ask first"],
                ][rng.gen_range(0..4)];
                let n = rng.gen_range(2..=3);
                let on = rng.gen_range(0..n);
                for (i, label) in group.iter().take(n).enumerate() {
                    spec.rows.push(Row::Check {
                        label: (*label).into(),
                        checked: i == on,
                        style: CheckStyle::Radio,
                    });
                }
            }
            for label in some(
                rng,
                &[
                    "Display name",
                    "Computer name",
                    "Language",
                    "Time zone",
                    "Proxy server",
                ],
                1,
                2,
            ) {
                let value = match label {
                    "Language" => "English (US)",
                    "Time zone" => "Europe/Berlin",
                    "Proxy server" => "proxy.local:8080",
                    "Computer name" => "workstation-07",
                    _ => "Alex Morgan",
                };
                spec.rows.push(field(label, value, false));
            }
            spec.rows.push(buttons(
                rng,
                &[
                    &["Cancel", "Apply"],
                    &["Cancel", "OK"],
                    &["Reset", "Save"],
                    &["Restore Defaults", "Apply"],
                ],
            ));
        }
        2 => {
            spec.noun = "dialog";
            let file = pick(rng, &FILES);
            match rng.gen_range(0..4) {
                0 => {
                    spec.template = "save_dialog";
                    spec.title =
                        pick(rng, &["Save Changes", "Unsaved Changes", "Text Editor"]).into();
                    spec.rows.push(Row::Text {
                        text: format!("Do you want to save the changes made to {file}?"),
                        bold: true,
                        size: 1.0,
                        muted: false,
                    });
                    spec.rows.push(Row::Text {
                        text: "Your changes will be lost if you don't save them.".into(),
                        bold: false,
                        size: 0.95,
                        muted: true,
                    });
                    spec.rows.push(buttons(
                        rng,
                        &[
                            &["Don't Save", "Cancel", "Save"],
                            &["Discard", "Cancel", "Save"],
                        ],
                    ));
                }
                1 => {
                    spec.template = "delete_dialog";
                    spec.title =
                        pick(rng, &["Delete File", "Confirm Delete", "Move to Trash"]).into();
                    spec.rows.push(Row::Text {
                        text: format!("Are you sure you want to delete {file}?"),
                        bold: true,
                        size: 1.0,
                        muted: false,
                    });
                    spec.rows.push(Row::Text {
                        text: "This action cannot be undone.".into(),
                        bold: false,
                        size: 0.95,
                        muted: true,
                    });
                    spec.rows
                        .push(buttons(rng, &[&["Cancel", "Delete"], &["Keep", "Delete"]]));
                }
                2 => {
                    spec.template = "export_dialog";
                    spec.title = pick(rng, &["Export", "Export As", "Export Image"]).into();
                    spec.rows.push(field("File name", file, false));
                    spec.rows.push(field(
                        "Format",
                        pick(rng, &["PNG", "PDF", "JPEG", "CSV"]),
                        false,
                    ));
                    spec.rows.push(Row::Check {
                        label: pick(
                            rng,
                            &["Include metadata", "Open after export", "Use high quality"],
                        )
                        .into(),
                        checked: rng.gen_bool(0.5),
                        style: if rng.gen_bool(0.3) {
                            CheckStyle::Toggle
                        } else {
                            CheckStyle::Box
                        },
                    });
                    if rng.gen_bool(0.4) {
                        let on = rng.gen_range(0..3);
                        for (i, label) in ["Low", "Medium", "High"].iter().enumerate() {
                            spec.rows.push(Row::Check {
                                label: format!("{label} quality"),
                                checked: i == on,
                                style: CheckStyle::Radio,
                            });
                        }
                    }
                    spec.rows.push(buttons(rng, &[&["Cancel", "Export"]]));
                }
                _ => {
                    spec.template = "update_dialog";
                    spec.title =
                        pick(rng, &["Software Update", "Update Available", "Downloading"]).into();
                    spec.rows.push(Row::Text {
                        text: format!(
                            "Version {}.{}.{} is ready to install.",
                            rng.gen_range(2..9),
                            rng.gen_range(0..20),
                            rng.gen_range(0..10)
                        ),
                        bold: true,
                        size: 1.0,
                        muted: false,
                    });
                    spec.rows.push(Row::Progress(rng.gen_range(0.1..1.0)));
                    spec.rows.push(buttons(
                        rng,
                        &[
                            &["Later", "Install Now"],
                            &["Remind Me Later", "Update"],
                            &["Skip", "OK"],
                        ],
                    ));
                }
            }
            spec.width = rng.gen_range(380.0..480.0);
        }
        3 => {
            spec.template = "editor";
            let file = pick(
                rng,
                &[
                    "notes.txt",
                    "draft.docx",
                    "README.md",
                    "letter.odt",
                    "todo.md",
                ],
            );
            spec.title = format!(
                "{file} – {}",
                pick(rng, &["Text Editor", "Writer", "Notepad", "Editor"])
            );
            spec.width = rng.gen_range(520.0..700.0);
            let menus = ["File", "Edit", "View", "Insert", "Format", "Tools", "Help"];
            let n = rng.gen_range(4..=7);
            spec.menubar = menus[..n].iter().map(|s| s.to_string()).collect();
            spec.menubar.truncate(n);
            if let Some(last) = spec.menubar.last_mut() {
                if n < 7 && rng.gen_bool(0.5) {
                    *last = "Help".into();
                }
            }
            if rng.gen_bool(0.8) {
                spec.toolbar = some(rng, &ICONS, 4, 7);
                spec.toolbar.shuffle(rng);
            }
            for _ in 0..rng.gen_range(4..9) {
                let n = rng.gen_range(6..11);
                spec.rows.push(Row::Text {
                    text: sentence(rng, n),
                    bold: false,
                    size: 1.0,
                    muted: false,
                });
            }
            spec.status = Some(format!(
                "Ln {}, Col {}",
                rng.gen_range(1..120),
                rng.gen_range(1..60)
            ));
        }
        4 => {
            spec.template = "files";
            spec.title = pick(
                rng,
                &[
                    "Files",
                    "Documents",
                    "Downloads",
                    "Open File",
                    "File Explorer",
                ],
            )
            .into();
            spec.width = rng.gen_range(440.0..600.0);
            spec.toolbar = some(
                rng,
                &[
                    "home", "search", "plus", "trash", "folder", "star", "download", "gear",
                ],
                3,
                6,
            );
            let files = some(rng, &FILES, 4, 8);
            let selected = rng.gen_bool(0.6).then(|| rng.gen_range(0..files.len()));
            spec.rows.push(Row::List {
                items: files.iter().map(|s| s.to_string()).collect(),
                selected,
            });
            if rng.gen_bool(0.5) {
                spec.rows.push(field(
                    "Name",
                    files.first().copied().unwrap_or("untitled"),
                    false,
                ));
            }
            spec.rows.push(buttons(
                rng,
                &[
                    &["Cancel", "Open"],
                    &["Cancel", "Select"],
                    &["Close", "Upload"],
                ],
            ));
        }
        _ => {
            spec.template = "form";
            spec.title = pick(
                rng,
                &[
                    "New Contact",
                    "Add User",
                    "Register",
                    "Create Account",
                    "Shipping Address",
                    "Checkout",
                ],
            )
            .into();
            spec.width = rng.gen_range(380.0..500.0);
            let fields = some(
                rng,
                &[
                    "First name",
                    "Last name",
                    "Email",
                    "Phone",
                    "Company",
                    "Address",
                    "City",
                    "Postal code",
                    "Country",
                    "Username",
                ],
                3,
                5,
            );
            for f in fields {
                let (text, ph) = match f {
                    "Email" => ("name@example.com", true),
                    "Phone" => ("+1 555 0100", rng.gen_bool(0.5)),
                    "Postal code" => ("10115", false),
                    "Country" => ("Germany", false),
                    "City" => ("Lisbon", false),
                    _ => ("", true),
                };
                spec.rows.push(field(f, text, ph));
            }
            spec.rows.push(Row::Check {
                label: pick(
                    rng,
                    &[
                        "Subscribe to newsletter",
                        "I agree to the terms",
                        "Make this my default address",
                        "Send me updates",
                    ],
                )
                .into(),
                checked: rng.gen_bool(0.3),
                style: CheckStyle::Box,
            });
            spec.rows.push(buttons(
                rng,
                &[
                    &["Cancel", "Create"],
                    &["Back", "Continue"],
                    &["Reset", "Submit"],
                    &["Cancel", "Add"],
                ],
            ));
        }
    }
    spec
}

/// Lays out and (with an image) paints windows and their elements.
pub struct Pen<'a> {
    pub fonts: &'a Fonts,
    pub theme: &'a Theme,
    pub m: Metrics,
    pub els: Vec<El>,
    /// Every text drawn, with its window (for uniqueness checks).
    pub texts: Vec<(String, Option<usize>)>,
}

impl Pen<'_> {
    /// Lays out (and paints, with an image) one text run left-aligned at `x`, centred on
    /// `cy`; returns its width.
    fn text(
        &mut self,
        img: &mut Option<&mut RgbImage>,
        ink: Ink,
        (x, cy): (i32, f32),
        s: &str,
        win: Option<usize>,
    ) -> i32 {
        if let Some(img) = img.as_deref_mut() {
            self.fonts.draw_centered_v(img, ink, x as f32, cy, s);
            if !s.is_empty() {
                self.texts.push((s.to_string(), win));
            }
        }
        self.fonts.width(ink.weight, ink.px, s).ceil() as i32
    }

    /// Records an element, on the painting pass only.
    fn el(&mut self, img: &Option<&mut RgbImage>, el: El) {
        if img.is_some() {
            self.els.push(el);
        }
    }

    fn button(
        &mut self,
        img: &mut Option<&mut RgbImage>,
        r: Rect,
        label: &str,
        primary: bool,
        win: Option<usize>,
        z: usize,
    ) {
        let t = self.theme.clone();
        let m = self.m;
        if let Some(im) = img.as_deref_mut() {
            if t.style == Style::Classic {
                bevel(im, r, t.button, false);
                if primary {
                    crate::canvas::stroke_rect(im, r.inset(-1), 1, [0, 0, 0]);
                }
            } else if primary {
                fill_round_rect(im, r, t.radius * m.scale, t.accent);
            } else {
                bordered_round_rect(
                    im,
                    r,
                    t.radius * m.scale,
                    m.d(1.0).max(1),
                    t.button,
                    t.border,
                );
            }
        }
        let (fg, wgt) = if primary && t.style != Style::Classic {
            (t.on_accent, Weight::Bold)
        } else {
            (t.button_text, Weight::Regular)
        };
        let tw = self.fonts.width(wgt, m.font, label);
        let (cx, cy) = r.center();
        self.text(
            img,
            Ink::new(wgt, m.font, fg),
            ((cx - tw / 2.0).round() as i32, cy),
            label,
            win,
        );
        self.el(
            img,
            El {
                kind: ElKind::Button,
                label: label.to_string(),
                rect: r,
                window: win,
                menu: None,
                z,
                checked: None,
            },
        );
    }

    /// Lays out window `spec` at `(ox, oy)`; paints it when `img` is given. Returns its size.
    pub fn window(
        &mut self,
        mut img: Option<&mut RgbImage>,
        spec: &WindowSpec,
        ox: i32,
        oy: i32,
        win: usize,
        active: bool,
    ) -> (i32, i32) {
        let t = self.theme.clone();
        let m = self.m;
        let d = |v: f32| m.d(v);
        // Wide enough for the longest text row and the button row.
        let side = if spec.sidebar.is_some() { d(150.0) } else { 0 };
        let need = spec
            .rows
            .iter()
            .map(|r| match r {
                Row::Text {
                    text, bold, size, ..
                } => {
                    let wt = if *bold { Weight::Bold } else { Weight::Regular };
                    self.fonts.width(wt, m.font * size, text).ceil() as i32
                }
                Row::Buttons(bs) => bs
                    .iter()
                    .map(|(l, _)| {
                        (self.fonts.width(Weight::Bold, m.font, l).ceil() as i32 + d(32.0))
                            .max(d(80.0))
                            + d(8.0)
                    })
                    .sum(),
                // A settings list's label (and note) and, across a gap, its control.
                Row::Check { label, style, .. } if spec.trailing && *style != CheckStyle::Radio => {
                    let label_w = self.fonts.width(Weight::Regular, m.font, label);
                    let note_w = if spec.notes {
                        self.fonts
                            .width(Weight::Regular, m.font * 0.88, option_note(label))
                    } else {
                        0.0
                    };
                    label_w.max(note_w).ceil() as i32 + d(24.0) + d(34.0)
                }
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        let w = d(spec.width).max(need + side + 2 * d(16.0) + 4);
        let win_id = Some(win);
        let z = win + 1;
        let font = m.font;
        // Frame and title bar need the height, known from a measuring pass.
        let h = if img.is_some() {
            let mut probe = Pen {
                fonts: self.fonts,
                theme: self.theme,
                m,
                els: Vec::new(),
                texts: Vec::new(),
            };
            probe.window(None, spec, ox, oy, win, active).1
        } else {
            0
        };
        let frame = Rect::new(ox, oy, w, h);
        let rad = t.radius * m.scale;
        let tb = match t.style {
            Style::Mac => d(28.0),
            Style::Win => d(32.0),
            Style::Classic => d(24.0),
        };
        if let Some(im) = img.as_deref_mut() {
            match t.style {
                Style::Classic => {
                    bevel(im, frame, t.window, false);
                    let bar = Rect::new(ox + 3, oy + 3, w - 6, tb);
                    let (a, b) = if active {
                        (t.title_bg, [166, 202, 240])
                    } else {
                        (t.title_inactive, [192, 192, 192])
                    };
                    for dx in 0..bar.w {
                        fill_rect(
                            im,
                            Rect::new(bar.x + dx, bar.y, 1, bar.h),
                            mix(a, b, dx as f32 / bar.w as f32),
                        );
                    }
                }
                _ => {
                    drop_shadow(
                        im,
                        frame,
                        rad,
                        d(if active { 14.0 } else { 8.0 }),
                        if active { 0.35 } else { 0.2 },
                    );
                    bordered_round_rect(im, frame, rad, 1, t.window, t.border);
                    let title = if active { t.title_bg } else { t.title_inactive };
                    fill_round_rect(
                        im,
                        Rect::new(ox + 1, oy + 1, w - 2, tb + rad.ceil() as i32),
                        (rad - 1.0).max(0.0),
                        title,
                    );
                    fill_rect(
                        im,
                        Rect::new(ox + 1, oy + tb, w - 2, rad.ceil() as i32 + 1),
                        t.window,
                    );
                    fill_rect(
                        im,
                        Rect::new(ox + 1, oy + tb, w - 2, 1),
                        mix(t.border, title, 0.3),
                    );
                }
            }
        }
        // Title bar controls and title.
        let title_px = font * 1.0;
        let title_w = self.fonts.width(Weight::Bold, title_px, &spec.title);
        let title_fg = if t.style == Style::Classic || active {
            t.title_text
        } else {
            t.muted
        };
        let tcy = oy as f32 + tb as f32 / 2.0 + if t.style == Style::Classic { 3.0 } else { 0.0 };
        match t.style {
            Style::Mac => {
                let r = d(6.0) as f32;
                for (i, (c, kind)) in [
                    ([255, 95, 87], Some(ElKind::Close)),
                    ([254, 188, 46], Some(ElKind::Minimize)),
                    ([40, 200, 64], None),
                ]
                .into_iter()
                .enumerate()
                {
                    let cx = ox as f32 + d(18.0 + 20.0 * i as f32) as f32;
                    let col = if active {
                        c
                    } else {
                        mix(t.window, [128, 128, 128], 0.4)
                    };
                    if let Some(im) = img.as_deref_mut() {
                        fill_circle(im, cx, tcy, r, col);
                    }
                    if let Some(kind) = kind {
                        let box_r = Rect::new(
                            (cx - r).floor() as i32 - 2,
                            (tcy - r).floor() as i32 - 2,
                            (2.0 * r) as i32 + 4,
                            (2.0 * r) as i32 + 4,
                        );
                        self.el(
                            &img,
                            El {
                                kind,
                                label: spec.title.to_string(),
                                rect: box_r,
                                window: win_id,
                                menu: None,
                                z,
                                checked: None,
                            },
                        );
                    }
                }
                let x = (ox as f32 + (w as f32 - title_w) / 2.0).round() as i32;
                self.text(
                    &mut img,
                    Ink::new(Weight::Bold, title_px, title_fg),
                    (x, tcy),
                    &spec.title,
                    win_id,
                );
            }
            Style::Win | Style::Classic => {
                let classic = t.style == Style::Classic;
                let (bw, bh) = if classic {
                    (d(18.0), d(16.0))
                } else {
                    (d(46.0), tb)
                };
                let right = ox + w - if classic { 6 } else { 1 };
                for (i, kind) in [Some(ElKind::Close), None, Some(ElKind::Minimize)]
                    .into_iter()
                    .enumerate()
                {
                    let bx = right - (i as i32 + 1) * bw - if classic { i as i32 * 2 } else { 0 };
                    let r = Rect::new(
                        bx,
                        if classic {
                            (tcy - bh as f32 / 2.0) as i32
                        } else {
                            oy + 1
                        },
                        bw,
                        bh,
                    );
                    let (cx, cy) = r.center();
                    let k = d(5.0) as f32;
                    let fg = if classic { [0, 0, 0] } else { title_fg };
                    if let Some(im) = img.as_deref_mut() {
                        if classic {
                            bevel(im, r, t.button, false);
                        }
                        let lw = (m.scale * 1.2).max(1.0);
                        match i {
                            0 => {
                                line(im, (cx - k, cy - k), (cx + k, cy + k), lw, fg);
                                line(im, (cx - k, cy + k), (cx + k, cy - k), lw, fg);
                            }
                            1 => crate::canvas::stroke_rect(
                                im,
                                Rect::new(
                                    (cx - k) as i32,
                                    (cy - k) as i32,
                                    (2.0 * k) as i32,
                                    (2.0 * k) as i32,
                                ),
                                lw.round() as i32,
                                fg,
                            ),
                            _ => line(im, (cx - k, cy + k * 0.6), (cx + k, cy + k * 0.6), lw, fg),
                        }
                    }
                    // The maximise control is painted but never a target: systems disagree on
                    // whether it maximises or zooms.
                    if let Some(kind) = kind {
                        self.el(
                            &img,
                            El {
                                kind,
                                label: spec.title.to_string(),
                                rect: r,
                                window: win_id,
                                menu: None,
                                z,
                                checked: None,
                            },
                        );
                    }
                }
                let x = ox + d(12.0) + 3;
                self.text(
                    &mut img,
                    Ink::new(
                        if classic {
                            Weight::Bold
                        } else {
                            Weight::Regular
                        },
                        title_px,
                        title_fg,
                    ),
                    (x, tcy),
                    &spec.title,
                    win_id,
                );
            }
        }
        let mut y = oy + tb + if t.style == Style::Classic { 4 } else { 0 };
        let inner_x = ox + if t.style == Style::Classic { 4 } else { 1 };
        let inner_w = w - if t.style == Style::Classic { 8 } else { 2 };
        // Menu bar.
        if !spec.menubar.is_empty() {
            let bh = d(26.0);
            if let Some(im) = img.as_deref_mut() {
                fill_rect(im, Rect::new(inner_x, y, inner_w, bh), t.bar);
            }
            let mut x = inner_x + d(6.0);
            for label in &spec.menubar {
                let tw = self.fonts.width(Weight::Regular, font, label).ceil() as i32;
                let r = Rect::new(x, y + d(2.0), tw + d(16.0), bh - d(4.0));
                self.text(
                    &mut img,
                    Ink::new(Weight::Regular, font, t.text),
                    (x + d(8.0), r.center().1),
                    label,
                    win_id,
                );
                self.el(
                    &img,
                    El {
                        kind: ElKind::Menu,
                        label: label.to_string(),
                        rect: r,
                        window: win_id,
                        menu: None,
                        z,
                        checked: None,
                    },
                );
                x += r.w;
            }
            y += bh;
        }
        // Toolbar.
        if !spec.toolbar.is_empty() {
            let bh = d(38.0);
            if let Some(im) = img.as_deref_mut() {
                fill_rect(
                    im,
                    Rect::new(inner_x, y, inner_w, bh),
                    mix(t.bar, t.window, 0.5),
                );
                fill_rect(im, Rect::new(inner_x, y + bh - 1, inner_w, 1), t.border);
            }
            // An 18-px icon in a 30-px slot; other icon sizes keep the 6-px margin and are
            // centred in the 38-px bar.
            let px = spec.toolbar_px.clamp(10.0, 26.0);
            let slot = d(px + 12.0);
            let n = spec.toolbar.len() as i32;
            let mut x = if spec.toolbar_right {
                inner_x + inner_w - d(8.0) - n * (slot + d(4.0))
            } else {
                inner_x + d(8.0)
            };
            for (i, icon) in spec.toolbar.iter().enumerate() {
                let r = Rect::new(x, y + (bh - slot) / 2, slot, slot);
                if let Some(im) = img.as_deref_mut() {
                    let ir = Rect::new(r.x + d(6.0), r.y + d(6.0), d(px), d(px));
                    draw_icon(
                        im,
                        icon,
                        ir,
                        if i % 3 == 1 { t.accent } else { t.muted },
                        mix(t.bar, t.window, 0.5),
                    );
                }
                self.el(
                    &img,
                    El {
                        kind: ElKind::Icon,
                        label: icon.to_string(),
                        rect: r,
                        window: win_id,
                        menu: None,
                        z,
                        checked: None,
                    },
                );
                x += r.w + d(4.0);
            }
            y += bh;
        }
        // Tabs.
        if let Some((tabs, active_tab)) = &spec.tabs {
            let bh = d(34.0);
            let mut x = inner_x + d(16.0);
            for (i, label) in tabs.iter().enumerate() {
                let tw = self.fonts.width(Weight::Regular, font, label).ceil() as i32;
                let r = Rect::new(x, y + d(4.0), tw + d(24.0), bh - d(4.0));
                if let (Some(im), true) = (img.as_deref_mut(), i == *active_tab) {
                    fill_rect(
                        im,
                        Rect::new(r.x, r.bottom() - d(2.0), r.w, d(2.0)),
                        t.accent,
                    );
                }
                let fg = if i == *active_tab { t.text } else { t.muted };
                self.text(
                    &mut img,
                    Ink::new(Weight::Regular, font, fg),
                    (x + d(12.0), r.center().1),
                    label,
                    win_id,
                );
                self.el(
                    &img,
                    El {
                        kind: ElKind::Tab,
                        label: label.to_string(),
                        rect: r,
                        window: win_id,
                        menu: None,
                        z,
                        checked: None,
                    },
                );
                x += r.w + d(4.0);
            }
            if let Some(im) = img.as_deref_mut() {
                fill_rect(im, Rect::new(inner_x, y + bh, inner_w, 1), t.border);
            }
            y += bh + 1;
        }
        // Sidebar and body.
        let pad = d(16.0);
        let body_top = y;
        let mut x0 = inner_x + pad;
        let status_h = if spec.status.is_some() { d(24.0) } else { 0 };
        if let Some((items, sel)) = &spec.sidebar {
            let sw = d(150.0);
            if let Some(im) = img.as_deref_mut() {
                let sh =
                    (oy + h - status_h - body_top - if rad > 0.0 { rad as i32 } else { 1 }).max(0);
                fill_rect(im, Rect::new(inner_x, body_top, sw, sh), t.bar);
                fill_rect(im, Rect::new(inner_x + sw, body_top, 1, sh), t.border);
            }
            let mut sy = body_top + d(10.0);
            for (i, label) in items.iter().enumerate() {
                let r = Rect::new(inner_x + d(8.0), sy, sw - d(16.0), d(28.0));
                if let (Some(im), true) = (img.as_deref_mut(), i == *sel) {
                    fill_round_rect(im, r, t.radius * m.scale, t.selection);
                }
                let fg = if i == *sel { t.on_selection() } else { t.text };
                self.text(
                    &mut img,
                    Ink::new(Weight::Regular, font, fg),
                    (r.x + d(10.0), r.center().1),
                    label,
                    win_id,
                );
                self.el(
                    &img,
                    El {
                        kind: ElKind::SidebarItem,
                        label: label.to_string(),
                        rect: r,
                        window: win_id,
                        menu: None,
                        z,
                        checked: None,
                    },
                );
                sy += r.h + d(2.0);
            }
            y = y.max(sy);
            x0 = inner_x + sw + pad;
        }
        let body_w = ox + w - pad - x0;
        let label_col = spec
            .rows
            .iter()
            .filter_map(|r| match r {
                Row::Field {
                    label,
                    above: false,
                    ..
                } => Some(self.fonts.width(Weight::Regular, font, label).ceil() as i32),
                _ => None,
            })
            .max()
            .map_or(0, |w| w + d(12.0));
        let mut cy = body_top + pad;
        let line_h = (font * 1.5).round() as i32;
        for row in &spec.rows {
            match row {
                Row::Text {
                    text,
                    bold,
                    size,
                    muted,
                } => {
                    let px = font * size;
                    let hh = (px * 1.5).round() as i32;
                    let fg = if *muted { t.muted } else { t.text };
                    self.text(
                        &mut img,
                        Ink::new(if *bold { Weight::Bold } else { Weight::Regular }, px, fg),
                        (x0, cy as f32 + hh as f32 / 2.0),
                        text,
                        win_id,
                    );
                    cy += hh + d(2.0);
                }
                Row::Field {
                    label,
                    text,
                    placeholder,
                    above,
                } => {
                    let fh = d(30.0);
                    let (fx, fy) = if *above {
                        self.text(
                            &mut img,
                            Ink::new(Weight::Regular, font * 0.95, t.text),
                            (x0, cy as f32 + line_h as f32 / 2.0),
                            label,
                            win_id,
                        );
                        (x0, cy + line_h)
                    } else {
                        self.text(
                            &mut img,
                            Ink::new(Weight::Regular, font, t.text),
                            (x0, cy as f32 + fh as f32 / 2.0),
                            label,
                            win_id,
                        );
                        (x0 + label_col, cy)
                    };
                    let r = Rect::new(fx, fy, x0 + body_w - fx, fh);
                    if let Some(im) = img.as_deref_mut() {
                        if t.style == Style::Classic {
                            bevel(im, r, t.field, true);
                        } else {
                            bordered_round_rect(
                                im,
                                r,
                                t.radius * m.scale * 0.75,
                                1,
                                t.field,
                                t.border,
                            );
                        }
                    }
                    let fg = if *placeholder { t.muted } else { t.text };
                    self.text(
                        &mut img,
                        Ink::new(Weight::Regular, font, fg),
                        (r.x + d(8.0), r.center().1),
                        text,
                        win_id,
                    );
                    self.el(
                        &img,
                        El {
                            kind: ElKind::TextField,
                            label: label.to_string(),
                            rect: r,
                            window: win_id,
                            menu: None,
                            z,
                            checked: None,
                        },
                    );
                    cy = fy + fh + d(10.0);
                }
                Row::Check {
                    label,
                    checked,
                    style,
                } => {
                    let bs = d(16.0);
                    let listed = spec.trailing && *style != CheckStyle::Radio;
                    let hh = match (listed, spec.notes) {
                        (false, _) => d(24.0),
                        (true, false) => d(34.0),
                        (true, true) => d(44.0),
                    };
                    let (cw, ch) = match style {
                        CheckStyle::Toggle => (d(34.0), d(18.0)),
                        _ => (bs, bs),
                    };
                    let cx0 = if listed { x0 + body_w - cw } else { x0 };
                    let r = Rect::new(cx0, cy + (hh - ch) / 2, cw, ch);
                    let edge = mix(t.border, t.text, 0.2);
                    if let (Some(im), CheckStyle::Radio) = (img.as_deref_mut(), style) {
                        let (cx, ccy) = r.center();
                        let rad = bs as f32 / 2.0;
                        let ring = if *checked { t.accent } else { edge };
                        fill_circle(im, cx, ccy, rad, ring);
                        fill_circle(im, cx, ccy, rad - (m.scale * 1.3).max(1.0), t.field);
                        if *checked {
                            fill_circle(im, cx, ccy, rad * 0.5, t.accent);
                        }
                    } else if let (Some(im), CheckStyle::Toggle) = (img.as_deref_mut(), style) {
                        let track = if *checked {
                            t.accent
                        } else {
                            mix(t.border, t.field, 0.3)
                        };
                        fill_round_rect(im, r, r.h as f32 / 2.0, track);
                        let kr = r.h as f32 / 2.0 - (m.scale * 2.0).max(1.5);
                        let (_, ccy) = r.center();
                        let kx = if *checked {
                            (r.x + r.w) as f32 - r.h as f32 / 2.0
                        } else {
                            r.x as f32 + r.h as f32 / 2.0
                        };
                        fill_circle(im, kx, ccy, kr, [255, 255, 255]);
                    } else if let Some(im) = img.as_deref_mut() {
                        if t.style == Style::Classic {
                            bevel(im, r, t.field, true);
                        } else if *checked {
                            fill_round_rect(im, r, (t.radius * 0.5 * m.scale).max(2.0), t.accent);
                        } else {
                            bordered_round_rect(
                                im,
                                r,
                                (t.radius * 0.5 * m.scale).max(2.0),
                                1,
                                t.field,
                                mix(t.border, t.text, 0.2),
                            );
                        }
                        if *checked {
                            let (cx, ccy) = r.center();
                            let k = bs as f32 * 0.28;
                            let fg = if t.style == Style::Classic {
                                [0, 0, 0]
                            } else {
                                t.on_accent
                            };
                            polyline(
                                im,
                                &[
                                    (cx - k, ccy),
                                    (cx - k * 0.3, ccy + k * 0.7),
                                    (cx + k, ccy - k * 0.7),
                                ],
                                (m.scale * 1.8).max(1.5),
                                fg,
                            );
                        }
                    }
                    if listed {
                        let note = spec.notes.then(|| option_note(label));
                        let label_y = if note.is_some() {
                            cy as f32 + hh as f32 * 0.32
                        } else {
                            cy as f32 + hh as f32 / 2.0
                        };
                        self.text(
                            &mut img,
                            Ink::new(Weight::Regular, font, t.text),
                            (x0, label_y),
                            label,
                            win_id,
                        );
                        if let Some(note) = note {
                            self.text(
                                &mut img,
                                Ink::new(Weight::Regular, font * 0.88, t.muted),
                                (x0, cy as f32 + hh as f32 * 0.74),
                                note,
                                win_id,
                            );
                        }
                        if let Some(im) = img.as_deref_mut() {
                            fill_rect(im, Rect::new(x0, cy + hh + d(3.0), body_w, 1), t.border);
                        }
                    } else {
                        self.text(
                            &mut img,
                            Ink::new(Weight::Regular, font, t.text),
                            (x0 + r.w + d(8.0), cy as f32 + hh as f32 / 2.0),
                            label,
                            win_id,
                        );
                    }
                    self.el(
                        &img,
                        El {
                            kind: style.kind(),
                            label: label.to_string(),
                            rect: r,
                            window: win_id,
                            menu: None,
                            z,
                            checked: Some(*checked),
                        },
                    );
                    cy += hh + d(if listed { 7.0 } else { 6.0 });
                }
                Row::Buttons(bs) => {
                    cy += d(6.0);
                    let bh = d(30.0);
                    let widths: Vec<i32> = bs
                        .iter()
                        .map(|(l, p)| {
                            (self
                                .fonts
                                .width(if *p { Weight::Bold } else { Weight::Regular }, font, l)
                                .ceil() as i32
                                + d(32.0))
                            .max(d(80.0))
                        })
                        .collect();
                    let total: i32 = widths.iter().sum::<i32>() + d(8.0) * (bs.len() as i32 - 1);
                    let mut x = x0 + body_w - total;
                    for ((label, primary), bw) in bs.iter().zip(widths) {
                        self.button(
                            &mut img,
                            Rect::new(x, cy, bw, bh),
                            label,
                            *primary,
                            win_id,
                            z,
                        );
                        x += bw + d(8.0);
                    }
                    cy += bh + d(10.0);
                }
                Row::List { items, selected } => {
                    let rh = d(26.0);
                    let r = Rect::new(x0, cy, body_w, rh * items.len() as i32 + 2);
                    if let Some(im) = img.as_deref_mut() {
                        bordered_round_rect(im, r, t.radius * m.scale * 0.5, 1, t.field, t.border);
                    }
                    for (i, label) in items.iter().enumerate() {
                        let rr = Rect::new(x0 + 1, cy + 1 + i as i32 * rh, body_w - 2, rh);
                        let sel = *selected == Some(i);
                        if let Some(im) = img.as_deref_mut() {
                            if sel {
                                fill_rect(im, rr, t.selection);
                            } else if i % 2 == 1 {
                                fill_rect(im, rr, t.list_alt);
                            }
                            let ir = Rect::new(rr.x + d(8.0), rr.y + d(5.0), d(16.0), d(16.0));
                            draw_icon(im, "folder", ir, mix(t.accent, t.field, 0.35), t.field);
                        }
                        let fg = if sel { t.on_selection() } else { t.text };
                        self.text(
                            &mut img,
                            Ink::new(Weight::Regular, font, fg),
                            (rr.x + d(32.0), rr.center().1),
                            label,
                            win_id,
                        );
                        self.el(
                            &img,
                            El {
                                kind: ElKind::ListItem,
                                label: label.to_string(),
                                rect: rr,
                                window: win_id,
                                menu: None,
                                z,
                                checked: None,
                            },
                        );
                    }
                    cy += r.h + d(10.0);
                }
                Row::Link(label) => {
                    let tw = self.text(
                        &mut img,
                        Ink::new(Weight::Regular, font, t.accent),
                        (x0, cy as f32 + line_h as f32 / 2.0),
                        label,
                        win_id,
                    );
                    let r = Rect::new(x0 - 2, cy, tw + 4, line_h);
                    if let Some(im) = img.as_deref_mut() {
                        let base = (cy as f32
                            + line_h as f32 / 2.0
                            + self.fonts.cap_height(font) / 2.0
                            + m.scale * 2.0)
                            .round() as i32;
                        fill_rect(im, Rect::new(x0, base, tw, m.d(1.0).max(1)), t.accent);
                    }
                    self.el(
                        &img,
                        El {
                            kind: ElKind::Link,
                            label: label.to_string(),
                            rect: r,
                            window: win_id,
                            menu: None,
                            z,
                            checked: None,
                        },
                    );
                    cy += line_h + d(4.0);
                }
                Row::Progress(frac) => {
                    let r = Rect::new(x0, cy + d(6.0), body_w, d(8.0));
                    if let Some(im) = img.as_deref_mut() {
                        fill_round_rect(im, r, d(4.0) as f32, mix(t.border, t.window, 0.3));
                        fill_round_rect(
                            im,
                            Rect::new(r.x, r.y, (r.w as f32 * frac) as i32, r.h),
                            d(4.0) as f32,
                            t.accent,
                        );
                    }
                    cy += d(22.0);
                    let pct = format!("{}% complete", (frac * 100.0).round());
                    self.text(
                        &mut img,
                        Ink::new(Weight::Regular, font * 0.9, t.muted),
                        (x0, cy as f32 + line_h as f32 / 2.0),
                        &pct,
                        win_id,
                    );
                    cy += line_h + d(4.0);
                }
            }
        }
        let mut bottom = cy.max(y) + pad - d(6.0);
        if let Some(status) = &spec.status {
            if let Some(im) = img.as_deref_mut() {
                fill_rect(im, Rect::new(inner_x, bottom, inner_w, status_h - 1), t.bar);
                fill_rect(im, Rect::new(inner_x, bottom, inner_w, 1), t.border);
            }
            self.text(
                &mut img,
                Ink::new(Weight::Regular, font * 0.9, t.muted),
                (inner_x + d(10.0), bottom as f32 + status_h as f32 / 2.0),
                status,
                win_id,
            );
            bottom += status_h;
        }
        (w, bottom - oy + rad.ceil() as i32 / 2 + 1)
    }
}

/// A Windows 95 style bevel: light top-left and dark bottom-right edges (sunken swaps them).
pub fn bevel(img: &mut RgbImage, r: Rect, face: Color, sunken: bool) {
    let (hi, lo) = if sunken {
        ([128, 128, 128], [255, 255, 255])
    } else {
        ([255, 255, 255], [64, 64, 64])
    };
    fill_rect(img, r, face);
    fill_rect(img, Rect::new(r.x, r.y, r.w, 1), hi);
    fill_rect(img, Rect::new(r.x, r.y, 1, r.h), hi);
    fill_rect(img, Rect::new(r.x, r.bottom() - 1, r.w, 1), lo);
    fill_rect(img, Rect::new(r.right() - 1, r.y, 1, r.h), lo);
}
