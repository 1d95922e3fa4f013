//! Decoding a large image at a reduced size, so that memory follows the size the caller will use
//! rather than the size the file claims (a 2 MB PNG can claim 16384x16384 at 16 bits per channel).
//!
//! - PNG is decoded row by row (interlaced files pass by pass) and each row is averaged into
//!   `factor x factor` boxes at once: peak memory is one row plus the reduced picture.
//! - Baseline JPEG is decoded by `jpeg-decoder` with its scaled inverse DCT (1/2, 1/4, 1/8), so the
//!   full-size picture never exists; other JPEG kinds fall back to a full decode under the
//!   allocation limit.
//! - Anything decoded whole is reduced from its native samples, without a full-size float copy.
//!
//! Transparent pixels are composited over white before averaging, as for a full decode.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, Rgb32FImage, RgbImage};

use super::MAX_ALLOC;
use crate::error::{Error, Result};

/// Averages source pixels into `factor x factor` boxes (the last row and column of boxes may be
/// partial; each box is the mean of the pixels it holds).
pub(super) struct BoxReducer {
    factor: u32,
    width: u32,
    height: u32,
    out_w: u32,
    out_h: u32,
    sums: Vec<f32>,
}

impl BoxReducer {
    pub(super) fn new(width: u32, height: u32, factor: u32) -> Self {
        let factor = factor.max(1);
        let (out_w, out_h) = (width.div_ceil(factor), height.div_ceil(factor));
        BoxReducer { factor, width, height, out_w, out_h, sums: vec![0.0; out_w as usize * out_h as usize * 3] }
    }

    /// Adds the source pixel at (`x`, `y`), RGB in [0,1]. Pixels outside the source are ignored.
    #[inline]
    pub(super) fn add(&mut self, x: u32, y: u32, rgb: [f32; 3]) {
        if x >= self.width || y >= self.height {
            return;
        }
        let i = ((y / self.factor) * self.out_w + x / self.factor) as usize * 3;
        self.sums[i] += rgb[0];
        self.sums[i + 1] += rgb[1];
        self.sums[i + 2] += rgb[2];
    }

    pub(super) fn finish(self) -> Rgb32FImage {
        let f = self.factor;
        let span = |o: u32, size: u32| (size - o * f).min(f) as f32;
        Rgb32FImage::from_fn(self.out_w, self.out_h, |ox, oy| {
            let i = (oy * self.out_w + ox) as usize * 3;
            let n = span(ox, self.width) * span(oy, self.height);
            image::Rgb([self.sums[i] / n, self.sums[i + 1] / n, self.sums[i + 2] / n])
        })
    }
}

/// Composites a pixel over white.
#[inline]
fn over_white(rgb: [f32; 3], alpha: f32) -> [f32; 3] {
    rgb.map(|c| c * alpha + (1.0 - alpha))
}

/// Reduces an image decoded whole, reading its own samples (8-bit, 16-bit or float).
pub(super) fn reduce_dynamic(img: &DynamicImage, factor: u32) -> Rgb32FImage {
    let mut reducer = BoxReducer::new(img.width(), img.height(), factor);
    macro_rules! each {
        ($buf:expr, $max:expr, |$p:ident| $rgba:expr) => {
            for (x, y, $p) in $buf.enumerate_pixels() {
                let [r, g, b, a]: [f32; 4] = $rgba;
                reducer.add(x, y, over_white([r / $max, g / $max, b / $max], a / $max));
            }
        };
    }
    match img {
        DynamicImage::ImageLuma8(b) => each!(b, 255.0, |p| [p[0] as f32, p[0] as f32, p[0] as f32, 255.0]),
        DynamicImage::ImageLumaA8(b) => each!(b, 255.0, |p| [p[0] as f32, p[0] as f32, p[0] as f32, p[1] as f32]),
        DynamicImage::ImageRgb8(b) => each!(b, 255.0, |p| [p[0] as f32, p[1] as f32, p[2] as f32, 255.0]),
        DynamicImage::ImageRgba8(b) => each!(b, 255.0, |p| [p[0] as f32, p[1] as f32, p[2] as f32, p[3] as f32]),
        DynamicImage::ImageLuma16(b) => each!(b, 65535.0, |p| [p[0] as f32, p[0] as f32, p[0] as f32, 65535.0]),
        DynamicImage::ImageLumaA16(b) => each!(b, 65535.0, |p| [p[0] as f32, p[0] as f32, p[0] as f32, p[1] as f32]),
        DynamicImage::ImageRgb16(b) => each!(b, 65535.0, |p| [p[0] as f32, p[1] as f32, p[2] as f32, 65535.0]),
        DynamicImage::ImageRgba16(b) => each!(b, 65535.0, |p| [p[0] as f32, p[1] as f32, p[2] as f32, p[3] as f32]),
        DynamicImage::ImageRgb32F(b) => each!(b, 1.0, |p| [p[0], p[1], p[2], 1.0]),
        DynamicImage::ImageRgba32F(b) => each!(b, 1.0, |p| [p[0], p[1], p[2], p[3]]),
        // Formats added to the image crate later: through its 8-bit view, row by row.
        other => {
            for y in 0..other.height() {
                for x in 0..other.width() {
                    let p = image::GenericImageView::get_pixel(other, x, y).0.map(|v| v as f32 / 255.0);
                    reducer.add(x, y, over_white([p[0], p[1], p[2]], p[3]));
                }
            }
        }
    }
    reducer.finish()
}

