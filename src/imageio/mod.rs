//! Reading images a user hands us (any common format, with limits, EXIF orientation, grey, 16-bit,
//! alpha and CMYK converted) and writing PNG results atomically with their recipe in a text chunk.

use std::io::BufReader;
use std::path::Path;

use image::error::{ImageError, LimitErrorKind};
use image::metadata::Orientation;
use image::{DynamicImage, GenericImageView, ImageDecoder, ImageFormat, ImageReader, Limits, Rgb32FImage};

use crate::error::{Error, Result};
use crate::util::fs::write_atomic_with;

mod reduced;

/// Largest width or height accepted from a file header.
pub const MAX_DIMENSION: u32 = 16_384;
/// Largest decoder allocation, bytes.
pub const MAX_ALLOC: u64 = 1 << 30;

/// The PNG text chunk keyword that holds a result's recipe (resolved preset and inputs, TOML).
pub const RECIPE_KEY: &str = "brushwork:recipe";

/// Largest picture decoded whole at full size into floats (64 Mpx, 768 MiB as RGB f32); larger
/// files are read at a reduced size when the caller says how large it needs them.
pub const MAX_FULL_PIXELS: u64 = 1 << 26;

/// Loads an image as RGB in [0,1] at its own size; transparent pixels are composited over white.
pub fn load_rgb(path: &Path) -> Result<Rgb32FImage> {
    load_rgb_for(path, None)
}

/// Loads an image as RGB in [0,1], decoded at a reduced size when it is at least twice as large as
/// needed: `need` is the longest side the caller will resize it to. The result's long side is then
/// between `need` and about twice that, so memory follows the working size, not the file's claim.
/// Without `need`, pictures over [`MAX_FULL_PIXELS`] are refused.
pub fn load_rgb_for(path: &Path, need: Option<u32>) -> Result<Rgb32FImage> {
    let format = check_image_file(path)?;
    let (w, h) = limited_reader(path)?.into_dimensions().map_err(|e| Error::input(path, describe_decode_error(&e)))?;
    let factor = need.map(|n| w.max(h) / n.max(1)).filter(|f| *f >= 2);
    let Some(factor) = factor else {
        if need.is_none() && u64::from(w) * u64::from(h) > MAX_FULL_PIXELS {
            return Err(Error::input(
                path,
                format!("image is {w}x{h}, over {} megapixels (refused)", MAX_FULL_PIXELS >> 20),
            ));
        }
        return Ok(flatten_alpha(decode_whole(path)?));
    };
    let swaps = |o: Orientation| {
        use Orientation::*;
        matches!(o, Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH)
    };
    let oriented = |img: DynamicImage, o: Orientation| {
        let mut img = img;
        img.apply_orientation(o);
        (img, if swaps(o) { (h, w) } else { (w, h) })
    };
    let (reduced, (ow, oh)) = match format {
        ImageFormat::Png => {
            let (img, o) = reduced::png(path, factor)?;
            let (img, dims) = oriented(DynamicImage::ImageRgb32F(img), o);
            (img.into_rgb32f(), dims)
        }
        ImageFormat::Jpeg if reduced::jpeg_scalable(path) => {
            let (img, o) = reduced::jpeg(path, need.unwrap_or(1))?;
            let (img, dims) = oriented(img, o);
            (flatten_alpha(img), dims)
        }
        _ => {
            let whole = decode_whole(path)?;
            let dims = whole.dimensions();
            (reduced::reduce_dynamic(&whole, factor), dims)
        }
    };
    // The size a full decode would have been resized to, exactly, so that results (and saved
    // checkpoints) do not depend on how the file was read.
    let long = need.unwrap_or(1).min(ow.max(oh));
    let (tw, th) = crate::engine::tensor_image::fit_long_side(ow, oh, long);
    Ok(crate::engine::tensor_image::resize(&reduced, tw, th))
}

/// The picture's width and height as displayed (EXIF orientation applied), from its header alone.
pub fn display_dimensions(path: &Path) -> Result<(u32, u32)> {
    check_image_file(path)?;
    let read = || -> std::result::Result<(u32, u32), ImageError> {
        let mut decoder = limited_reader(path)
            .map_err(|e| ImageError::IoError(std::io::Error::other(e.to_string())))?
            .into_decoder()?;
        let (w, h) = decoder.dimensions();
        use Orientation::*;
        Ok(match decoder.orientation()? {
            Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => (h, w),
            _ => (w, h),
        })
    };
    read().map_err(|e| Error::input(path, describe_decode_error(&e)))
}

