//! Conversions between images (RGB, f32 in [0,1]) and `[1,3,H,W]` tensors, and resizing.

use candle_core::{DType, Device, Result, Tensor};
use image::imageops::FilterType;
use image::Rgb32FImage;

/// `[1,3,H,W]` tensor of an RGB image in [0,1].
pub fn to_tensor(image: &Rgb32FImage, device: &Device, dtype: DType) -> Result<Tensor> {
    let (w, h) = image.dimensions();
    let (w, h) = (w as usize, h as usize);
    let hwc = Tensor::from_vec(image.as_raw().clone(), (h, w, 3), &Device::Cpu)?;
    hwc.permute((2, 0, 1))?.unsqueeze(0)?.contiguous()?.to_dtype(dtype)?.to_device(device)
}

/// The image in a `[1,3,H,W]` tensor, clipped to [0,1].
pub fn to_image(t: &Tensor) -> Result<Rgb32FImage> {
    let (_, _, h, w) = t.dims4()?;
    let hwc = t.clamp(0.0, 1.0)?.squeeze(0)?.permute((1, 2, 0))?.to_dtype(DType::F32)?;
    let data = hwc.to_device(&Device::Cpu)?.flatten_all()?.to_vec1::<f32>()?;
    Rgb32FImage::from_raw(w as u32, h as u32, data)
        .ok_or_else(|| candle_core::Error::Msg("image buffer size mismatch".into()))
}

/// Width and height with the long side `long` and the aspect ratio of `w`x`h` (each at least 1).
pub fn fit_long_side(w: u32, h: u32, long: u32) -> (u32, u32) {
    if w >= h {
        let nh = ((h as f64) * long as f64 / w as f64).round().max(1.0) as u32;
        (long, nh)
    } else {
        let nw = ((w as f64) * long as f64 / h as f64).round().max(1.0) as u32;
        (nw, long)
    }
}

/// Resizes with a Catmull-Rom filter (a no-op when the size already matches).
pub fn resize(image: &Rgb32FImage, w: u32, h: u32) -> Rgb32FImage {
    if image.dimensions() == (w, h) {
        return image.clone();
    }
    let mut out = image::imageops::resize(image, w, h, FilterType::CatmullRom);
    for v in out.iter_mut() {
        *v = v.clamp(0.0, 1.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let mut img = Rgb32FImage::new(3, 2);
        img.put_pixel(2, 1, image::Rgb([0.1, 0.5, 0.9]));
        let t = to_tensor(&img, &Device::Cpu, DType::F32).unwrap();
        assert_eq!(t.dims(), &[1, 3, 2, 3]);
        let v: Vec<f32> = t.narrow(1, 2, 1).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, vec![0.0, 0.0, 0.0, 0.0, 0.0, 0.9]);
        assert_eq!(to_image(&t).unwrap(), img);
    }

    #[test]
    fn long_side() {
        assert_eq!(fit_long_side(1024, 768, 256), (256, 192));
        assert_eq!(fit_long_side(687, 1024, 100), (67, 100));
        assert_eq!(fit_long_side(5000, 1, 64), (64, 1));
    }
}
