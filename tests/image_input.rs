//! `brushwork::imageio::load_rgb` on the image kinds users hand us: grey, 16-bit, alpha, CMYK
//! JPEG and EXIF-rotated JPEG. Every file is generated here; expected values are worked out by
//! hand in the comments.

mod cli_support;

use std::path::Path;

use brushwork::imageio::load_rgb;
use cli_support::{Fixture, Run, TempDir};
use image::{ImageBuffer, Rgb32FImage};
use jpeg_encoder::{ColorType, Encoder, SamplingFactor};

fn assert_pixel(img: &Rgb32FImage, x: u32, y: u32, expected: [f32; 3], tol: f32) {
    let got = img.get_pixel(x, y).0;
    for c in 0..3 {
        assert!((got[c] - expected[c]).abs() <= tol, "pixel ({x},{y}) is {got:?}, expected {expected:?} (±{tol})");
    }
}

#[test]
fn grey_8bit_png_becomes_equal_rgb() {
    let dir = TempDir::new("img-grey");
    let values = [0u8, 100, 255, 7, 128, 200];
    let grey = image::GrayImage::from_fn(3, 2, |x, y| image::Luma([values[(y * 3 + x) as usize]]));
    let path = dir.join("grey.png");
    grey.save(&path).unwrap();
    // The file really is a 1-channel PNG.
    assert_eq!(image::open(&path).unwrap().color(), image::ColorType::L8);

    let img = load_rgb(&path).unwrap();
    assert_eq!(img.dimensions(), (3, 2));
    for y in 0..2 {
        for x in 0..3 {
            // Grey g (0..255) becomes (g, g, g) / 255.
            let v = values[(y * 3 + x) as usize] as f32 / 255.0;
            assert_pixel(&img, x, y, [v, v, v], 1e-6);
        }
    }
}

#[test]
fn rgb_16bit_png_keeps_16_bit_precision() {
    let dir = TempDir::new("img-16");
    let px: [[u16; 3]; 4] = [[1000, 0, 65535], [1001, 32768, 12345], [0, 65535, 1], [40000, 20000, 60000]];
    let img16: ImageBuffer<image::Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_fn(2, 2, |x, y| image::Rgb(px[(y * 2 + x) as usize]));
    let path = dir.join("deep.png");
    img16.save(&path).unwrap();
    assert_eq!(image::open(&path).unwrap().color(), image::ColorType::Rgb16);

    let img = load_rgb(&path).unwrap();
    assert_eq!(img.dimensions(), (2, 2));
    for y in 0..2 {
        for x in 0..2 {
            // Each 16-bit channel v becomes v / 65535.
            let p = px[(y * 2 + x) as usize].map(|v| v as f32 / 65535.0);
            assert_pixel(&img, x, y, p, 1e-6);
        }
    }
    // 1000 and 1001 are both 4 in 8 bits (v / 257 rounds to 4): kept apart only at 16 bits.
    assert!(img.get_pixel(1, 0).0[0] > img.get_pixel(0, 0).0[0]);
}

#[test]
fn rgba_png_is_composited_over_white() {
    let dir = TempDir::new("img-rgba");
    let px = [[255u8, 0, 0, 0], [0, 0, 255, 128], [10, 20, 30, 255]];
    let rgba = image::RgbaImage::from_fn(3, 1, |x, _| image::Rgba(px[x as usize]));
    let path = dir.join("alpha.png");
    rgba.save(&path).unwrap();

    let img = load_rgb(&path).unwrap();
    assert_eq!(img.dimensions(), (3, 1));
    // out = c * a + 1 * (1 - a), with c and a in [0,1].
    // Fully transparent red: white.
    assert_pixel(&img, 0, 0, [1.0, 1.0, 1.0], 1e-6);
    // Half-transparent blue, a = 128/255: r = g = 1 - a = 127/255 ≈ 0.498, b = 1.
    let a = 128.0 / 255.0;
    assert_pixel(&img, 1, 0, [1.0 - a, 1.0 - a, 1.0], 1e-5);
    // Opaque: unchanged.
    assert_pixel(&img, 2, 0, [10.0 / 255.0, 20.0 / 255.0, 30.0 / 255.0], 1e-6);
}

