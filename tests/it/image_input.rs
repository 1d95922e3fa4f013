//! `brushwork::imageio::load_rgb` on the image kinds users hand us: grey, 16-bit, alpha, CMYK
//! JPEG, EXIF-rotated JPEG, GIF, interlaced PNG; large files read at a reduced size, and
//! decompression bombs whose peak memory is measured. Every file is generated here; expected values are worked out by
//! hand in the comments.

use crate::cli_support;

use std::path::Path;

use brushwork::imageio::{load_rgb, load_rgb_for};
use cli_support::{png_chunk, Fixture, Run, TempDir};
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

/// A deterministic RGBA8 picture: every channel a different function of x and y, alpha varying.
fn pattern(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 7 + y * 3) as u8, (x * y % 251) as u8, (255 - x * 2 - y) as u8, (128 + x + y) as u8])
    })
}

/// zlib around `data` in stored (uncompressed) blocks: header 78 01, blocks of at most 65535
/// bytes (final flag, LEN, NLEN), Adler-32 (RFC 1950/1951), written by hand so the interlaced PNG
/// below owes nothing to the decoder under test.
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x78, 0x01];
    let chunks: Vec<&[u8]> = data.chunks(65535).collect();
    for (i, c) in chunks.iter().enumerate() {
        out.push(u8::from(i + 1 == chunks.len()));
        out.extend_from_slice(&(c.len() as u16).to_le_bytes());
        out.extend_from_slice(&(!(c.len() as u16)).to_le_bytes());
        out.extend_from_slice(c);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &v in data {
        a = (a + v as u32) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

/// `img` as an Adam7-interlaced 8-bit RGBA PNG: seven passes (x0, dx, y0, dy) from the PNG
/// specification, each scanline filter 0.
fn interlaced_png(img: &image::RgbaImage) -> Vec<u8> {
    let (w, h) = img.dimensions();
    let passes = [(0, 8, 0, 8), (4, 8, 0, 8), (0, 4, 4, 8), (2, 4, 0, 4), (0, 2, 2, 4), (1, 2, 0, 2), (0, 1, 1, 2)];
    let mut raw = Vec::new();
    for (x0, dx, y0, dy) in passes {
        if x0 >= w || y0 >= h {
            continue;
        }
        for y in (y0..h).step_by(dy as usize) {
            raw.push(0);
            for x in (x0..w).step_by(dx as usize) {
                raw.extend_from_slice(&img.get_pixel(x, y).0);
            }
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 1]); // depth 8, RGBA, deflate, filter 0, Adam7
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", &zlib_stored(&raw)));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// The mean of each `f`x`f` box of `img` (sides divisible by `f`), computed here by hand.
fn box_means(img: &Rgb32FImage, f: u32) -> Rgb32FImage {
    Rgb32FImage::from_fn(img.width() / f, img.height() / f, |bx, by| {
        let mut sum = [0.0f64; 3];
        for y in by * f..(by + 1) * f {
            for x in bx * f..(bx + 1) * f {
                for (total, v) in sum.iter_mut().zip(img.get_pixel(x, y).0) {
                    *total += v as f64;
                }
            }
        }
        image::Rgb(sum.map(|v| (v / (f * f) as f64) as f32))
    })
}

fn max_difference(a: &Rgb32FImage, b: &Rgb32FImage) -> f32 {
    assert_eq!(a.dimensions(), b.dimensions());
    a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn large_pngs_are_read_at_reduced_size_interlaced_or_not() {
    let dir = TempDir::new("img-reduced-png");
    let img = pattern(64, 48);
    let plain = dir.join("plain.png");
    img.save(&plain).unwrap();
    let adam7 = dir.join("adam7.png");
    std::fs::write(&adam7, interlaced_png(&img)).unwrap();
    // The hand-made interlaced file decodes whole (by the image crate) to the same picture.
    assert_eq!(max_difference(&load_rgb(&adam7).unwrap(), &load_rgb(&plain).unwrap()), 0.0);

    // Needed at 16 px: 64/16 = 4, so each output pixel is the mean of a 4x4 box of the whole
    // decode (alpha already composited over white), and 64x48 at long side 16 is exactly 16x12.
    let expected = box_means(&load_rgb(&plain).unwrap(), 4);
    for path in [&plain, &adam7] {
        let reduced = load_rgb_for(path, Some(16)).unwrap();
        assert_eq!(reduced.dimensions(), (16, 12));
        assert!(max_difference(&reduced, &expected) < 1e-5, "{}", path.display());
    }
    // Needed at 40 px (a factor under 2): read whole, then resized by the caller as before.
    assert_eq!(load_rgb_for(&plain, Some(40)).unwrap().dimensions(), (64, 48));
}

#[test]
fn large_jpegs_are_read_with_the_scaled_idct_upright() {
    let dir = TempDir::new("img-reduced-jpeg");
    // Smooth content, so 1/8-scale decoding (each 8x8 block's mean, from its DC coefficient) and
    // box means of the whole decode agree closely.
    let (w, h) = (256u32, 128u32);
    let data: Vec<u8> = (0..h).flat_map(|y| (0..w).flat_map(move |x| [x as u8, (y * 2) as u8, 128])).collect();
    let path = dir.join("smooth.jpg");
    std::fs::write(&path, jpeg(&data, w as u16, h as u16, ColorType::Rgb, &[])).unwrap();
    let reduced = load_rgb_for(&path, Some(32)).unwrap();
    assert_eq!(reduced.dimensions(), (32, 16));
    let expected = box_means(&load_rgb(&path).unwrap(), 8);
    assert!(max_difference(&reduced, &expected) < 0.02, "{}", max_difference(&reduced, &expected));

    // With EXIF orientation 6 the reduced picture is upright too: 128x256 at long side 32 is 16x32.
    let rotated = dir.join("rotated.jpg");
    std::fs::write(&rotated, jpeg(&data, w as u16, h as u16, ColorType::Rgb, &[(1, exif_orientation(6))])).unwrap();
    let upright = load_rgb_for(&rotated, Some(32)).unwrap();
    assert_eq!(upright.dimensions(), (16, 32));
    // Displayed (x', y') = stored (y', H - 1 - x'): the stored red ramp (along x) now runs down.
    assert!(upright.get_pixel(8, 0)[0] < 0.1 && upright.get_pixel(8, 31)[0] > 0.9);
}

#[test]
fn gif_input_is_its_first_frame() {
    let dir = TempDir::new("img-gif");
    let path = dir.join("two.gif");
    {
        let file = std::fs::File::create(&path).unwrap();
        let mut enc = image::codecs::gif::GifEncoder::new(file);
        let red = image::RgbaImage::from_pixel(6, 4, image::Rgba([255, 0, 0, 255]));
        let blue = image::RgbaImage::from_pixel(6, 4, image::Rgba([0, 0, 255, 255]));
        enc.encode_frames([image::Frame::new(red), image::Frame::new(blue)]).unwrap();
    }
    let img = load_rgb(&path).unwrap();
    assert_eq!(img.dimensions(), (6, 4));
    assert_pixel(&img, 3, 2, [1.0, 0.0, 0.0], 0.02);
}

/// Runs `cmd` and returns its exit code and peak resident memory in MiB, from the kernel's
/// accounting of that one child (wait4), not from anything brushwork reports.
fn peak_mib(mut cmd: std::process::Command) -> (i32, f64) {
    // Reaped by wait4 below, not by `Child::wait`.
    #[allow(clippy::zombie_processes)]
    let child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: plain syscall on our own child; `usage` is a valid out-parameter.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid);
    (libc::WEXITSTATUS(status), usage.ru_maxrss as f64 / 1024.0)
}

/// A PNG claiming 8192x8192 RGBA at 16 bits (512 MiB decoded, 768 MiB as float RGB) that is
/// well under a megabyte on disk: all zeros, i.e. transparent, white once composited.
fn png_bomb(path: &Path) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut enc = png::Encoder::new(file, 8192, 8192);
    enc.set_color(png::ColorType::Rgba);
    enc.set_depth(png::BitDepth::Sixteen);
    enc.set_compression(png::Compression::Fast);
    let mut w = enc.write_header().unwrap().into_stream_writer().unwrap();
    let row = vec![0u8; 8192 * 8];
    for _ in 0..8192 {
        std::io::Write::write_all(&mut w, &row).unwrap();
    }
    w.finish().unwrap();
}

#[test]
fn decompression_bombs_cost_what_the_working_size_costs() {
    let fx = Fixture::new("img-bombs");
    png_bomb(&fx.join("bomb.png"));
    // A JPEG of 8192x8192 flat grey in colour (192 MiB decoded, 768 MiB as float RGB).
    let flat = vec![90u8; 8192 * 8192 * 3];
    std::fs::write(fx.join("bomb.jpg"), jpeg(&flat, 8192, 8192, ColorType::Rgb, &[])).unwrap();
    drop(flat);
    for name in ["bomb.png", "bomb.jpg"] {
        let size = std::fs::metadata(fx.join(name)).unwrap().len();
        assert!(size < 8 << 20, "{name} is {size} bytes: not a bomb");
    }
    let run = |content: &str| {
        let args = ["run", content, "--style", "style.png", "--weights", "tiny.safetensors", "--size", "32"];
        let mut cmd = fx.command(&args);
        cmd.args(["--scales", "1", "--iterations", "2", "-o", &format!("{content}.out.png")]);
        peak_mib(cmd)
    };
    let (code, baseline) = run("content.png");
    assert_eq!(code, 0);
    for bomb in ["bomb.png", "bomb.jpg"] {
        let (code, peak) = run(bomb);
        assert_eq!(code, 0, "{bomb}");
        // The output is the picture at the working size: 32x32, white / flat grey.
        let out = image::open(fx.join(format!("{bomb}.out.png"))).unwrap();
        assert_eq!((out.width(), out.height()), (32, 32));
        eprintln!("{bomb}: peak {peak:.0} MiB, a 40x30 content image {baseline:.0} MiB");
        assert!(peak < baseline + 96.0, "{bomb}: peak {peak:.0} MiB against {baseline:.0} MiB for a small picture");
    }
}
