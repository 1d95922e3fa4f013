//! Reading images a user hands us (any common format, with limits, EXIF orientation, grey, 16-bit,
//! alpha and CMYK converted) and writing PNG results atomically with their recipe in a text chunk.

use std::io::BufWriter;
use std::path::Path;

use image::error::{ImageError, LimitErrorKind};
use image::{DynamicImage, ImageDecoder, ImageReader, Limits, Rgb32FImage};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic_with;

/// Largest width or height accepted from a file header.
pub const MAX_DIMENSION: u32 = 16_384;
/// Largest decoder allocation, bytes.
pub const MAX_ALLOC: u64 = 1 << 30;

/// The PNG text chunk keyword that holds a result's recipe (resolved preset and inputs, TOML).
pub const RECIPE_KEY: &str = "brushwork:recipe";

/// Loads an image as RGB in [0,1]; transparent pixels are composited over white.
pub fn load_rgb(path: &Path) -> Result<Rgb32FImage> {
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
    let mut reader = ImageReader::open(path)
        .map_err(|e| Error::input(path, format!("cannot read: {e}")))?
        .with_guessed_format()
        .map_err(|e| Error::input(path, format!("cannot read: {e}")))?;
    // Judge by content, not by extension: a text file named .jpg is "not an image".
    let mut head = [0u8; 32];
    let n = std::io::Read::read(&mut std::fs::File::open(path).map_err(|e| Error::io(path, e))?, &mut head)
        .map_err(|e| Error::io(path, e))?;
    if reader.format().is_none() || image::guess_format(&head[..n]).is_err() {
        return Err(Error::input(path, "not an image (unrecognised format)"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let decode = || -> std::result::Result<DynamicImage, ImageError> {
        let mut decoder = reader.into_decoder()?;
        let orientation = decoder.orientation()?;
        let mut img = DynamicImage::from_decoder(decoder)?;
        img.apply_orientation(orientation);
        Ok(img)
    };
    let img = decode().map_err(|e| Error::input(path, describe_decode_error(&e)))?;
    Ok(flatten_alpha(img))
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
    write_atomic_with(path, |file| {
        let mut encoder = png::Encoder::new(BufWriter::new(file), rgb.width(), rgb.height());
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        for (key, value) in text {
            encoder.add_itxt_chunk(key.to_string(), value.clone()).map_err(std::io::Error::other)?;
        }
        let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(rgb.as_raw()).map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)
    })
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
    write_atomic_with(path, |file| {
        let mut w = BufWriter::new(file);
        let mut buf = std::io::Cursor::new(Vec::new());
        rgb.write_to(&mut buf, format).map_err(std::io::Error::other)?;
        std::io::Write::write_all(&mut w, buf.get_ref())?;
        std::io::Write::flush(&mut w)
    })
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
