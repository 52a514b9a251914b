//! Pointer and keyboard actions through enigo; every action is logged.

use std::time::Duration;

use enigo::{Button, Coordinate, Direction, Enigo, Keyboard, Mouse, Settings};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};

/// What to do at the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Left click.
    #[default]
    Click,
    /// Left double click.
    Double,
    /// Right click.
    Right,
    /// Move the pointer only.
    Move,
}

impl Action {
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Click => "click",
            Action::Double => "double",
            Action::Right => "right",
            Action::Move => "move",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where actions go: the real desktop ([`EnigoInput`]) or, in tests, a recorder.
pub trait Input {
    /// The pointer position in input coordinates.
    fn location(&mut self) -> Result<(i32, i32)>;
    /// Moves to `at` (input coordinates) and performs `action` there.
    fn act(&mut self, action: Action, at: (i32, i32)) -> Result<()>;
    /// Types `text` into whatever has the keyboard focus.
    fn type_text(&mut self, text: &str) -> Result<()>;
}

/// The desktop through enigo (X11 via XTEST on Linux).
pub struct EnigoInput {
    enigo: Enigo,
    typed: bool,
}

fn input_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Input(format!("{what}: {e}"))
}

/// A pause between the press and release of a double click's two clicks, and after typing
/// (see [`Drop`]); X clients read events asynchronously.
const SETTLE: Duration = Duration::from_millis(150);

impl std::fmt::Debug for EnigoInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnigoInput")
            .field("typed", &self.typed)
            .finish_non_exhaustive()
    }
}

impl EnigoInput {
    pub fn new() -> Result<Self> {
        let enigo = Enigo::new(&Settings::default())
            .map_err(|e| input_err("opening the input device", e))?;
        Ok(Self {
            enigo,
            typed: false,
        })
    }
}

impl Drop for EnigoInput {
    fn drop(&mut self) {
        // On X11 enigo types characters by binding them to spare keycodes and unbinds them
        // when dropped; an application that looks up the keysym of a key event after that
        // would read nothing. Give clients a moment to process the last key events first.
        if self.typed {
            std::thread::sleep(SETTLE);
        }
    }
}

impl Input for EnigoInput {
    fn location(&mut self) -> Result<(i32, i32)> {
        self.enigo
            .location()
            .map_err(|e| input_err("reading the pointer position", e))
    }

    fn act(&mut self, action: Action, at: (i32, i32)) -> Result<()> {
        let (x, y) = at;
        let e = &mut self.enigo;
        e.move_mouse(x, y, Coordinate::Abs)
            .map_err(|e| input_err("moving the pointer", e))?;
        let click = |e: &mut Enigo, b: Button| {
            e.button(b, Direction::Click)
                .map_err(|err| input_err("clicking", err))
        };
        match action {
            Action::Move => {}
            Action::Click => click(e, Button::Left)?,
            Action::Right => click(e, Button::Right)?,
            Action::Double => {
                click(e, Button::Left)?;
                std::thread::sleep(Duration::from_millis(40));
                click(e, Button::Left)?;
            }
        }
        tracing::info!(action = action.as_str(), x, y, "desktop action");
        Ok(())
    }

    fn type_text(&mut self, text: &str) -> Result<()> {
        self.typed = true;
        self.enigo
            .text(text)
            .map_err(|e| input_err("typing text", e))?;
        tracing::info!(chars = text.chars().count(), "desktop typed text");
        Ok(())
    }
}