/// Checks that `path` is a non-empty file whose content is an image format we read; returns it.
fn check_image_file(path: &Path) -> Result<ImageFormat> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::input(path, "no such file"),
        _ => Error::input(path, format!("cannot read: {e}")),
    })?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a directory, not an image"));
    }
    if meta.len() == 0 {
        return Err(Error::input(path, "file is empty (0 bytes)"));
    }
    // Judge by content, not by extension: a text file named .jpg is "not an image".
    let mut head = [0u8; 32];
    let n = std::io::Read::read(&mut std::fs::File::open(path).map_err(|e| Error::io(path, e))?, &mut head)
        .map_err(|e| Error::io(path, e))?;
    match image::guess_format(&head[..n]) {
        Ok(format) if format.reading_enabled() => Ok(format),
        _ => Err(Error::input(path, not_an_image(path))),
    }
}

/// "not an image", with a pointer to `brushwork video` when the file is a video.
fn not_an_image(path: &Path) -> String {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    if VIDEO_EXTENSIONS.contains(&ext.as_str()) {
        "is a video, not an image (use `brushwork video` for clips)".to_string()
    } else {
        "not an image (unrecognised format)".to_string()
    }
}

/// Extensions of common video containers, for the hint above.
const VIDEO_EXTENSIONS: &[&str] = &["mp4", "mov", "mkv", "webm", "avi", "m4v", "mpg", "mpeg", "ts", "flv", "wmv"];

fn limited_reader(path: &Path) -> Result<ImageReader<BufReader<std::fs::File>>> {
    let mut reader = ImageReader::open(path)
        .map_err(|e| Error::input(path, format!("cannot read: {e}")))?
        .with_guessed_format()
        .map_err(|e| Error::input(path, format!("cannot read: {e}")))?;
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    Ok(reader)
}

/// Decodes the whole picture in its own sample type, under the limits, EXIF orientation applied.
fn decode_whole(path: &Path) -> Result<DynamicImage> {
    let reader = limited_reader(path)?;
    let decode = || -> std::result::Result<DynamicImage, ImageError> {
        let mut decoder = reader.into_decoder()?;
        let orientation = decoder.orientation()?;
        let mut img = DynamicImage::from_decoder(decoder)?;
        img.apply_orientation(orientation);
        Ok(img)
    };
    decode().map_err(|e| Error::input(path, describe_decode_error(&e)))
}

fn describe_decode_error(e: &ImageError) -> String {
    match e {
        ImageError::Limits(l) => match l.kind() {
            LimitErrorKind::DimensionError => {
                format!("image is larger than {MAX_DIMENSION}x{MAX_DIMENSION} pixels (refused)")
            }
            LimitErrorKind::InsufficientMemory => {
                format!("image would need more than {} MiB to decode (refused)", MAX_ALLOC >> 20)
            }
            _ => format!("image exceeds decoder limits: {e}"),
        },
        ImageError::Unsupported(u) => format!("unsupported image: {u}"),
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            "image is truncated (file ends early)".to_string()
        }
        _ => format!("cannot decode image: {e}"),
    }
}

fn flatten_alpha(img: DynamicImage) -> Rgb32FImage {
    if !img.color().has_alpha() {
        return img.to_rgb32f();
    }
    let rgba = img.to_rgba32f();
    Rgb32FImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        image::Rgb([r * a + (1.0 - a), g * a + (1.0 - a), b * a + (1.0 - a)])
    })
}

