//! Colour preservation (Gatys et al. 2016, "Preserving color in neural artistic style transfer").

// Small fixed-size matrix code reads best with explicit indices.
#![allow(clippy::needless_range_loop)]

use image::{Rgb, Rgb32FImage};

/// RGB → YIQ (NTSC 1953 matrix).
fn to_yiq([r, g, b]: [f32; 3]) -> [f32; 3] {
    [
        0.299 * r + 0.587 * g + 0.114 * b,
        0.595_716 * r - 0.274_453 * g - 0.321_263 * b,
        0.211_456 * r - 0.522_591 * g + 0.311_135 * b,
    ]
}

/// YIQ → RGB (inverse of the matrix above).
fn from_yiq([y, i, q]: [f32; 3]) -> [f32; 3] {
    [y + 0.956_3 * i + 0.621_0 * q, y - 0.272_1 * i - 0.647_4 * q, y - 1.107_0 * i + 1.704_6 * q]
}

/// Luminance-only transfer: the stylised image's luminance (Y) with the content's chroma (I, Q).
/// Both images must have the same size.
pub fn keep_content_colors(stylised: &Rgb32FImage, content: &Rgb32FImage) -> Rgb32FImage {
    let mut out = stylised.clone();
    for (o, c) in out.pixels_mut().zip(content.pixels()) {
        let [y, _, _] = to_yiq(o.0);
        let [_, i, q] = to_yiq(c.0);
        *o = Rgb(from_yiq([y, i, q]).map(|v| v.clamp(0.0, 1.0)));
    }
    out
}

type Mat3 = [[f64; 3]; 3];

fn mean_cov(image: &Rgb32FImage) -> ([f64; 3], Mat3) {
    let n = (image.width() as f64 * image.height() as f64).max(1.0);
    let mut mean = [0.0; 3];
    for p in image.pixels() {
        for c in 0..3 {
            mean[c] += p.0[c] as f64 / n;
        }
    }
    let mut cov = [[0.0; 3]; 3];
    for p in image.pixels() {
        let d = [0, 1, 2].map(|c| p.0[c] as f64 - mean[c]);
        for i in 0..3 {
            for j in 0..3 {
                cov[i][j] += d[i] * d[j] / n;
            }
        }
    }
    (mean, cov)
}

/// Lower-triangular `L` with `L·Lᵀ = a` (a small ridge keeps flat images well-posed).
fn cholesky(a: &Mat3) -> Mat3 {
    let mut l = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..=i {
            let mut sum = a[i][j] + if i == j { 1e-5 } else { 0.0 };
            for k in 0..j {
                sum -= l[i][k] * l[j][k];
            }
            l[i][j] = if i == j { sum.max(1e-12).sqrt() } else { sum / l[j][j] };
        }
    }
    l
}

fn invert_lower(l: &Mat3) -> Mat3 {
    let mut inv = [[0.0; 3]; 3];
    for i in 0..3 {
        inv[i][i] = 1.0 / l[i][i];
        for j in 0..i {
            let mut sum = 0.0;
            for k in j..i {
                sum -= l[i][k] * inv[k][j];
            }
            inv[i][j] = sum / l[i][i];
        }
    }
    inv
}

fn mul(a: &Mat3, b: &Mat3) -> Mat3 {
    let mut m = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            m[i][j] = (0..3).map(|k| a[i][k] * b[k][j]).sum();
        }
    }
    m
}

/// Colour histogram matching: maps the style image's colours linearly so their mean and covariance
/// equal the content's (`x' = L_c·L_s⁻¹·(x − μ_s) + μ_c`, Cholesky factors of the covariances).
pub fn match_histogram(style: &Rgb32FImage, content: &Rgb32FImage) -> Rgb32FImage {
    let (mu_s, cov_s) = mean_cov(style);
    let (mu_c, cov_c) = mean_cov(content);
    let a = mul(&cholesky(&cov_c), &invert_lower(&cholesky(&cov_s)));
    let mut out = style.clone();
    for p in out.pixels_mut() {
        let d = [0, 1, 2].map(|c| p.0[c] as f64 - mu_s[c]);
        let v = [0, 1, 2].map(|i| (mu_c[i] + (0..3).map(|k| a[i][k] * d[k]).sum::<f64>()) as f32);
        *p = Rgb(v.map(|x| x.clamp(0.0, 1.0)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yiq_round_trip() {
        for rgb in [[0.2, 0.4, 0.9], [1.0, 0.0, 0.0], [0.5, 0.5, 0.5]] {
            let back = from_yiq(to_yiq(rgb));
            for c in 0..3 {
                assert!((back[c] - rgb[c]).abs() < 1e-3, "{rgb:?} -> {back:?}");
            }
        }
        // Grey has no chroma: Y = 0.5, I = Q = 0 (row sums of the I and Q rows are 0).
        let [y, i, q] = to_yiq([0.5, 0.5, 0.5]);
        assert!((y - 0.5).abs() < 1e-6 && i.abs() < 1e-6 && q.abs() < 1e-6);
    }

    #[test]
    fn luminance_transfer_keeps_content_chroma() {
        let stylised = Rgb32FImage::from_pixel(2, 2, Rgb([0.5, 0.5, 0.5]));
        let content = Rgb32FImage::from_pixel(2, 2, Rgb([0.6, 0.4, 0.3]));
        let out = keep_content_colors(&stylised, &content);
        let [y, i, q] = to_yiq(out.get_pixel(0, 0).0);
        let [_, ci, cq] = to_yiq([0.6, 0.4, 0.3]);
        assert!((y - 0.5).abs() < 1e-3 && (i - ci).abs() < 1e-3 && (q - cq).abs() < 1e-3);
    }

    #[test]
    fn histogram_matching_moves_mean_and_cov() {
        // Style: a red-ish ramp; content: a blue-ish ramp. After matching, the style's mean and
        // covariance must equal the content's (computed by the same mean_cov; values by hand below).
        let style = Rgb32FImage::from_fn(8, 8, |x, y| {
            Rgb([0.5 + 0.05 * x as f32, 0.2 + 0.03 * ((x * y) % 5) as f32, 0.1 + 0.02 * y as f32])
        });
        let content = Rgb32FImage::from_fn(8, 8, |x, y| {
            Rgb([0.1 + 0.02 * ((x + 3 * y) % 4) as f32, 0.2 + 0.03 * y as f32, 0.4 + 0.05 * x as f32])
        });
        let out = match_histogram(&style, &content);
        let (m_o, c_o) = mean_cov(&out);
        let (m_c, c_c) = mean_cov(&content);
        // Content mean by hand: G 0.2 + 0.03·3.5 = 0.305, B 0.4 + 0.05·3.5 = 0.575.
        assert!((m_c[1] - 0.305).abs() < 1e-6 && (m_c[2] - 0.575).abs() < 1e-6);
        for i in 0..3 {
            assert!((m_o[i] - m_c[i]).abs() < 2e-3, "mean {i}: {} vs {}", m_o[i], m_c[i]);
            for j in 0..3 {
                assert!((c_o[i][j] - c_c[i][j]).abs() < 2e-3, "cov {i}{j}: {} vs {}", c_o[i][j], c_c[i][j]);
            }
        }
    }
}
