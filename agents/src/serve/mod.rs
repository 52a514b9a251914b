//! Placeholder while the serve agent is being built (owned by the serve work; replaced wholesale).
