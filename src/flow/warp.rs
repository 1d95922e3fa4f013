//! Backward warping of images by a flow field.

use rayon::prelude::*;

use super::field::{axis, Flow};

/// Backward warp: out(x) = img(x + flow(x)), bilinear; samples outside clamp to the edge.
///
/// `img` is row-major with `channels` interleaved values per pixel. For video, warping the previous
/// stylised frame by `back` (flow of frame t into frame t-1) moves it into frame t. Zero flow returns `img`
/// bit for bit and a constant image stays exactly constant.
pub fn warp(img: &[f32], width: usize, height: usize, channels: usize, flow: &Flow) -> Vec<f32> {
    flow.check();
    assert!(
        flow.width == width && flow.height == height,
        "warp: {width}x{height} image with a {}x{} flow",
        flow.width,
        flow.height
    );
    assert_eq!(img.len(), width * height * channels, "warp: {width}x{height}x{channels} image size");
    let mut out = vec![0.0f32; img.len()];
    if out.is_empty() {
        return out;
    }
    let c = channels;
    out.par_chunks_mut(width * c).enumerate().for_each(|(y, row)| {
        for (x, px) in row.chunks_exact_mut(c).enumerate() {
            let i = y * width + x;
            let (x0, x1, fx) = axis(x as f32 + flow.u[i], width);
            let (y0, y1, fy) = axis(y as f32 + flow.v[i], height);
            let (a, b) = ((y0 * width + x0) * c, (y0 * width + x1) * c);
            let (d, e) = ((y1 * width + x0) * c, (y1 * width + x1) * c);
            for (k, o) in px.iter_mut().enumerate() {
                let top = img[a + k] + fx * (img[b + k] - img[a + k]);
                let bot = img[d + k] + fx * (img[e + k] - img[d + k]);
                *o = top + fy * (bot - top);
            }
        }
    });
    out
}

/// `warp` for an RGB float image.
pub fn warp_rgb32f(img: &image::Rgb32FImage, flow: &Flow) -> image::Rgb32FImage {
    let (w, h) = (img.width(), img.height());
    let data = warp(img.as_raw(), w as usize, h as usize, 3, flow);
    image::Rgb32FImage::from_raw(w, h, data).expect("warp keeps the buffer size")
}
