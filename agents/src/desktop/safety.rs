//! What the desktop agent refuses to do.
//!
//! - a target off the captured image or outside the chosen monitor (or outside `--bounds`);
//! - an answer that does not parse, or gives no point;
//! - a grounding whose confidence (pointer packages report one) is below `min_confidence`:
//!   a policy that is unsure where to click should not click;
//! - an answer saying the instruction names nothing on the screen (the empty list `[]` of a
//!   pointer package with the nothing head);
//! - more than `max_actions` actions in one run;
//! - anything at all while the pointer rests in a screen corner: moving the mouse into a
//!   corner is the abort gesture desktop-automation users expect (pyautogui's failsafe).
//!   The corners are those of every monitor plus the global origin (0, 0), within
//!   `corner_px` pixels, in input coordinates.

use reticle_models::geometry::Point;
use serde::Serialize;

use super::mapping::{Mapped, Rect, ScreenMap};

/// Safety limits (from the command line).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SafetyConfig {
    /// The most actions (click, move, type) one run may perform.
    pub max_actions: usize,
    /// How close to a corner (in input pixels, per axis) counts as "in the corner".
    pub corner_px: i32,
    /// An optional region, in logical global coordinates, that targets must fall in.
    pub bounds: Option<Rect>,
    /// The lowest confidence acted on; groundings without one (ReticleVLM) are not checked.
    pub min_confidence: f32,
}

/// The default `--min-confidence`.
pub const DEFAULT_MIN_CONFIDENCE: f32 = 0.2;

impl Default for SafetyConfig {
    fn default() -> Self {
        Self {
            max_actions: 20,
            corner_px: 2,
            bounds: None,
            min_confidence: DEFAULT_MIN_CONFIDENCE,
        }
    }
}

/// Why an action was not performed.
#[derive(Debug, Clone, PartialEq, thiserror::Error, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Refusal {
    #[error("the model's answer {text:?} does not parse: {message}")]
    Unparseable { text: String, message: String },
    #[error("the model's answer {text:?} gives no point to act on")]
    NoPoint { text: String },
    #[error(
        "target ({:.1}, {:.1}) is outside the captured {}x{} image",
        .point.x, .point.y, .size.0, .size.1
    )]
    OutsideImage { point: Point, size: (u32, u32) },
    #[error(
        "target ({:.1}, {:.1}) is outside monitor {monitor} at ({}, {}) {}x{}",
        .point.x, .point.y, .rect.x, .rect.y, .rect.width, .rect.height
    )]
    OutsideMonitor {
        point: Point,
        monitor: String,
        rect: Rect,
    },
    #[error(
        "target ({:.1}, {:.1}) is outside --bounds ({}, {}) {}x{}",
        .point.x, .point.y, .rect.x, .rect.y, .rect.width, .rect.height
    )]
    OutsideBounds { point: Point, rect: Rect },
    #[error("--max-actions {max} reached: {done} done, {wanted} more wanted")]
    MaxActions {
        max: usize,
        done: usize,
        wanted: usize,
    },
    #[error("failsafe: the pointer is in a screen corner at ({}, {}); aborting", .pointer.0, .pointer.1)]
    Failsafe { pointer: (i32, i32) },
    #[error("not confirmed on the terminal")]
    NotConfirmed,
    #[error(
        "the model says {instruction:?} names nothing on the screen (probability {probability:.3}{})",
        outweighed(*.region)
    )]
    NamesNothing {
        probability: f32,
        instruction: String,
        /// The probability mass of the click it outweighed, if the click rule had one.
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<f32>,
    },
    #[error("confidence {confidence:.3} is below --min-confidence {min} for {instruction:?}")]
    LowConfidence {
        confidence: f32,
        min: f32,
        instruction: String,
    },
}

/// ", against … for its best click" when the nothing head outweighed a click.
fn outweighed(region: Option<f32>) -> String {
    region.map_or_else(String::new, |r| {
        format!(", against {r:.3} for its best click")
    })
}

