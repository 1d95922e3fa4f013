//! Display orientation of a video stream: phones store the picture as the sensor saw it and say
//! how to turn it for display, as a display matrix (stream side data, the `tkhd` matrix of
//! MP4/MOV) or, in older files, a `rotate` tag (clockwise degrees). Frames are turned upright
//! after decoding, so the network, the flow and the encoder only ever see the upright picture.

use ffmpeg_next::codec::packet::side_data::Type as SideDataType;
use ffmpeg_next::format::stream::Stream;
use image::RgbImage;

/// A quarter-turn rotation and/or mirror: the picture as displayed is the coded picture with each
/// pixel `(x, y)` moved to `(a·x + c·y, b·x + d·y)`, shifted back into the frame (y downwards,
/// FFmpeg's display matrix convention). Each of `a, b, c, d` is -1, 0 or 1 and the matrix is a
/// signed permutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Orientation {
    a: i8,
    b: i8,
    c: i8,
    d: i8,
}

impl Default for Orientation {
    fn default() -> Self {
        Self::IDENTITY
    }
}

impl Orientation {
    pub const IDENTITY: Orientation = Orientation { a: 1, b: 0, c: 0, d: 1 };

    /// Turned clockwise by `degrees` (a multiple of 90) for display, as the legacy `rotate` tag says.
    pub fn clockwise(degrees: i64) -> Option<Orientation> {
        match degrees.rem_euclid(360) {
            0 => Some(Self::IDENTITY),
            90 => Some(Orientation { a: 0, b: 1, c: -1, d: 0 }),
            180 => Some(Orientation { a: -1, b: 0, c: 0, d: -1 }),
            270 => Some(Orientation { a: 0, b: -1, c: 1, d: 0 }),
            _ => None,
        }
    }

    /// Mirrored left to right after this orientation.
    pub fn then_mirror(self) -> Orientation {
        Orientation { a: -self.a, b: self.b, c: -self.c, d: self.d }
    }

    /// From a display matrix (nine `i32`: a, b, u, c, d, v, x, y, w; a..d in 16.16 fixed point).
    /// `None` when it is not a quarter turn (with or without a mirror) within about a degree.
    pub fn from_matrix(m: &[i32; 9]) -> Option<Orientation> {
        let [a, b, _, c, d, ..] = m.map(|v| f64::from(v) / 65536.0);
        let (straight, crossed) = (a.abs() + d.abs(), b.abs() + c.abs());
        // tan(1°) ≈ 0.0175.
        let sign = |v: f64| if v < 0.0 { -1 } else { 1 };
        if straight > 0.0 && crossed <= 0.0175 * straight && a != 0.0 && d != 0.0 {
            Some(Orientation { a: sign(a), b: 0, c: 0, d: sign(d) })
        } else if crossed > 0.0 && straight <= 0.0175 * crossed && b != 0.0 && c != 0.0 {
            Some(Orientation { a: 0, b: sign(b), c: sign(c), d: 0 })
        } else {
            None
        }
    }

