//! The two plain data types the module works on (a flow field and a grey image), bilinear sampling and
//! end-point error.

/// A dense flow field: for pixel x of the first image, the second image's matching point is x + (u, v).
///
/// `u` and `v` are row-major, `width * height` long, in pixels.
#[derive(Clone, Debug, PartialEq)]
pub struct Flow {
    pub width: usize,
    pub height: usize,
    pub u: Vec<f32>,
    pub v: Vec<f32>,
}

impl Flow {
    /// The zero field.
    pub fn zeros(width: usize, height: usize) -> Self {
        Self::constant(width, height, 0.0, 0.0)
    }

    /// Every pixel moves by (u, v).
    pub fn constant(width: usize, height: usize, u: f32, v: f32) -> Self {
        let n = width.checked_mul(height).expect("flow size overflows usize");
        Flow { width, height, u: vec![u; n], v: vec![v; n] }
    }

    /// The vector at pixel (x, y).
    pub fn at(&self, x: usize, y: usize) -> (f32, f32) {
        let i = y * self.width + x;
        (self.u[i], self.v[i])
    }

    /// The vector at a real position, bilinear, clamped to the edge.
    pub fn sample(&self, x: f32, y: f32) -> (f32, f32) {
        (bilinear(&self.u, self.width, self.height, x, y), bilinear(&self.v, self.width, self.height, x, y))
    }

    /// The largest vector length (0 for an empty field; non-finite vectors are skipped).
    pub fn max_magnitude(&self) -> f32 {
        self.u.iter().zip(&self.v).map(|(u, v)| (u * u + v * v).sqrt()).filter(|m| m.is_finite()).fold(0.0, f32::max)
    }

    /// Panics with a message when the vectors do not match the declared size (a programmer error).
    pub(super) fn check(&self) {
        let n = self.width * self.height;
        assert!(
            self.u.len() == n && self.v.len() == n,
            "flow: {}x{} field holds {} u and {} v values",
            self.width,
            self.height,
            self.u.len(),
            self.v.len()
        );
    }
}

/// Grey image as f32 in [0,1], row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

/// Rec. 601 luma weights: the usual grey conversion, and what OpenCV's `COLOR_RGB2GRAY` uses, so flows match
/// the reference script's.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

impl Gray {
    /// Wraps row-major grey values; panics when `data` does not hold `width * height` values.
    pub fn new(width: usize, height: usize, data: Vec<f32>) -> Self {
        assert_eq!(data.len(), width * height, "gray: {width}x{height} image needs {} values", width * height);
        Gray { width, height, data }
    }

    pub fn from_rgb8(img: &image::RgbImage) -> Self {
        let data = img
            .pixels()
            .map(|p| (LUMA[0] * p[0] as f32 + LUMA[1] * p[1] as f32 + LUMA[2] * p[2] as f32) / 255.0)
            .collect();
        Gray { width: img.width() as usize, height: img.height() as usize, data }
    }

    /// Values outside [0,1] (HDR, or an optimiser's overshoot) are clamped; NaN becomes 0.
    pub fn from_rgb32f(img: &image::Rgb32FImage) -> Self {
        let data = img
            .pixels()
            .map(|p| {
                let g = LUMA[0] * p[0] + LUMA[1] * p[1] + LUMA[2] * p[2];
                if g.is_nan() {
                    0.0
                } else {
                    g.clamp(0.0, 1.0)
                }
            })
            .collect();
        Gray { width: img.width() as usize, height: img.height() as usize, data }
    }
}

/// Bilinear sample of a `w`x`h` plane at (x, y); positions outside clamp to the edge, NaN reads as 0.
///
/// Written as `a + f * (b - a)` so that a constant plane samples to exactly that constant.
pub(super) fn bilinear(data: &[f32], w: usize, h: usize, x: f32, y: f32) -> f32 {
    let (x0, x1, fx) = axis(x, w);
    let (y0, y1, fy) = axis(y, h);
    let r0 = y0 * w;
    let r1 = y1 * w;
    let top = data[r0 + x0] + fx * (data[r0 + x1] - data[r0 + x0]);
    let bot = data[r1 + x0] + fx * (data[r1 + x1] - data[r1 + x0]);
    top + fy * (bot - top)
}

/// The two neighbouring indices and the fraction for coordinate `c` on an axis of length `n` (n >= 1).
#[inline]
pub(super) fn axis(c: f32, n: usize) -> (usize, usize, f32) {
    let last = (n - 1) as f32;
    let c = if c.is_nan() { 0.0 } else { c.clamp(0.0, last) };
    // c >= 0, so truncation is floor (and, unlike `floor`, never a libm call on baseline x86-64).
    let i0 = c as usize;
    (i0, (i0 + 1).min(n - 1), c - i0 as f32)
}

/// Mean end-point error (Euclidean distance between vectors) over all pixels; 0 for empty fields.
pub fn mean_epe(a: &Flow, b: &Flow) -> f64 {
    mean_epe_interior(a, b, 0)
}

/// Mean end-point error over the pixels at least `margin` pixels from every border (0 when none are).
pub fn mean_epe_interior(a: &Flow, b: &Flow, margin: usize) -> f64 {
    mean_epe_where(a, b, |x, y| x >= margin && y >= margin && x + margin < a.width && y + margin < a.height)
}

/// Mean end-point error over the pixels for which `keep(x, y)` holds (0 when none do).
pub fn mean_epe_where(a: &Flow, b: &Flow, keep: impl Fn(usize, usize) -> bool) -> f64 {
    a.check();
    b.check();
    assert!(
        a.width == b.width && a.height == b.height,
        "mean_epe: {}x{} vs {}x{} flows",
        a.width,
        a.height,
        b.width,
        b.height
    );
    // Sequential f64 sum: exact enough and independent of threads.
    let mut sum = 0.0f64;
    let mut count = 0usize;
    for y in 0..a.height {
        for x in 0..a.width {
            if keep(x, y) {
                let i = y * a.width + x;
                let du = (a.u[i] - b.u[i]) as f64;
                let dv = (a.v[i] - b.v[i]) as f64;
                sum += (du * du + dv * dv).sqrt();
                count += 1;
            }
        }
    }
    if count == 0 {
        0.0
    } else {
        sum / count as f64
    }
}

/// floor(c) as an integer, clamped to +-2^30 (far outside any image) so huge or non-finite flows stay
/// harmless.
#[inline]
pub(super) fn floor_i(c: f32) -> isize {
    let c = if c.is_nan() { 0.0 } else { c.clamp(-1073741824.0, 1073741824.0) };
    let t = c as isize;
    if (t as f32) > c {
        t - 1
    } else {
        t
    }
}