/// Converts to 8-bit RGB with rounding.
pub fn to_rgb8(image: &Rgb32FImage) -> image::RgbImage {
    image::RgbImage::from_fn(image.width(), image.height(), |x, y| {
        image::Rgb(image.get_pixel(x, y).0.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
    })
}

/// Writes an 8-bit PNG to a temporary name, then renames it onto `path`. `text` goes into iTXt chunks.
pub fn save_png(path: &Path, image: &Rgb32FImage, text: &[(&str, String)]) -> Result<()> {
    let rgb = to_rgb8(image);
    Ok(write_atomic_with(path, |file| {
        let mut encoder = png::Encoder::new(file, rgb.width(), rgb.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        for (key, value) in text {
            encoder.add_itxt_chunk(key.to_string(), value.clone()).map_err(std::io::Error::other)?;
        }
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(rgb.as_raw()).map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })?)
}

/// Writes `image` in the format `path`'s extension names (PNG with `text`, or any format the image
/// crate writes), atomically.
pub fn save_image(path: &Path, image: &Rgb32FImage, text: &[(&str, String)]) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    if matches!(ext.as_deref(), Some("png") | None) {
        return save_png(path, image, text);
    }
    let format = image::ImageFormat::from_path(path)
        .map_err(|_| Error::input(path, "unknown output format (use .png, .jpg, .webp, .bmp or .tif)"))?;
    let rgb = to_rgb8(image);
    if format == ImageFormat::Jpeg {
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 92)
            .encode_image(&rgb)
            .map_err(|e| Error::input(path, format!("cannot encode JPEG: {e}")))?;
        let comments: Vec<String> =
            text.iter().filter(|(k, _)| *k == RECIPE_KEY).map(|(k, v)| format!("{k}\n{v}")).collect();
        let jpeg = with_jpeg_comments(jpeg, &comments);
        return Ok(write_atomic_with(path, |file| std::io::Write::write_all(file, &jpeg))?);
    }
    Ok(write_atomic_with(path, |file| rgb.write_to(file, format).map_err(std::io::Error::other))?)
}

/// Whether a result written to `path` carries its recipe (PNG and JPEG do).
pub fn keeps_recipe(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), None | Some("png" | "jpg" | "jpeg"))
}

/// `jpeg` with a COM segment per comment after SOI and any JFIF APP0 (comments too long for
/// one segment, 65533 bytes, are left out).
fn with_jpeg_comments(jpeg: Vec<u8>, comments: &[String]) -> Vec<u8> {
    if comments.is_empty() || jpeg.len() < 4 || jpeg[..2] != [0xFF, 0xD8] {
        return jpeg;
    }
    let mut at = 2;
    if jpeg[2..4] == [0xFF, 0xE0] && jpeg.len() >= 6 {
        at = 4 + u16::from_be_bytes([jpeg[4], jpeg[5]]) as usize;
    }
    let mut out = Vec::with_capacity(jpeg.len() + comments.iter().map(|c| c.len() + 4).sum::<usize>());
    out.extend_from_slice(&jpeg[..at]);
    for c in comments.iter().filter(|c| c.len() <= 65533) {
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&((c.len() + 2) as u16).to_be_bytes());
        out.extend_from_slice(c.as_bytes());
    }
    out.extend_from_slice(&jpeg[at..]);
    out
}

/// The text after `key` and a newline in a JPEG's COM segments (read up to the image data).
pub fn read_jpeg_comment(path: &Path, key: &str) -> Result<Option<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if bytes.len() < 2 || bytes[..2] != [0xFF, 0xD8] {
        return Err(Error::input(path, "not a JPEG file"));
    }
    let mut at = 2;
    while at + 4 <= bytes.len() && bytes[at] == 0xFF {
        let marker = bytes[at + 1];
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
        let Some(data) = bytes.get(at + 4..at + 2 + len) else { break };
        if marker == 0xFE {
            if let Some(rest) = data.strip_prefix(key.as_bytes()).and_then(|r| r.strip_prefix(b"\n")) {
                let text = String::from_utf8(rest.to_vec())
                    .map_err(|_| Error::input(path, "the recipe comment is not UTF-8"))?;
                return Ok(Some(text));
            }
        }
        at += 2 + len;
    }
    Ok(None)
}

/// A result's recipe: the PNG text chunk or the JPEG comment [`RECIPE_KEY`].
pub fn read_recipe(path: &Path) -> Result<Option<String>> {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("jpg" | "jpeg") => read_jpeg_comment(path, RECIPE_KEY),
        _ => read_png_text(path, RECIPE_KEY),
    }
}

/// Reads the iTXt/tEXt chunk `key` of a PNG file, if present.
pub fn read_png_text(path: &Path, key: &str) -> Result<Option<String>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let reader = decoder.read_info().map_err(|e| Error::input(path, format!("not a readable PNG: {e}")))?;
    let info = reader.info();
    for chunk in &info.utf8_text {
        if chunk.keyword == key {
            return chunk.get_text().map(Some).map_err(|e| Error::input(path, format!("bad text chunk: {e}")));
        }
    }
    Ok(info.uncompressed_latin1_text.iter().find(|c| c.keyword == key).map(|c| c.text.clone()))
}
