//! Decoder memory is bounded: a small PNG whose `iCCP` chunk inflates to 1 GiB decodes
//! without the process growing by anywhere near that much.
//!
//! One test in its own binary, so that the process's peak resident set (`VmHWM`) measures
//! this decode and nothing else.

// Test code: a panic is the failure report we want.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::Path;

use flate2::write::ZlibEncoder;
use flate2::{Compression, Crc};

/// A 64×64 gray PNG with an `iCCP` chunk whose profile inflates to `icc_bytes` zero bytes
/// (about 1 MB of file for 1 GiB).
fn png_with_iccp(icc_bytes: usize) -> Vec<u8> {
    let chunk = |out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]| {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = Crc::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.sum().to_be_bytes());
    };
    let (w, h) = (64u32, 64u32);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit gray, deflate, no filter, no interlace
    chunk(&mut out, b"IHDR", &ihdr);
    let mut profile = ZlibEncoder::new(b"icc\0\0".to_vec(), Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = icc_bytes;
    while left > 0 {
        let n = left.min(zeros.len());
        profile.write_all(&zeros[..n]).unwrap();
        left -= n;
    }
    chunk(&mut out, b"iCCP", &profile.finish().unwrap());
    let mut rows = ZlibEncoder::new(Vec::new(), Compression::fast());
    for y in 0..h {
        rows.write_all(&[0]).unwrap(); // filter: none
        rows.write_all(&vec![(y * 4) as u8; w as usize]).unwrap();
    }
    chunk(&mut out, b"IDAT", &rows.finish().unwrap());
    chunk(&mut out, b"IEND", &[]);
    out
}

/// The process's peak resident set so far, in bytes (Linux `VmHWM`).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

#[test]
fn png_with_a_1_gib_iccp_chunk_decodes_in_bounded_memory() {
    let png = png_with_iccp(1 << 30);
    assert!(png.len() < 2 << 20, "{} bytes", png.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("iccp.png");
    std::fs::write(&path, &png).unwrap();

    let before = peak_rss();
    let dims = reticle_models::imageio::dimensions(&png, Path::new("iccp.png")).unwrap();
    let image = reticle_models::imageio::decode(&png, Path::new("iccp.png")).unwrap();
    let from_file = reticle_models::imageio::open(&path).unwrap();
    let mask = reticle_models::geometry::Mask::load(&path).unwrap();
    let grown = peak_rss().saturating_sub(before);

    assert_eq!(dims, (64, 64));
    assert_eq!((image.width(), image.height()), (64, 64));
    assert_eq!(from_file.to_luma8().get_pixel(0, 10)[0], 40);
    assert_eq!(mask.width(), 64);
    eprintln!(
        "peak RSS grew by {:.1} MiB",
        grown as f64 / (1 << 20) as f64
    );
    // The ICC budget is 16 MiB; a decoder that inflates the profile grows by hundreds.
    assert!(grown < 64 << 20, "peak RSS grew by {grown} bytes");
}
