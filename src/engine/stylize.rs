//! The multi-scale driver: for each scale, coarse to fine, build the objective at that size and
//! optimise the image, starting from the upsampled result of the previous scale.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::time::Instant;

use candle_core::{Result as CResult, Tensor};
use image::Rgb32FImage;
use serde::Serialize;

use super::adam::Adam;
use super::color::{keep_content_colors, match_histogram};
use super::lbfgs::Lbfgs;
use super::objective::{LossParts, Objective, StyleTargets, TemporalTerm};
use super::profile::{time, Stage};
use super::resume::ResumeState;
use super::settings::{ColorMode, Init, LineSearch, Optimizer, Settings};
use super::tensor_image::{fit_long_side, resize, to_image, to_tensor};
use super::vgg::Vgg;
use crate::error::{Error, Result};
use crate::util::rng::SplitMix64;

/// A style image and its blend weight.
#[derive(Debug, Clone)]
pub struct StyleInput {
    pub image: Rgb32FImage,
    pub weight: f64,
}

/// Everything one stylisation needs besides the network.
pub struct StylizeJob<'a> {
    pub content: &'a Rgb32FImage,
    pub styles: &'a [StyleInput],
    /// The start image for `init = "file"` (or a warm start); any size, it is resized.
    pub init_image: Option<&'a Rgb32FImage>,
    pub settings: &'a Settings,
    /// Continue from a checkpoint instead of starting at the first iteration.
    pub resume: Option<&'a ResumeState>,
    /// Video: a temporal term, applied at the scale whose size matches its images.
    pub temporal: Option<&'a TemporalImages>,
}

/// The temporal term of a video frame as images: earlier results warped into this frame (`ω`)
/// and per-pixel weights (`c`, row-major, one value per pixel), all at the frame's final size.
#[derive(Debug, Clone, Default)]
pub struct TemporalImages {
    pub weight: f64,
    pub targets: Vec<(Rgb32FImage, Vec<f32>)>,
}

impl TemporalImages {
    /// The optical flow has no CUDA version: it runs on the CPU on the frames as images (`crate::flow`),
    /// and only its results, the warped frames and their weights, go to the device here.
    fn term(&self, w: u32, h: u32, device: &candle_core::Device, dtype: candle_core::DType) -> Result<TemporalTerm> {
        let mut targets = Vec::with_capacity(self.targets.len());
        for (omega, c) in &self.targets {
            if omega.dimensions() != (w, h) || c.len() != (w * h) as usize {
                return Err(Error::Internal(format!(
                    "internal: temporal target is {:?}, the frame is {w}x{h}",
                    omega.dimensions()
                )));
            }
            let mask = Tensor::from_slice(c, (1, 1, h as usize, w as usize), device)?.to_dtype(dtype)?;
            targets.push((to_tensor(omega, device, dtype)?, mask));
        }
        Ok(TemporalTerm { weight: self.weight, targets })
    }

    fn size(&self) -> Option<(u32, u32)> {
        self.targets.first().map(|(o, _)| o.dimensions())
    }
}

/// One iteration's report.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    /// 1-based, counted over all scales.
    pub iteration: u32,
    pub total: u32,
    /// 0-based scale index.
    pub scale: u32,
    pub width: u32,
    pub height: u32,
    #[serde(flatten)]
    pub losses: LossParts,
    pub seconds: f64,
    /// Loss-and-gradient evaluations so far in this call (over all scales, not counting the one
    /// that starts each scale): one per iteration for Adam and for L-BFGS without a line search,
    /// more where the line search backtracks.
    pub evaluations: u32,
}

pub struct StylizeOutput {
    pub image: Rgb32FImage,
    pub losses: LossParts,
    pub seconds: f64,
    pub iterations: u32,
    /// As [`Progress::evaluations`], for the whole call.
    pub evaluations: u32,
}

