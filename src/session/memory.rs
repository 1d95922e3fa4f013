//! How much memory a job will need, estimated from the shapes alone before any work starts, so a
//! job that cannot fit (`style_scale = 1000`, a 16384² photo) is refused with one line instead of
//! taking the process (and every other session of a `serve`) down when the allocation fails or
//! the kernel's OOM killer picks it.
//!
//! The estimate is deliberately rough and on the high side: f32 everywhere, the widths of the
//! real VGG (a smaller test network only makes it more conservative), every Winograd kernel
//! transform a layer may use, and twice the forward activations for the backward pass.

use std::path::Path;

use crate::engine::border::REFLECT;
use crate::engine::settings::{ArchChoice, ColorMode, Optimizer, Padding};
use crate::engine::Settings;
use crate::error::{Error, Result};
use crate::session::{Kind, SessionSpec};
use crate::weights::layout::{parse_layer_name, Arch};

const F32: f64 = 4.0;
const GIB: f64 = (1u64 << 30) as f64;

/// Kept free besides the estimate: the allocator's slack, the rest of the system.
const MARGIN_BYTES: f64 = 512.0 * 1024.0 * 1024.0;

/// The program itself before any job: code, FFmpeg and the other libraries, thread stacks.
const PROCESS_BYTES: f64 = 150.0 * 1024.0 * 1024.0;

/// Forward activations kept for the backward pass count this many times: the backward pass's
/// gradients, ReLU masks and the loss's temporaries come on top. Measured: 512x384 on the real
/// VGG-16 widths peaked at 857 MiB resident where the estimate with 2 said 763 MiB.
const TRACE_FACTOR: f64 = 2.5;

/// The estimate and its largest part, named for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    pub bytes: f64,
    pub largest: String,
}

/// Width and height of the images a job reads (from their headers), when known; a video's
/// frames, and an image that cannot be read, count as square (an upper bound).
#[derive(Debug, Clone, Default)]
pub struct Shapes {
    pub content: Option<(u32, u32)>,
    pub styles: Vec<Option<(u32, u32)>>,
}

/// An image's size from its header. One larger than the loader accepts is left to the loader,
/// which refuses it with a message naming the file.
fn header_dims(path: &Path) -> Option<(u32, u32)> {
    let (w, h) = image::ImageReader::open(path).ok()?.with_guessed_format().ok()?.into_dimensions().ok()?;
    (w <= crate::imageio::MAX_DIMENSION && h <= crate::imageio::MAX_DIMENSION).then_some((w, h))
}

