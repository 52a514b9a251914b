//! Weight-only quantisation of a decoder's linear maps for ONNX Runtime's `com.microsoft`
//! `MatMulNBits`: each output row of `W [N, K]` in blocks of `block` values along `K`, one f32
//! scale per block, symmetric (no zero points: ONNX Runtime takes `2^(bits−1)`), values
//! `q = clamp(round(w / scale), −2^(bits−1), 2^(bits−1) − 1) + 2^(bits−1)` packed low nibble
//! first for 4 bits. Activations stay f32; ONNX Runtime dequantises (or, with
//! `accuracy_level` 4, computes in int8) inside the kernel.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The weight formats an export can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quant {
    Int8,
    Int4,
}

impl Quant {
    pub fn bits(self) -> u32 {
        match self {
            Quant::Int8 => 8,
            Quant::Int4 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Quant::Int8 => "int8",
            Quant::Int4 => "int4",
        }
    }
}

impl std::str::FromStr for Quant {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "int8" => Ok(Quant::Int8),
            "int4" => Ok(Quant::Int4),
            other => Err(format!("unknown quantisation `{other}` (int8, int4)")),
        }
    }
}

/// Values per quantisation block along `K` (as onnxruntime-genai's builder).
pub const BLOCK: usize = 32;

/// `W [n, k]` (row-major f32) → `(packed [n, blocks, block·bits/8], scales [n · blocks])`.
pub fn quantize(w: &[f32], n: usize, k: usize, q: Quant) -> Result<(Vec<u8>, Vec<f32>)> {
    if w.len() != n * k || n == 0 || k == 0 {
        return Err(Error::Export {
            path: "model".into(),
            message: format!("cannot quantise {} values as [{n}, {k}]", w.len()),
        });
    }
    let bits = q.bits();
    let half = 1i32 << (bits - 1);
    let (lo, hi) = (-half, half - 1);
    let blocks = k.div_ceil(BLOCK);
    let blob = BLOCK * bits as usize / 8;
    let mut packed = vec![0u8; n * blocks * blob];
    let mut scales = vec![0f32; n * blocks];
    for row in 0..n {
        let wr = &w[row * k..(row + 1) * k];
        for b in 0..blocks {
            let vals = &wr[b * BLOCK..((b + 1) * BLOCK).min(k)];
            let absmax = vals.iter().fold(0f32, |m, v| m.max(v.abs()));
            let scale = if absmax > 0.0 {
                absmax / hi as f32
            } else {
                1.0
            };
            scales[row * blocks + b] = scale;
            let out = &mut packed[(row * blocks + b) * blob..(row * blocks + b + 1) * blob];
            // Padding past `k` stores the zero point (a zero weight).
            for i in 0..BLOCK {
                let v = vals.get(i).copied().unwrap_or(0.0);
                let code = ((v / scale).round() as i32).clamp(lo, hi) + half;
                match q {
                    Quant::Int8 => out[i] = code as u8,
                    Quant::Int4 => out[i / 2] |= (code as u8 & 0x0f) << (4 * (i % 2)),
                }
            }
        }
    }
    Ok((packed, scales))
}

/// The inverse of [`quantize`] (for tests and error measurement).
pub fn dequantize(packed: &[u8], scales: &[f32], n: usize, k: usize, q: Quant) -> Vec<f32> {
    let bits = q.bits();
    let half = 1i32 << (bits - 1);
    let blocks = k.div_ceil(BLOCK);
    let blob = BLOCK * bits as usize / 8;
    let mut w = vec![0f32; n * k];
    for row in 0..n {
        for c in 0..k {
            let (b, i) = (c / BLOCK, c % BLOCK);
            let base = (row * blocks + b) * blob;
            let code = match q {
                Quant::Int8 => i32::from(packed[base + i]),
                Quant::Int4 => i32::from((packed[base + i / 2] >> (4 * (i % 2))) & 0x0f),
            };
            w[row * k + c] = (code - half) as f32 * scales[row * blocks + b];
        }
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_error_is_within_half_a_step() {
        let (n, k) = (3, 70); // k not a multiple of the block: the last block is padded
        let w: Vec<f32> = (0..n * k)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 13.0)
            .collect();
        for q in [Quant::Int8, Quant::Int4] {
            let (packed, scales) = quantize(&w, n, k, q).unwrap();
            assert_eq!(scales.len(), n * 3);
            assert_eq!(packed.len(), n * 3 * BLOCK * q.bits() as usize / 8);
            let back = dequantize(&packed, &scales, n, k, q);
            for (i, (a, b)) in w.iter().zip(&back).enumerate() {
                let step = scales[(i / k) * 3 + (i % k) / BLOCK];
                assert!((a - b).abs() <= step / 2.0 + 1e-6, "{q:?} {i}: {a} vs {b}");
            }
        }
        assert!(quantize(&w, 2, 2, Quant::Int4).is_err());
        assert_eq!("int4".parse::<Quant>(), Ok(Quant::Int4));
        assert!("fp8".parse::<Quant>().unwrap_err().contains("int8, int4"));
    }
}