/// What a progress callback can ask for after an iteration; both are computed only when asked.
pub trait Snapshot {
    /// The current image at the current scale's size.
    fn image(&self) -> CResult<Rgb32FImage>;
    /// Everything needed to continue from this iteration (cheap: tensors are shared, not copied).
    fn state(&self) -> ResumeState;
}

/// Called after every iteration with the report and a [`Snapshot`]. Returning `Break` stops the
/// run with [`Error::Cancelled`] (a caller that wants to pause takes `state()` first).
pub type ProgressFn<'a> = dyn FnMut(&Progress, &dyn Snapshot) -> ControlFlow<()> + 'a;

struct IterationSnapshot<'a> {
    image: &'a Tensor,
    adam: &'a Adam,
    lbfgs: &'a Lbfgs,
    report: &'a Progress,
    done_in_scale: u32,
    rng: u64,
}

impl Snapshot for IterationSnapshot<'_> {
    fn image(&self) -> CResult<Rgb32FImage> {
        to_image(self.image)
    }

    fn state(&self) -> ResumeState {
        let (adam_step, adam_m, adam_v) = self.adam.state();
        ResumeState {
            scale: self.report.scale,
            done_in_scale: self.done_in_scale,
            iteration: self.report.iteration,
            seconds: self.report.seconds,
            image: self.image.clone(),
            adam_step,
            adam_m,
            adam_v,
            lbfgs: self.lbfgs.pairs(),
            rng: self.rng,
        }
    }
}

pub fn stylize(net: &Vgg, job: &StylizeJob, on_progress: &mut ProgressFn) -> Result<StylizeOutput> {
    stylize_cached(net, job, &mut StyleCache::default(), on_progress)
}

/// Style targets by output size, computed once and reused by every later call with the same cache
/// (video frames, a watched folder with one preset). A cache belongs to one list of style images
/// and one preset; with `color = "histogram"` the styles are matched to the first content seen.
#[derive(Default, Clone)]
pub struct StyleCache {
    targets: HashMap<u32, StyleTargets>,
}

impl StyleCache {
    /// Adds the sizes `other` has and this cache lacks.
    pub fn merge(&mut self, other: StyleCache) {
        for (size, t) in other.targets {
            self.targets.entry(size).or_insert(t);
        }
    }

    fn get(&mut self, net: &Vgg, settings: &Settings, styles: &[StyleInput], size: u32) -> Result<StyleTargets> {
        if let Some(t) = self.targets.get(&size) {
            return Ok(t.clone());
        }
        let t = StyleTargets::compute(net, settings, &style_tensors(net, styles, size, settings.style_scale)?)?;
        self.targets.insert(size, t.clone());
        Ok(t)
    }
}