impl Refusal {
    /// A short name for logs and records (`outcome` of a recorded step).
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Unparseable { .. } => "unparseable",
            Refusal::NoPoint { .. } => "no_point",
            Refusal::OutsideImage { .. } => "outside_image",
            Refusal::OutsideMonitor { .. } => "outside_monitor",
            Refusal::OutsideBounds { .. } => "outside_bounds",
            Refusal::MaxActions { .. } => "max_actions",
            Refusal::Failsafe { .. } => "failsafe",
            Refusal::NotConfirmed => "not_confirmed",
            Refusal::LowConfidence { .. } => "low_confidence",
            Refusal::NamesNothing { .. } => "names_nothing",
        }
    }
}

/// The run's safety state: the limits, the corners and the actions performed so far.
#[derive(Debug, Clone)]
pub struct Safety {
    config: SafetyConfig,
    corners: Vec<Point>,
    actions_done: usize,
}

impl Safety {
    /// `monitors` are every monitor's rectangle in input coordinates.
    pub fn new(config: SafetyConfig, monitors: &[Rect]) -> Self {
        let mut corners = vec![Point::new(0.0, 0.0)];
        for m in monitors {
            corners.extend(m.corners());
        }
        Self {
            config,
            corners,
            actions_done: 0,
        }
    }

    pub fn config(&self) -> &SafetyConfig {
        &self.config
    }

    pub fn actions_done(&self) -> usize {
        self.actions_done
    }