    /// The orientation a stream asks for: its display matrix, else its `rotate` tag. `Err` says
    /// what was found when it is not a quarter turn (the frames are then used as coded).
    pub fn of_stream(stream: &Stream) -> Result<Orientation, String> {
        for side in stream.side_data() {
            if side.kind() != SideDataType::DisplayMatrix {
                continue;
            }
            let data = side.data();
            let Some(bytes) = data.get(..36) else {
                return Err(format!("a display matrix of {} bytes (ignored)", data.len()));
            };
            let mut m = [0i32; 9];
            for (v, chunk) in m.iter_mut().zip(bytes.chunks_exact(4)) {
                *v = i32::from_ne_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            }
            return Orientation::from_matrix(&m)
                .ok_or_else(|| "a display matrix that is not a quarter turn (used as coded)".to_string());
        }
        match stream.metadata().get("rotate") {
            None => Ok(Self::IDENTITY),
            Some(tag) => tag
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|deg| deg.is_finite() && (deg / 90.0 - (deg / 90.0).round()).abs() < 1.0 / 90.0)
                .and_then(|deg| Orientation::clockwise((deg / 90.0).round() as i64 * 90))
                .ok_or_else(|| format!("`rotate` tag {tag:?} is not a quarter turn (used as coded)")),
        }
    }

    pub fn is_identity(self) -> bool {
        self == Self::IDENTITY
    }

    /// Width and height swap (a quarter turn, possibly mirrored).
    pub fn swaps_sides(self) -> bool {
        self.a == 0
    }

    /// The displayed size of a `w`x`h` coded picture.
    pub fn display_size(self, (w, h): (u32, u32)) -> (u32, u32) {
        if self.swaps_sides() {
            (h, w)
        } else {
            (w, h)
        }
    }

    /// The coded size whose display is `(w, h)`.
    pub fn coded_size(self, size: (u32, u32)) -> (u32, u32) {
        // Swapping is its own inverse.
        self.display_size(size)
    }

    /// The picture as displayed.
    pub fn apply(self, image: &RgbImage) -> RgbImage {
        if self.is_identity() {
            return image.clone();
        }
        let (w, h) = image.dimensions();
        let (ow, oh) = self.display_size((w, h));
        let (wi, hi) = (i64::from(w) - 1, i64::from(h) - 1);
        // Shift so the smallest transformed coordinate of the frame's corners is 0.
        let (a, b, c, d) = (i64::from(self.a), i64::from(self.b), i64::from(self.c), i64::from(self.d));
        let shift_x = -(a.min(0) * wi + c.min(0) * hi);
        let shift_y = -(b.min(0) * wi + d.min(0) * hi);
        let mut out = RgbImage::new(ow, oh);
        for (x, y, px) in image.enumerate_pixels() {
            let (x, y) = (i64::from(x), i64::from(y));
            let nx = (a * x + c * y + shift_x) as u32;
            let ny = (b * x + d * y + shift_y) as u32;
            out.put_pixel(nx, ny, *px);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Orientation;
    use image::{Rgb, RgbImage};

    /// 3x2, each pixel a distinct value: its index.
    fn numbered() -> RgbImage {
        RgbImage::from_fn(3, 2, |x, y| Rgb([(y * 3 + x) as u8, 0, 0]))
    }

    fn rows(img: &RgbImage) -> Vec<Vec<u8>> {
        (0..img.height()).map(|y| (0..img.width()).map(|x| img.get_pixel(x, y)[0]).collect()).collect()
    }

    #[test]
    fn quarter_turns_match_the_image_crate() {
        let img = numbered();
        let cw = |deg| Orientation::clockwise(deg).unwrap().apply(&img);
        assert_eq!(cw(0), img);
        assert_eq!(cw(90), image::imageops::rotate90(&img));
        assert_eq!(cw(180), image::imageops::rotate180(&img));
        assert_eq!(cw(270), image::imageops::rotate270(&img));
        assert_eq!(cw(-90), image::imageops::rotate270(&img));
        assert_eq!(rows(&cw(90)), vec![vec![3, 0], vec![4, 1], vec![5, 2]]);
        let mirrored = Orientation::IDENTITY.then_mirror().apply(&img);
        assert_eq!(mirrored, image::imageops::flip_horizontal(&img));
        assert!(Orientation::clockwise(45).is_none());
    }

    #[test]
    fn display_matrices_as_ffmpeg_writes_them() {
        let fp = |v: f64| (v * 65536.0) as i32;
        let m = |a: f64, b: f64, c: f64, d: f64| [fp(a), fp(b), 0, fp(c), fp(d), 0, 0, 0, 1 << 30];
        // An iPhone shot in portrait: 0 1 / -1 0, shown turned 90° clockwise (ffprobe: rotation -90).
        assert_eq!(Orientation::from_matrix(&m(0.0, 1.0, -1.0, 0.0)), Orientation::clockwise(90));
        assert_eq!(Orientation::from_matrix(&m(-1.0, 0.0, 0.0, -1.0)), Orientation::clockwise(180));
        assert_eq!(Orientation::from_matrix(&m(0.0, -1.0, 1.0, 0.0)), Orientation::clockwise(270));
        assert_eq!(Orientation::from_matrix(&m(1.0, 0.0, 0.0, 1.0)), Some(Orientation::IDENTITY));
        // av_display_matrix_flip(hflip) negates the first column (a and c).
        assert_eq!(Orientation::from_matrix(&m(-1.0, 0.0, 0.0, 1.0)), Some(Orientation::IDENTITY.then_mirror()));
        // A transpose (FFmpeg's `cclock_flip`): 0 1 / 1 0.
        let t = Orientation::from_matrix(&m(0.0, 1.0, 1.0, 0.0)).unwrap();
        assert_eq!(rows(&t.apply(&numbered())), vec![vec![0, 3], vec![1, 4], vec![2, 5]]);
        // Scaled (anamorphic) but axis-aligned is still a plain orientation.
        assert_eq!(Orientation::from_matrix(&m(2.0, 0.0, 0.0, 1.0)), Some(Orientation::IDENTITY));
        // 45 degrees, or all zeros: not a quarter turn.
        let s = std::f64::consts::FRAC_1_SQRT_2;
        assert_eq!(Orientation::from_matrix(&m(s, s, -s, s)), None);
        assert_eq!(Orientation::from_matrix(&[0; 9]), None);
        // Within a degree of a quarter turn counts as one.
        let e = 0.01;
        assert_eq!(Orientation::from_matrix(&m(e, 1.0, -1.0, e)), Orientation::clockwise(90));
    }

    #[test]
    fn sizes_swap_on_quarter_turns() {
        let q = Orientation::clockwise(90).unwrap();
        assert_eq!(q.display_size((64, 32)), (32, 64));
        assert_eq!(q.coded_size((32, 64)), (64, 32));
        assert_eq!(Orientation::clockwise(180).unwrap().display_size((64, 32)), (64, 32));
        assert_eq!(q.apply(&RgbImage::new(64, 32)).dimensions(), (32, 64));
    }
}