/// Encodes `data` (width x height, 1 or 4 bytes per pixel as `color` says) as a quality-100 JPEG,
/// no chroma subsampling, with extra APPn segments.
fn jpeg(data: &[u8], w: u16, h: u16, color: ColorType, app: &[(u8, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = Encoder::new(&mut out, 100);
    enc.set_sampling_factor(SamplingFactor::R_4_4_4);
    for (n, bytes) in app {
        enc.add_app_segment(*n, bytes.clone()).unwrap();
    }
    enc.encode(data, w, h, color).unwrap();
    out
}

#[test]
fn cmyk_jpeg_is_converted_to_rgb() {
    let dir = TempDir::new("img-cmyk");
    // Three 8x8 blocks side by side (so no block mixes two colours), CMYK bytes with 0 = no ink:
    //   (0, 255, 255, 0)  magenta + yellow      -> red   (1, 0, 0)
    //   (255, 0, 0, 0)    cyan                  -> cyan  (0, 1, 1)
    //   (0, 0, 0, 128)    half black            -> grey  (127/255 each)
    // using R = (1 - C)(1 - K), G = (1 - M)(1 - K), B = (1 - Y)(1 - K). jpeg-encoder stores them
    // inverted with an Adobe APP14 marker, as Photoshop does.
    let blocks: [[u8; 4]; 3] = [[0, 255, 255, 0], [255, 0, 0, 0], [0, 0, 0, 128]];
    let (w, h) = (24u16, 8u16);
    let mut data = Vec::new();
    for _y in 0..h {
        for x in 0..w {
            data.extend_from_slice(&blocks[(x / 8) as usize]);
        }
    }
    let bytes = jpeg(&data, w, h, ColorType::Cmyk, &[]);
    // It really is a 4-component JPEG (baseline SOF0: FF C0, length, precision, height, width,
    // component count) with an Adobe APP14 segment.
    let sof = bytes.windows(2).position(|m| m == [0xFF, 0xC0]).expect("no SOF0");
    assert_eq!(bytes[sof + 9], 4, "component count");
    assert!(bytes.windows(5).any(|m| m == b"Adobe"), "no Adobe APP14");
    let path = dir.join("cmyk.jpg");
    std::fs::write(&path, bytes).unwrap();

    let img = load_rgb(&path).unwrap();
    assert_eq!(img.dimensions(), (24, 8));
    let grey = 127.0 / 255.0;
    for y in [0, 4, 7] {
        for dx in [0, 3, 7] {
            assert_pixel(&img, dx, y, [1.0, 0.0, 0.0], 0.04);
            assert_pixel(&img, 8 + dx, y, [0.0, 1.0, 1.0], 0.04);
            assert_pixel(&img, 16 + dx, y, [grey, grey, grey], 0.04);
        }
    }
}

/// An APP1 payload: "Exif\0\0", then a big-endian TIFF header whose IFD0 holds one entry,
/// Orientation (tag 0x0112, type SHORT, count 1) = `orientation`.
fn exif_orientation(orientation: u16) -> Vec<u8> {
    let mut b = b"Exif\0\0".to_vec();
    b.extend_from_slice(b"MM\0\x2a"); // big-endian TIFF, magic 42
    b.extend_from_slice(&8u32.to_be_bytes()); // IFD0 right after the 8-byte header
    b.extend_from_slice(&1u16.to_be_bytes()); // one entry
    b.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    b.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    b.extend_from_slice(&1u32.to_be_bytes()); // count 1
    b.extend_from_slice(&orientation.to_be_bytes()); // value, left-justified in the 4-byte field
    b.extend_from_slice(&[0, 0]);
    b.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    b
}

/// Stored 4x2 grey pixels: v(x, y) = 20 + 30 * (x + 4y), i.e. row 0 = 20 50 80 110, row 1 =
/// 140 170 200 230: every pixel distinct, 30 apart.
fn stored_value(x: u32, y: u32) -> f32 {
    (20 + 30 * (x + 4 * y)) as f32 / 255.0
}

fn write_oriented_jpeg(path: &Path, orientation: Option<u16>) {
    let data: Vec<u8> = (0..2).flat_map(|y| (0..4).map(move |x| (20 + 30 * (x + 4 * y)) as u8)).collect();
    let app: Vec<(u8, Vec<u8>)> = orientation.map(|o| (1, exif_orientation(o))).into_iter().collect();
    std::fs::write(path, jpeg(&data, 4, 2, ColorType::Luma, &app)).unwrap();
}

#[test]
fn exif_orientation_6_rotates_90_clockwise() {
    let dir = TempDir::new("img-exif");
    // Control: without EXIF the file loads as stored, 4x2.
    let plain = dir.join("plain.jpg");
    write_oriented_jpeg(&plain, None);
    let img = load_rgb(&plain).unwrap();
    assert_eq!(img.dimensions(), (4, 2));
    for y in 0..2 {
        for x in 0..4 {
            let v = stored_value(x, y);
            assert_pixel(&img, x, y, [v, v, v], 0.03);
        }
    }

    // Orientation 6 means "rotate 90° clockwise to display": the stored H=2 rows become columns,
    // displayed (x', y') = stored (y', H - 1 - x'). So the display is 2x4; its top-left is the
    // stored bottom-left (140), its top-right the stored top-left (20), its bottom-right the stored
    // top-right (110), its bottom-left the stored bottom-right (230).
    let rotated = dir.join("rotated.jpg");
    write_oriented_jpeg(&rotated, Some(6));
    let img = load_rgb(&rotated).unwrap();
    assert_eq!(img.dimensions(), (2, 4));
    for yd in 0..4 {
        for xd in 0..2 {
            let v = stored_value(yd, 1 - xd);
            assert_pixel(&img, xd, yd, [v, v, v], 0.03);
        }
    }
    assert_pixel(&img, 1, 0, [20.0 / 255.0; 3], 0.03);
    assert_pixel(&img, 0, 0, [140.0 / 255.0; 3], 0.03);
    assert_pixel(&img, 1, 3, [110.0 / 255.0; 3], 0.03);
    assert_pixel(&img, 0, 3, [230.0 / 255.0; 3], 0.03);
}

#[test]
fn cli_run_on_exif_rotated_jpeg_keeps_display_orientation() {
    let fx = Fixture::new("img-exif-cli");
    write_oriented_jpeg(&fx.join("rotated.jpg"), Some(6));
    let r = Run::of(fx.command(&[
        "run",
        "rotated.jpg",
        "--style",
        "style.png",
        "--weights",
        "tiny.safetensors",
        "--size",
        "32",
        "--scales",
        "1",
        "--iterations",
        "2",
        "-o",
        "out.png",
    ]));
    assert_eq!(r.code, Some(0), "{r}");
    // Displayed 2x4 (portrait) at long side 32: fit_long_side(2, 4, 32) = (round(2 * 32 / 4), 32) = (16, 32).
    let out = image::open(fx.join("out.png")).unwrap();
    assert_eq!((out.width(), out.height()), (16, 32));
}