    /// Refuses a grounding whose confidence is below the minimum (`None`: the policy reports
    /// none, nothing to check).
    pub fn check_confidence(
        &self,
        confidence: Option<f32>,
        instruction: &str,
    ) -> Result<(), Refusal> {
        match confidence {
            Some(c) if c.is_nan() || c < self.config.min_confidence => {
                Err(Refusal::LowConfidence {
                    confidence: c,
                    min: self.config.min_confidence,
                    instruction: instruction.to_string(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Refuses when `pointer` (input coordinates) is in a corner.
    pub fn check_failsafe(&self, pointer: (i32, i32)) -> Result<(), Refusal> {
        let (px, py) = (f64::from(pointer.0), f64::from(pointer.1));
        let r = f64::from(self.config.corner_px.max(0));
        let hit = self
            .corners
            .iter()
            .any(|c| (c.x - px).abs() <= r && (c.y - py).abs() <= r);
        if hit {
            Err(Refusal::Failsafe { pointer })
        } else {
            Ok(())
        }
    }

    /// Checks an image point against the image, the monitor and the bounds, and maps it.
    pub fn check_target(
        &self,
        map: &ScreenMap,
        monitor_name: &str,
        point: Point,
    ) -> Result<Mapped, Refusal> {
        if !map.image_contains(point) {
            return Err(Refusal::OutsideImage {
                point,
                size: map.image_size,
            });
        }
        let mapped = map.map(point);
        // The clamped input point, back in logical coordinates, must be on the monitor;
        // this catches a screenshot whose size disagrees with the monitor's geometry.
        let input = Point::new(f64::from(mapped.input.0), f64::from(mapped.input.1));
        if !map.monitor_input().contains(input) {
            return Err(Refusal::OutsideMonitor {
                point: mapped.logical,
                monitor: monitor_name.to_string(),
                rect: map.monitor,
            });
        }
        if let Some(b) = self.config.bounds {
            if !b.contains(mapped.logical) {
                return Err(Refusal::OutsideBounds {
                    point: mapped.logical,
                    rect: b,
                });
            }
        }
        Ok(mapped)
    }

    /// Reserves `n` actions, refusing when that would exceed `max_actions`.
    pub fn reserve(&mut self, n: usize) -> Result<(), Refusal> {
        if self.actions_done + n > self.config.max_actions {
            return Err(Refusal::MaxActions {
                max: self.config.max_actions,
                done: self.actions_done,
                wanted: n,
            });
        }
        self.actions_done += n;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desktop::mapping::InputSpace;

    fn safety(bounds: Option<Rect>, max: usize) -> Safety {
        let monitors = [
            Rect::new(0.0, 0.0, 1280.0, 800.0),
            Rect::new(1280.0, 300.0, 1280.0, 800.0),
        ];
        Safety::new(
            SafetyConfig {
                max_actions: max,
                corner_px: 2,
                bounds,
                min_confidence: DEFAULT_MIN_CONFIDENCE,
            },
            &monitors,
        )
    }

    fn right_map() -> ScreenMap {
        ScreenMap {
            monitor: Rect::new(1280.0, 300.0, 1280.0, 800.0),
            scale_factor: 1.0,
            image_size: (1280, 800),
            input_space: InputSpace::Physical,
        }
    }

    #[test]
    fn failsafe_corners_of_every_monitor_and_the_origin() {
        let s = safety(None, 5);
        for p in [
            (0, 0),
            (1, 2),
            (1279, 0),
            (1280, 300),
            (2559, 1099),
            (2557, 1097),
        ] {
            assert_eq!(
                s.check_failsafe(p),
                Err(Refusal::Failsafe { pointer: p }),
                "{p:?}"
            );
        }
        for p in [(640, 400), (3, 0), (1280, 303), (2000, 1099)] {
            assert_eq!(s.check_failsafe(p), Ok(()), "{p:?}");
        }
    }

    #[test]
    fn targets_off_the_image_or_outside_bounds_are_refused() {
        let s = safety(None, 5);
        let m = right_map();
        let ok = s.check_target(&m, "R", Point::new(10.0, 10.0)).unwrap();
        assert_eq!(ok.input, (1290, 310));
        let e = s
            .check_target(&m, "R", Point::new(1300.0, 10.0))
            .unwrap_err();
        assert_eq!(e.kind(), "outside_image");
        let e = s.check_target(&m, "R", Point::new(-1.0, 10.0)).unwrap_err();
        assert_eq!(e.kind(), "outside_image");

        let b = safety(Some(Rect::new(1280.0, 300.0, 100.0, 100.0)), 5);
        assert!(b.check_target(&m, "R", Point::new(10.0, 10.0)).is_ok());
        let e = b
            .check_target(&m, "R", Point::new(500.0, 10.0))
            .unwrap_err();
        assert_eq!(e.kind(), "outside_bounds");
        assert!(e.to_string().contains("outside --bounds"), "{e}");
    }

    #[test]
    fn a_monitor_without_area_refuses_every_target() {
        // A monitor that reports no area (a disconnected output): nothing maps onto it.
        let s = safety(None, 5);
        let mut m = right_map();
        m.monitor = Rect::new(1280.0, 300.0, 0.0, 0.0);
        let e = s.check_target(&m, "R", Point::new(10.0, 10.0)).unwrap_err();
        assert_eq!(e.kind(), "outside_monitor");
    }

    #[test]
    fn max_actions_counts_every_action() {
        let mut s = safety(None, 3);
        s.reserve(2).unwrap();
        s.reserve(1).unwrap();
        let e = s.reserve(1).unwrap_err();
        assert_eq!(
            e,
            Refusal::MaxActions {
                max: 3,
                done: 3,
                wanted: 1
            }
        );
        assert_eq!(s.actions_done(), 3);
    }

    #[test]
    fn low_confidence_is_refused_and_no_confidence_is_not_checked() {
        let s = safety(None, 5);
        assert_eq!(s.check_confidence(None, "click Save"), Ok(()));
        assert_eq!(s.check_confidence(Some(0.2), "click Save"), Ok(()));
        let r = s.check_confidence(Some(0.05), "click Save").unwrap_err();
        assert_eq!(r.kind(), "low_confidence");
        assert_eq!(
            r.to_string(),
            "confidence 0.050 is below --min-confidence 0.2 for \"click Save\""
        );
        assert!(s.check_confidence(Some(f32::NAN), "x").is_err());
    }
}
