use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use super::Sample;
use crate::error::{Error, Result};
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct UiConfig { pub resolutions: Vec<[u32; 2]>, pub scales: Vec<f32> }
impl UiConfig { pub fn validate(&self) -> Result<()> { Ok(()) } }
pub(super) fn render(_cfg: &UiConfig, _rng: &mut ChaCha8Rng, _id: String) -> Result<Sample> { Err(Error::invalid("x", "y")) }
