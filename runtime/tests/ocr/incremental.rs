use std::sync::Arc;

use image::{DynamicImage, GenericImage, GenericImageView};
use reticle_runtime::perception::IncrementalReader;

use crate::util::{reader, ui_screen};

/// Spans equal: texts, boxes and words exactly, scores up to float noise.
fn assert_same(a: &[reticle_models::text::TextSpan], b: &[reticle_models::text::TextSpan]) {
    let texts =
        |s: &[reticle_models::text::TextSpan]| s.iter().map(|x| x.text.clone()).collect::<Vec<_>>();
    if texts(a) != texts(b) {
        for s in a.iter().filter(|s| !b.iter().any(|t| t.text == s.text)) {
            eprintln!("only incremental: {} {:?} {}", s.text, s.bbox, s.score);
        }
        for s in b.iter().filter(|s| !a.iter().any(|t| t.text == s.text)) {
            eprintln!("only cold: {} {:?} {}", s.text, s.bbox, s.score);
        }
    }
    assert_eq!(texts(a), texts(b));
    for (x, y) in a.iter().zip(b) {
        let d = [
            x.bbox.x1 - y.bbox.x1,
            x.bbox.y1 - y.bbox.y1,
            x.bbox.x2 - y.bbox.x2,
            x.bbox.y2 - y.bbox.y2,
        ];
        assert!(
            d.iter().all(|v| *v == 0.0),
            "{}: {:?} vs {:?}",
            x.text,
            x.bbox,
            y.bbox
        );
        assert_eq!(x.words, y.words);
        assert!(
            (x.score - y.score).abs() < 1e-4,
            "{}: score {} vs {}",
            x.text,
            x.score,
            y.score
        );
    }
}

#[test]
fn unchanged_screens_are_not_read_again() {
    let (img, _) = ui_screen(77, 0, [1280, 800], 1.0);
    let img = DynamicImage::ImageRgb8(img);
    let mut inc = IncrementalReader::new(Arc::clone(&reader()));
    let (first, s1) = inc.read(&img).unwrap();
    assert!(s1.cold);
    let (second, s2) = inc.read(&img).unwrap();
    assert!(!s2.cold);
    assert_eq!(s2.changed_tiles, 0);
    assert_eq!(
        (s2.lines, s2.recognized),
        (0, 0),
        "nothing is detected or recognised again"
    );
    assert_eq!(second.spans, first.spans);
}

#[test]
fn incremental_read_equals_cold_read_after_a_dialog_appears() {
    // Screen B = screen A with a window of another screen pasted over part of it.
    for (seed, size, scale) in [(11, [1280u32, 800u32], 1.0f32), (12, [1920, 1080], 1.25)] {
        let (a, _) = ui_screen(seed, 0, size, scale);
        let (other, _) = ui_screen(seed + 100, 1, size, scale);
        let a = DynamicImage::ImageRgb8(a);
        let mut b = a.clone();
        let (w, h) = (size[0] / 3, size[1] / 3);
        let patch = other.view(size[0] / 4, size[1] / 4, w, h).to_image();
        b.as_mut_rgb8()
            .unwrap()
            .copy_from(&patch, size[0] / 3 + 7, size[1] / 3 + 5)
            .unwrap();
        let b = DynamicImage::ImageRgb8(b.to_rgb8());

        let mut inc = IncrementalReader::new(Arc::clone(&reader()));
        inc.read(&a).unwrap();
        let (got, stats) = inc.read(&b).unwrap();
        let cold = reader().read(&b).unwrap();
        eprintln!("{size:?}: {stats:?}, {} spans", cold.spans.len());
        assert!(!stats.cold, "{stats:?}");
        assert!(
            stats.changed_tiles > 0 && stats.changed_tiles < stats.tiles / 2,
            "{stats:?}"
        );
        assert!(stats.reused > 0 && stats.recognized > 0, "{stats:?}");
        assert!(stats.recognized < stats.lines, "{stats:?}");
        assert_same(&got.spans, &cold.spans);
        // And back again: the dialog closes.
        let (back, _) = inc.read(&a).unwrap();
        assert_same(&back.spans, &reader().read(&a).unwrap().spans);
    }
}

#[test]
fn a_new_size_is_a_cold_read() {
    let (a, _) = ui_screen(5, 0, [1280, 800], 1.0);
    let (b, _) = ui_screen(5, 0, [1920, 1080], 1.0);
    let mut inc = IncrementalReader::new(Arc::clone(&reader()));
    inc.read(&DynamicImage::ImageRgb8(a)).unwrap();
    let (_, stats) = inc.read(&DynamicImage::ImageRgb8(b)).unwrap();
    assert!(stats.cold);
}
