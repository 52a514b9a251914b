//! Placeholder while the desktop agent is being built (owned by the desktop work; replaced wholesale).