/// The Adam7 passes: (x offset, x step, y offset, y step), as in the PNG specification.
const ADAM7: [(u32, u32, u32, u32); 7] =
    [(0, 8, 0, 8), (4, 8, 0, 8), (0, 4, 4, 8), (2, 4, 0, 4), (0, 2, 2, 4), (1, 2, 0, 2), (0, 1, 1, 2)];

/// Where the rows of a PNG land: (y, first x, x step), in the order the decoder returns them
/// (passes without pixels are skipped, as the decoder skips them).
fn row_places(width: u32, height: u32, interlaced: bool) -> Box<dyn Iterator<Item = (u32, u32, u32)>> {
    if !interlaced {
        return Box::new((0..height).map(|y| (y, 0, 1)));
    }
    Box::new(ADAM7.into_iter().flat_map(move |(x0, dx, y0, dy)| {
        let samples = width.saturating_sub(x0).div_ceil(dx);
        let lines = if samples == 0 { 0 } else { height.saturating_sub(y0).div_ceil(dy) };
        (0..lines).map(move |line| (y0 + line * dy, x0, dx))
    }))
}

fn png_error(path: &Path, e: png::DecodingError) -> Error {
    match e {
        png::DecodingError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            Error::input(path, "image is truncated (file ends early)")
        }
        png::DecodingError::LimitsExceeded => {
            Error::input(path, format!("image would need more than {} MiB to decode (refused)", MAX_ALLOC >> 20))
        }
        e => Error::input(path, format!("cannot decode image: {e}")),
    }
}

/// Decodes a PNG reduced by `factor`, row by row; returns the picture and its EXIF orientation.
pub(super) fn png(path: &Path, factor: u32) -> Result<(Rgb32FImage, Orientation)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = png::Decoder::new(BufReader::new(file));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().map_err(|e| png_error(path, e))?;
    let (width, height, interlaced) = {
        let info = reader.info();
        (info.width, info.height, info.interlaced)
    };
    let orientation = reader
        .info()
        .exif_metadata
        .as_deref()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let (color, depth) = reader.output_color_type();
    let channels = match color {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => return Err(Error::input(path, "cannot decode image: palette not expanded")),
    };
    let wide = depth == png::BitDepth::Sixteen;
    let bytes = if wide { 2 } else { 1 };
    let mut reducer = BoxReducer::new(width, height, factor);
    let mut places = row_places(width, height, interlaced);
    while let Some(row) = reader.next_row().map_err(|e| png_error(path, e))? {
        let Some((y, x0, dx)) = places.next() else { break };
        let data = row.data();
        let sample = |i: usize| -> f32 {
            if wide {
                u16::from_be_bytes([data[2 * i], data[2 * i + 1]]) as f32 / 65535.0
            } else {
                data[i] as f32 / 255.0
            }
        };
        let pixels = data.len() / (channels * bytes);
        for k in 0..pixels {
            let s = k * channels;
            let (rgb, alpha) = match channels {
                1 => ([sample(s); 3], 1.0),
                2 => ([sample(s); 3], sample(s + 1)),
                3 => ([sample(s), sample(s + 1), sample(s + 2)], 1.0),
                _ => ([sample(s), sample(s + 1), sample(s + 2)], sample(s + 3)),
            };
            reducer.add(x0 + k as u32 * dx, y, over_white(rgb, alpha));
        }
    }
    Ok((reducer.finish(), orientation))
}