/// The bytes one job needs at its peak.
pub fn estimate(settings: &Settings, shapes: &Shapes) -> Estimate {
    let arch = match settings.arch {
        ArchChoice::Vgg16 => Arch::Vgg16,
        // Auto may find either: VGG-19 is the larger.
        ArchChoice::Vgg19 | ArchChoice::Auto => Arch::Vgg19,
    };
    let layers = Layers::new(arch, settings);
    let mut parts: Vec<(String, f64)> = Vec::new();
    // Decoded inputs (RGB f32), kept for the whole run. A picture at least twice as large as
    // it is used at is read reduced (`imageio::load_rgb_for`), to under twice that size.
    let decoded = |d: Option<(u32, u32)>, fallback: (u32, u32), need: f64| {
        let (w, h) = d.unwrap_or(fallback);
        let long = w.max(h) as f64;
        let (w, h) = if long >= 2.0 * need { fit_f((w, h), 2.0 * need) } else { (w as f64, h as f64) };
        3.0 * F32 * w * h
    };
    let square = (settings.size, settings.size);
    let content_in = decoded(shapes.content, square, settings.size as f64);
    let style_need = crate::engine::stylize::style_long_side(settings.size, settings.style_scale) as f64;
    let styles_in: f64 = shapes.styles.iter().map(|d| decoded(*d, square, style_need)).sum::<f64>()
        * if settings.color == ColorMode::Histogram { 2.0 } else { 1.0 };
    parts.push((
        match shapes.content {
            Some((w, h)) => format!("the content image decoded ({w}x{h})"),
            None => "the frames decoded".into(),
        },
        content_in,
    ));
    parts.push(("the style images decoded".into(), styles_in));
    parts.push(("the network's weights".into(), layers.weight_bytes()));
    parts.push(("the program itself".into(), PROCESS_BYTES));

    // The optimisation at each scale, and before it the style Gram matrices at that scale.
    let mut peak_scale = (String::new(), 0.0f64);
    let mut transforms = TransformSet::default();
    for size in settings.scale_sizes() {
        let (w, h) = fit(shapes.content.unwrap_or(square), size);
        let image = 3.0 * F32 * w as f64 * h as f64;
        // The network sees the picture with its mirrored border when `padding = "reflect"`.
        let border = if settings.padding == Padding::Reflect { 2 * REFLECT as u32 } else { 0 };
        let (nw, nh) = (w + border, h + border);
        let history = match settings.optimizer {
            Optimizer::Lbfgs => 2.0 * settings.lbfgs_history as f64 + 8.0,
            Optimizer::Adam => 6.0,
        };
        // Trace kept for backward, the backward's own buffers, content targets, Grams.
        let optimise = TRACE_FACTOR * layers.trace_bytes(nw, nh)
            + layers.content_bytes(nw, nh)
            + history * image
            + 3.0 * layers.gram_bytes();
        transforms.add(&layers, nw, nh);
        let long = ((size as f64) * settings.style_scale).round().max(16.0);
        let mut style_phase = layers.gram_bytes();
        for d in &shapes.styles {
            let (sw, sh) = fit_f(d.unwrap_or(square), long);
            let pixels = sw * sh;
            // The resized copy, its tensor and one forward trace (no backward).
            style_phase = style_phase.max(2.0 * 3.0 * F32 * pixels + layers.trace_bytes_f(sw, sh));
            transforms.add_f(&layers, sw, sh);
        }
        if style_phase > optimise && style_phase > peak_scale.1 {
            let why = if settings.style_scale > 1.0 {
                format!("the style images at {long:.0} px (`style_scale` {})", settings.style_scale)
            } else {
                format!("the style images at {long:.0} px")
            };
            peak_scale = (why, style_phase);
        } else if optimise > peak_scale.1 {
            peak_scale = (format!("the optimisation at {w}x{h} (`size` {})", settings.size), optimise);
        }
    }
    parts.push(peak_scale);
    parts.push(("the Winograd kernel transforms".into(), transforms.bytes(&layers)));
    let bytes = parts.iter().map(|(_, b)| b).sum();
    let largest = parts.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|p| p.0).unwrap_or_default();
    Estimate { bytes, largest }
}

/// Refuses `spec` when its estimate does not fit in the memory available now (`MemAvailable`
/// less a margin). Where the available memory cannot be read, nothing is refused.
pub fn check(spec: &SessionSpec) -> Result<()> {
    check_job(&spec.job.settings, spec.job.kind, &spec.job.content)
}

/// [`check`] for a job not yet made into a spec (the CLI, before it decodes anything).
pub fn check_job(settings: &Settings, kind: Kind, content: &Path) -> Result<()> {
    let Some(available) = available_bytes() else { return Ok(()) };
    let content = match kind {
        Kind::Video | Kind::Folder => None,
        Kind::Image | Kind::Watched => header_dims(content),
    };
    let shapes = Shapes { content, styles: settings.styles.iter().map(|s| header_dims(&s.path)).collect() };
    check_against(settings, &shapes, available)
}

/// [`check`] against a given amount of available memory.
pub fn check_against(settings: &Settings, shapes: &Shapes, available: f64) -> Result<()> {
    let e = estimate(settings, shapes);
    if e.bytes + MARGIN_BYTES <= available {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "this job needs about {} of memory, mostly {}; {} is available: lower `size`, `style_scale` or `scales`",
        human(e.bytes),
        e.largest,
        human(available)
    )))
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
pub fn available_bytes() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024.0)
}

