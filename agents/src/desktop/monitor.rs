//! Monitors and screenshots through xcap.
//!
//! On X11, xcap 0.9 lists one monitor per output of each RandR monitor (a RandR monitor
//! without an output, e.g. `xrandr --setmonitor NAME GEOMETRY none`, is not listed), reports
//! its geometry divided by the scale factor `Xft.dpi / 96` (the `Xft.dpi` line of the root
//! window's `RESOURCE_MANAGER` property; 1 when there is none), and captures device pixels.

use image::RgbaImage;
use serde::Serialize;

use super::error::{Error, Result};
use super::mapping::{InputSpace, Rect, ScreenMap};

/// One monitor as xcap reports it; geometry in logical global coordinates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonitorInfo {
    /// Position in [`list`] (what `--monitor N` takes).
    pub index: usize,
    pub id: u32,
    pub name: String,
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
    pub scale_factor: f32,
    pub is_primary: bool,
}

impl MonitorInfo {
    /// The monitor in logical coordinates.
    pub fn logical(&self) -> Rect {
        Rect::new(
            f64::from(self.x),
            f64::from(self.y),
            f64::from(self.width),
            f64::from(self.height),
        )
    }

    /// The mapping for a screenshot of `image_size` taken from this monitor.
    pub fn screen_map(&self, image_size: (u32, u32)) -> ScreenMap {
        ScreenMap {
            monitor: self.logical(),
            scale_factor: f64::from(self.scale_factor),
            image_size,
            input_space: InputSpace::native(),
        }
    }

    /// The monitor in the input backend's coordinates.
    pub fn input_rect(&self) -> Rect {
        self.screen_map((self.width.max(1), self.height.max(1)))
            .monitor_input()
    }
}

fn capture_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Capture(format!("{what}: {e}"))
}

fn info(index: usize, m: &xcap::Monitor) -> Result<MonitorInfo> {
    let err = |e| capture_err("reading monitor properties", e);
    let scale_factor = m.scale_factor().map_err(err)?;
    if !(scale_factor.is_finite() && scale_factor > 0.0) {
        return Err(Error::Capture(format!(
            "monitor {index} reports scale factor {scale_factor}"
        )));
    }
    Ok(MonitorInfo {
        index,
        id: m.id().map_err(err)?,
        name: m.name().map_err(err)?,
        x: m.x().map_err(err)?,
        y: m.y().map_err(err)?,
        width: m.width().map_err(err)?,
        height: m.height().map_err(err)?,
        scale_factor,
        is_primary: m.is_primary().unwrap_or(false),
    })
}

/// Every monitor, in xcap's order.
pub fn list() -> Result<Vec<MonitorInfo>> {
    let all = xcap::Monitor::all().map_err(|e| capture_err("listing monitors", e))?;
    all.iter().enumerate().map(|(i, m)| info(i, m)).collect()
}

/// The monitor to use: `--monitor N` if given, else the one under the pointer (`pointer`
/// in input coordinates), else the primary one, else the first.
pub fn choose(
    monitors: &[MonitorInfo],
    index: Option<usize>,
    pointer: Option<(i32, i32)>,
) -> Result<MonitorInfo> {
    if monitors.is_empty() {
        return Err(Error::Capture("no monitor found".into()));
    }
    if let Some(i) = index {
        return monitors.get(i).cloned().ok_or_else(|| {
            Error::Monitor(format!(
                "--monitor {i}: there are {} monitors (0..{}); see `reticle desktop monitors`",
                monitors.len(),
                monitors.len() - 1
            ))
        });
    }
    let under = pointer.and_then(|(x, y)| {
        let p = reticle_models::geometry::Point::new(f64::from(x), f64::from(y));
        monitors.iter().find(|m| m.input_rect().contains(p))
    });
    let chosen = under
        .or_else(|| monitors.iter().find(|m| m.is_primary))
        .unwrap_or(&monitors[0]);
    Ok(chosen.clone())
}

/// Captures `monitor` (found again by id: the list may have changed since it was read).
pub fn capture(monitor: &MonitorInfo) -> Result<RgbaImage> {
    let all = xcap::Monitor::all().map_err(|e| capture_err("listing monitors", e))?;
    let m = all
        .iter()
        .find(|m| m.id().ok() == Some(monitor.id))
        .ok_or_else(|| {
            Error::Monitor(format!(
                "monitor {} ({}) is gone",
                monitor.index, monitor.name
            ))
        })?;
    let image = m
        .capture_image()
        .map_err(|e| capture_err(&format!("capturing monitor {}", monitor.name), e))?;
    if image.width() == 0 || image.height() == 0 {
        return Err(Error::Capture(format!(
            "capturing monitor {}: empty image",
            monitor.name
        )));
    }
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mon(index: usize, x: i32, w: u32, primary: bool) -> MonitorInfo {
        MonitorInfo {
            index,
            id: index as u32 + 60,
            name: format!("m{index}"),
            x,
            y: 0,
            width: w,
            height: 800,
            scale_factor: 1.0,
            is_primary: primary,
        }
    }

    #[test]
    fn choose_by_index_pointer_primary_first() {
        let ms = [mon(0, 0, 1280, false), mon(1, 1280, 1920, true)];
        assert_eq!(choose(&ms, Some(0), Some((1500, 10))).unwrap().index, 0);
        assert_eq!(choose(&ms, None, Some((10, 10))).unwrap().index, 0);
        assert_eq!(choose(&ms, None, Some((1500, 10))).unwrap().index, 1);
        assert_eq!(choose(&ms, None, Some((9000, 10))).unwrap().index, 1);
        assert_eq!(choose(&ms, None, None).unwrap().index, 1);
        let e = choose(&ms, Some(2), None).unwrap_err().to_string();
        assert!(e.contains("--monitor 2") && e.contains("2 monitors"), "{e}");
        assert!(choose(&[], None, None).is_err());
    }

    #[test]
    fn pointer_is_compared_in_input_coordinates() {
        // Scale 2 on X11: logical (640, 0) 640x400 is device (1280, 0) 1280x800.
        let mut m = mon(0, 640, 640, false);
        m.height = 400;
        m.scale_factor = 2.0;
        let other = mon(0, 0, 10, true);
        let ms = [other, MonitorInfo { index: 1, ..m }];
        if InputSpace::native() == InputSpace::Physical {
            assert_eq!(choose(&ms, None, Some((2000, 700))).unwrap().index, 1);
        }
    }
}