/// Whether `jpeg` can read this file at a reduced size: a JPEG `jpeg-decoder` parses, 8-bit grey
/// or colour. CMYK and 12-bit files are decoded whole instead, under the allocation limit.
pub(super) fn jpeg_scalable(path: &Path) -> bool {
    let Ok(file) = File::open(path) else { return false };
    let mut decoder = jpeg_decoder::Decoder::new(BufReader::new(file));
    decoder.read_info().is_ok()
        && decoder
            .info()
            .is_some_and(|i| matches!(i.pixel_format, jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::RGB24))
}

/// Decodes a JPEG with the scaled inverse DCT (1/2, 1/4, 1/8) so its long side is at least
/// `need`; returns the picture and its EXIF orientation. Progressive files keep all coefficients
/// while decoding: those are bounded by the allocation limit.
pub(super) fn jpeg(path: &Path, need: u32) -> Result<(DynamicImage, Orientation)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let fail = |e: jpeg_decoder::Error| Error::input(path, format!("cannot decode image: {e}"));
    let mut decoder = jpeg_decoder::Decoder::new(BufReader::new(file));
    decoder.set_max_decoding_buffer_size(usize::try_from(MAX_ALLOC).unwrap_or(usize::MAX));
    decoder.read_info().map_err(fail)?;
    let info = decoder.info().ok_or_else(|| Error::input(path, "cannot decode image: no frame header"))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let long = w.max(h).max(1);
    let want = |side: u32| (u64::from(side) * u64::from(need)).div_ceil(u64::from(long)).clamp(1, 65535) as u16;
    decoder.scale(want(w), want(h)).map_err(fail)?;
    let pixels = decoder.decode().map_err(fail)?;
    let info = decoder.info().ok_or_else(|| Error::input(path, "cannot decode image: no frame header"))?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let short = || Error::input(path, "image is truncated (file ends early)");
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => DynamicImage::ImageLuma8(GrayImage::from_raw(w, h, pixels).ok_or_else(short)?),
        jpeg_decoder::PixelFormat::RGB24 => {
            DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, pixels).ok_or_else(short)?)
        }
        other => return Err(Error::input(path, format!("cannot decode image: unexpected pixel format {other:?}"))),
    };
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    Ok((image, orientation))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam7_places_cover_every_pixel_once() {
        // Independent of the decoder: every (x, y) of odd and tiny sizes is reached exactly once.
        for (w, h) in [(1, 1), (3, 2), (9, 17), (16, 16), (37, 23)] {
            let mut hits = vec![0u32; (w * h) as usize];
            for (y, x0, dx) in row_places(w, h, true) {
                let mut x = x0;
                while x < w {
                    hits[(y * w + x) as usize] += 1;
                    x += dx;
                }
            }
            assert!(hits.iter().all(|&n| n == 1), "{w}x{h}");
        }
    }

    #[test]
    fn box_reduction_averages_partial_edge_boxes() {
        // A 5x3 picture whose red channel is x + 10y, reduced by 2: boxes hold 2x2, 1x2, 2x1, 1x1
        // pixels; the means were worked out by hand.
        let mut r = BoxReducer::new(5, 3, 2);
        for y in 0..3 {
            for x in 0..5 {
                r.add(x, y, [(x + 10 * y) as f32, 0.0, 1.0]);
            }
        }
        let out = r.finish();
        assert_eq!((out.width(), out.height()), (3, 2));
        let red: Vec<f32> = out.pixels().map(|p| p[0]).collect();
        assert_eq!(red, vec![5.5, 7.5, 9.0, 20.5, 22.5, 24.0]);
        assert!(out.pixels().all(|p| p[2] == 1.0));
    }
}