fn human(bytes: f64) -> String {
    if bytes >= 1024.0 * GIB {
        format!("{:.0} GB", bytes / GIB)
    } else if bytes >= GIB {
        format!("{:.1} GB", bytes / GIB)
    } else {
        format!("{:.0} MB", bytes / (1024.0 * 1024.0))
    }
}

fn fit(d: (u32, u32), long: u32) -> (u32, u32) {
    let (w, h) = fit_f(d, long as f64);
    (w as u32, h as u32)
}

/// `fit_long_side` in f64, so absurd sizes do not overflow.
fn fit_f((w, h): (u32, u32), long: f64) -> (f64, f64) {
    let (w, h) = (w.max(1) as f64, h.max(1) as f64);
    if w >= h {
        (long, (h * long / w).round().max(1.0))
    } else {
        ((w * long / h).round().max(1.0), long)
    }
}

/// The convolutions up to the deepest layer a loss uses, with the real widths.
struct Layers {
    /// (block, in channels, out channels) per convolution.
    convs: Vec<(usize, f64, f64)>,
    content: Vec<(usize, f64)>,
    style_channels: Vec<f64>,
}

impl Layers {
    fn new(arch: Arch, settings: &Settings) -> Layers {
        let all = arch.convs();
        let position = |name: &String| {
            let (b, l) = parse_layer_name(name)?;
            all.iter().position(|c| c.block == b && c.layer == l)
        };
        let used: Vec<usize> =
            settings.content_layers.keys().chain(settings.style_layers.keys()).filter_map(position).collect();
        let deepest = used.iter().copied().max().unwrap_or(all.len().saturating_sub(1));
        let convs =
            all.iter().take(deepest + 1).map(|c| (c.block, c.in_channels as f64, c.out_channels as f64)).collect();
        let content = settings
            .content_layers
            .keys()
            .filter_map(position)
            .map(|i| (all[i].block, all[i].out_channels as f64))
            .collect();
        let style_channels =
            settings.style_layers.keys().filter_map(position).map(|i| all[i].out_channels as f64).collect();
        Layers { convs, content, style_channels }
    }

    fn weight_bytes(&self) -> f64 {
        self.convs.iter().map(|(_, i, o)| (9.0 * i * o + o) * F32).sum()
    }

    fn trace_bytes(&self, w: u32, h: u32) -> f64 {
        self.trace_bytes_f(w as f64, h as f64)
    }

    /// Every stage output of one forward pass (each convolution's, each pooling's) and the input.
    fn trace_bytes_f(&self, w: f64, h: f64) -> f64 {
        let side = |b: usize| {
            let f = (1u64 << (b - 1).min(62)) as f64;
            ((w / f).ceil().max(1.0), (h / f).ceil().max(1.0))
        };
        let mut total = 3.0 * w * h * F32;
        let mut last_block = 1;
        for &(block, _, out) in &self.convs {
            if block != last_block {
                let (pw, ph) = side(block);
                total += out.min(512.0) * pw * ph * F32;
                last_block = block;
            }
            let (bw, bh) = side(block);
            total += out * bw * bh * F32;
        }
        total
    }

    fn content_bytes(&self, w: u32, h: u32) -> f64 {
        let (w, h) = (w as f64, h as f64);
        self.content
            .iter()
            .map(|&(block, c)| {
                let f = (1u64 << (block - 1)) as f64;
                c * (w / f).ceil() * (h / f).ceil() * F32
            })
            .sum()
    }

    /// One Gram matrix per style layer.
    fn gram_bytes(&self) -> f64 {
        self.style_channels.iter().map(|c| c * c * F32).sum()
    }
}

/// Which Winograd tile sizes each convolution will be transformed for.
#[derive(Default)]
struct TransformSet {
    /// Per convolution: (F2 used, F4 used).
    used: Vec<(bool, bool)>,
}

impl TransformSet {
    fn add(&mut self, layers: &Layers, w: u32, h: u32) {
        self.add_f(layers, w as f64, h as f64);
    }