/// [`stylize`] with style targets taken from (and added to) `cache`.
pub fn stylize_cached(
    net: &Vgg,
    job: &StylizeJob,
    cache: &mut StyleCache,
    on_progress: &mut ProgressFn,
) -> Result<StylizeOutput> {
    let settings = job.settings;
    let (device, dtype) = (net.device(), net.dtype());
    let start = Instant::now();
    let sizes = settings.scale_sizes();
    let total = settings.iterations * sizes.len() as u32;
    let resume = job.resume;
    let seconds_before = resume.map_or(0.0, |r| r.seconds);
    let mut rng = SplitMix64::new(resume.map_or(settings.seed, |r| r.rng));
    if let Some(r) = resume {
        if r.scale as usize >= sizes.len() || r.done_in_scale > settings.iterations {
            return Err(Error::Internal(format!(
                "internal: the checkpoint is at scale {} iteration {}, beyond this preset's schedule",
                r.scale, r.done_in_scale
            )));
        }
    }
    let styles: Vec<StyleInput> = match settings.color {
        ColorMode::Histogram => job
            .styles
            .iter()
            .map(|s| StyleInput { image: match_histogram(&s.image, job.content), weight: s.weight })
            .collect(),
        _ => job.styles.to_vec(),
    };
    let (cw, ch) = job.content.dimensions();
    let mut x: Option<Tensor> = None;
    let mut iteration = resume.map_or(0, |r| r.iteration);
    let mut last = (LossParts::default(), (0, 0));
    let mut evaluations = 0;
    for (scale, &size) in sizes.iter().enumerate() {
        let resuming_here = resume.filter(|r| r.scale as usize == scale);
        if resume.is_some_and(|r| (r.scale as usize) > scale) {
            continue;
        }
        let (w, h) = fit_long_side(cw, ch, size);
        let content_img = resize(job.content, w, h);
        let content = to_tensor(&content_img, device, dtype)?;
        // Tiles (exact: the same targets, loss and gradient) where the memory plan wants them.
        let mut tiled = settings.clone();
        tiled.tile = settings.tile_at(scale);
        let targets = cache.get(net, &tiled, &styles, size)?;
        let mut objective = Objective::new(net, &tiled, &content, targets)?;
        if let Some(t) = job.temporal.filter(|t| t.size() == Some((w, h))) {
            objective = objective.with_temporal(t.term(w, h, device, dtype)?);
        }
        let mut adam =
            Adam::new(settings.learning_rate(), settings.adam_beta1, settings.adam_beta2, settings.adam_epsilon);
        let mut lbfgs = Lbfgs::new(settings.lbfgs_history).compact(settings.lbfgs_compact);
        let mut image = match (x.take(), resuming_here) {
            (_, Some(r)) => {
                if r.image.dims() != [1, 3, h as usize, w as usize] {
                    return Err(Error::Internal(format!(
                        "internal: the checkpoint's image is {:?}, this scale needs {w}x{h}",
                        r.image.dims()
                    )));
                }
                adam.restore(r.adam_step, r.adam_m.clone(), r.adam_v.clone());
                lbfgs.restore(r.lbfgs.clone())?;
                r.image.to_device(device)?.to_dtype(dtype)?
            }
            (Some(prev), None) => prev.upsample_bilinear2d(h as usize, w as usize, false)?,
            (None, None) => initial_image(job, &content, &content_img, &mut rng)?,
        };
        let (mut parts, mut grad) = objective.evaluate(&image)?;
        let first = resuming_here.map_or(0, |r| r.done_in_scale);
        for done_in_scale in first + 1..=settings.iterations {
            let step;
            (image, parts, grad, step) = match settings.optimizer {
                Optimizer::Adam => {
                    let next = adam.step(&image, &grad)?;
                    let (p, g) = objective.evaluate(&next)?;
                    (next, p, g, 1)
                }
                Optimizer::Lbfgs => lbfgs_step(&objective, &mut lbfgs, settings, &image, parts, &grad)?,
            };
            evaluations += step;
            if !parts.total.is_finite() {
                return Err(Error::Usage(format!(
                    "the loss became {} at iteration {}: {}",
                    parts.total,
                    iteration + 1,
                    divergence_advice(settings)
                )));
            }
            iteration += 1;
            let report = Progress {
                iteration,
                total,
                scale: scale as u32,
                width: w,
                height: h,
                losses: parts,
                seconds: seconds_before + start.elapsed().as_secs_f64(),
                evaluations,
            };
            let snapshot = IterationSnapshot {
                image: &image,
                adam: &adam,
                lbfgs: &lbfgs,
                report: &report,
                done_in_scale,
                rng: rng.state(),
            };
            if on_progress(&report, &snapshot).is_break() {
                return Err(Error::Cancelled);
            }
        }
        last = (parts, (w, h));
        x = Some(image);
    }
    let Some(x) = x else {
        return Err(Error::Internal("internal: no scales to run".into()));
    };
    let mut out = to_image(&x)?;
    if settings.color == ColorMode::Luminance {
        let (w, h) = last.1;
        out = keep_content_colors(&out, &resize(job.content, w, h));
    }
    let seconds = seconds_before + start.elapsed().as_secs_f64();
    Ok(StylizeOutput { image: out, losses: last.0, seconds, iterations: iteration, evaluations })
}

/// What to change when the loss stops being finite, naming only options that exist for these
/// settings, as preset fields (`learning_rate`; the CLI names the flags).
pub fn divergence_advice(settings: &Settings) -> String {
    let rate = match settings.learning_rate {
        Some(lr) => format!("lower `learning_rate` (now {lr:e})"),
        None => "set a lower `learning_rate`".to_string(),
    };
    match (settings.optimizer, settings.line_search) {
        (Optimizer::Lbfgs, LineSearch::None) => {
            format!("set line_search = \"backtracking\" in the preset, or {rate}")
        }
        _ => format!("{rate}, or lower `style_weight` (now {:e})", settings.style_weight),
    }
}

/// The long side the style images are used at for an output whose long side is `output_long`.
pub fn style_long_side(output_long: u32, style_scale: f64) -> u32 {
    ((output_long as f64) * style_scale).round().max(16.0) as u32
}

/// The style images as tensors, each resized so its long side is `style_scale` times `output_long`.
pub fn style_tensors(
    net: &Vgg,
    styles: &[StyleInput],
    output_long: u32,
    style_scale: f64,
) -> Result<Vec<(Tensor, f64)>> {
    let long = style_long_side(output_long, style_scale);
    styles
        .iter()
        .map(|s| {
            let (sw, sh) = s.image.dimensions();
            let (tw, th) = fit_long_side(sw, sh, long);
            Ok((to_tensor(&resize(&s.image, tw, th), net.device(), net.dtype())?, s.weight))
        })
        .collect()
}

/// One L-BFGS iteration from `x` (loss `parts`, gradient `grad`); returns the new point evaluated
/// and how many evaluations the line search took.
pub fn lbfgs_step(
    objective: &Objective,
    lbfgs: &mut Lbfgs,
    settings: &Settings,
    x: &Tensor,
    parts: LossParts,
    grad: &Tensor,
) -> Result<(Tensor, LossParts, Tensor, u32)> {
    let (d, slope) = time(Stage::Optimizer, || -> Result<_> {
        let d = lbfgs.direction(grad)?;
        let slope = Lbfgs::slope(grad, &d)?;
        Ok((d, slope))
    })?;
    let mut t = settings.learning_rate();
    let mut tries = 0;
    let (next, p, g) = loop {
        let next = time(Stage::Optimizer, || x + (&d * t)?)?;
        let (p, g) = objective.evaluate(&next)?;
        tries += 1;
        let armijo = p.total <= parts.total + 1e-4 * t * slope;
        if settings.line_search == LineSearch::None || armijo || tries >= 10 {
            break (next, p, g);
        }
        t *= 0.5;
    };
    time(Stage::Optimizer, || lbfgs.update((&next - x)?, (&g - grad)?))?;
    Ok((next, p, g, tries))
}

fn initial_image(
    job: &StylizeJob,
    content: &Tensor,
    content_img: &Rgb32FImage,
    rng: &mut SplitMix64,
) -> Result<Tensor> {
    let settings = job.settings;
    let (w, h) = content_img.dimensions();
    let n = (3 * w * h) as usize;
    let noise = |rng: &mut SplitMix64, lo: f32, hi: f32| -> CResult<Tensor> {
        Tensor::from_vec(rng.uniform(n, lo, hi), (1, 3, h as usize, w as usize), content.device())?
            .to_dtype(content.dtype())
    };
    Ok(match (settings.init, job.init_image) {
        (_, Some(init)) => to_tensor(&resize(init, w, h), content.device(), content.dtype())?,
        (Init::File, None) => {
            return Err(Error::Internal("internal: init = \"file\" but no init image was loaded".into()));
        }
        (Init::Content, None) => content.clone(),
        (Init::ContentNoise, None) => {
            let a = settings.noise as f32;
            (content + noise(rng, -a, a)?)?.clamp(0.0, 1.0)?
        }
        (Init::Noise, None) => noise(rng, 0.0, 1.0)?,
    })
}