    fn add_f(&mut self, layers: &Layers, w: f64, h: f64) {
        self.used.resize(layers.convs.len(), (false, false));
        for (slot, &(block, _, _)) in self.used.iter_mut().zip(&layers.convs) {
            let f = (1u64 << (block - 1)) as f64;
            let tiles = ((w / f).ceil() / 4.0).ceil() * ((h / f).ceil() / 4.0).ceil();
            if tiles >= 1024.0 {
                slot.1 = true;
            } else {
                slot.0 = true;
            }
        }
    }

    /// 16 (F2) or 36 (F4) transformed values per kernel, forward and backward.
    fn bytes(&self, layers: &Layers) -> f64 {
        self.used
            .iter()
            .zip(&layers.convs)
            .map(|(&(f2, f4), &(_, i, o))| {
                let positions = if f2 { 16.0 } else { 0.0 } + if f4 { 36.0 } else { 0.0 };
                2.0 * positions * i * o * F32
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shapes(content: (u32, u32), style: (u32, u32)) -> Shapes {
        Shapes { content: Some(content), styles: vec![Some(style)] }
    }

    #[test]
    fn a_huge_style_scale_is_refused_and_names_it() {
        let settings = Settings { size: 512, style_scale: 1000.0, ..Settings::default() };
        let e = check_against(&settings, &shapes((640, 480), (512, 512)), 64.0 * GIB).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let m = e.to_string();
        assert!(m.contains("(`style_scale` 1000)") && m.contains("64.0 GB is available"), "{m}");
        assert!(!m.contains("--"), "the library names fields, not flags: {m}");
        assert_eq!(m.lines().count(), 1);
    }

    #[test]
    fn an_ordinary_job_fits_in_a_few_gigabytes() {
        let settings = Settings { size: 512, ..Settings::default() };
        let e = estimate(&settings, &shapes((1024, 768), (800, 600)));
        assert!(e.bytes > 200e6 && e.bytes < 4.0 * GIB, "{}", e.bytes / GIB);
        assert!(check_against(&settings, &shapes((1024, 768), (800, 600)), 8.0 * GIB).is_ok());
    }

    #[test]
    fn the_estimate_grows_with_the_size() {
        let small = estimate(&Settings { size: 256, ..Settings::default() }, &shapes((512, 512), (512, 512)));
        let large = estimate(&Settings { size: 1024, ..Settings::default() }, &shapes((512, 512), (512, 512)));
        // 16 times the pixels: far more than 8 times the memory, the program itself aside.
        assert!(
            large.bytes - PROCESS_BYTES > 8.0 * (small.bytes - PROCESS_BYTES),
            "{} vs {}",
            large.bytes,
            small.bytes
        );
    }

    #[test]
    fn a_huge_content_image_counts_at_the_size_it_is_read() {
        // Read reduced to under twice the working size (128x128 at most for --size 64): 192 KiB
        // as RGB f32, not the 3 GiB of 16384x16384.
        let settings = Settings { size: 64, ..Settings::default() };
        let huge = estimate(&settings, &shapes((16384, 16384), (64, 64)));
        let small = estimate(&settings, &shapes((64, 64), (64, 64)));
        assert!(huge.bytes - small.bytes <= 3.0 * F32 * 128.0 * 128.0, "{} vs {}", huge.bytes, small.bytes);
        // Read whole when under twice the working size: counted in full.
        let big = estimate(&Settings { size: 8192, ..Settings::default() }, &shapes((16384, 16384), (64, 64)));
        assert!(big.bytes > 3.0 * F32 * 16384.0 * 16384.0);
    }

    #[test]
    fn a_reflected_border_counts() {
        let zero = Settings { size: 128, ..Settings::default() };
        let reflect = Settings { padding: Padding::Reflect, ..zero.clone() };
        let (a, b) =
            (estimate(&zero, &shapes((128, 96), (128, 96))), estimate(&reflect, &shapes((128, 96), (128, 96))));
        assert!(b.bytes > a.bytes, "{} vs {}", b.bytes, a.bytes);
    }
}
