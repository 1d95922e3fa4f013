//! The full Gatys objective `J = α·Σ w_c·J_c + β·Σ w_l·J_l + τ·TV` on one image size, with its
//! gradient with respect to the image.

use candle_core::Tensor;
use serde::Serialize;

use super::border::{crop, uncrop, Reflect, REFLECT};
use super::loss::{content_loss, gram, style_loss_scaled, temporal_loss, tv_loss};
use super::profile::{time, Stage};
use super::settings::{Padding, Settings};
use super::tiled::{tiled_grams, tiled_views, tiles_needed};
use super::vgg::Vgg;
use crate::error::{Error, Result};
use crate::weights::layout::{Arch, Preprocess};

/// Loss values; `content`, `style`, `tv` and `temporal` are already weighted, so they add up to
/// `total`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LossParts {
    pub total: f64,
    pub content: f64,
    pub style: f64,
    pub tv: f64,
    /// Video: the temporal term (0 for still images).
    #[serde(skip_serializing_if = "is_zero")]
    pub temporal: f64,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// The temporal term of one frame: `weight` and the `(ω, c)` pairs of [`temporal_loss`], as
/// tensors of the frame's size.
#[derive(Debug, Clone)]
pub struct TemporalTerm {
    pub weight: f64,
    pub targets: Vec<(Tensor, Tensor)>,
}

/// Style targets for one layer set: per layer, the blended normalised Gram matrix.
#[derive(Debug, Clone)]
pub struct StyleTargets {
    pub(super) layers: Vec<(usize, Tensor, f64)>,
}

impl StyleTargets {
    /// Grams of each style image (`[1,3,H,W]`, RGB in [0,1]) blended by normalised weights.
    pub fn compute(net: &Vgg, settings: &Settings, styles: &[(Tensor, f64)]) -> Result<Self> {
        let layers = resolve_layers(net, &settings.style_layers)?;
        let total_weight: f64 = styles.iter().map(|(_, w)| w).sum();
        if styles.is_empty() || total_weight.is_nan() || total_weight <= 0.0 {
            return Ok(Self { layers: Vec::new() });
        }
        let mut blended: Vec<Option<Tensor>> = vec![None; layers.len()];
        let core = (settings.tile > 0).then_some(settings.tile as usize);
        for (image, weight) in styles {
            let border = Border::new(net, settings.padding, image)?;
            let (_, _, h, w) = image.dims4()?;
            // A style image larger than the tiles: its Gram matrices summed over tile cores.
            let grams: Vec<Tensor> = match tiles_needed(core, h, w) {
                Some(core) => {
                    let views: Vec<(usize, usize)> = layers.iter().map(|(i, _)| (*i, border.margin(*i))).collect();
                    tiled_grams(net, &border.pad(image)?, core, &views)?
                }
                None => {
                    let trace = net.forward(&border.pad(image)?)?;
                    layers.iter().map(|(index, _)| Ok(gram(&border.crop(&trace, *index)?)?)).collect::<Result<_>>()?
                }
            };
            for (slot, g) in blended.iter_mut().zip(grams) {
                let g = (g * (weight / total_weight))?;
                *slot = Some(match slot.take() {
                    Some(acc) => (acc + g)?,
                    None => g,
                });
            }
        }
        let layers = layers.into_iter().zip(blended).filter_map(|((index, w), g)| g.map(|g| (index, g, w))).collect();
        Ok(Self { layers })
    }
}

/// The objective for one output size.
pub struct Objective<'a> {
    pub(super) net: &'a Vgg,
    pub(super) content: Vec<(usize, Tensor, f64)>,
    pub(super) style: StyleTargets,
    pub(super) content_weight: f64,
    pub(super) style_weight: f64,
    pub(super) tv_weight: f64,
    pub(super) temporal: Option<TemporalTerm>,
    pub(super) border: Border<'a>,
    pub(super) conv_count: usize,
    /// Cores of this many pixels a side when the gradient is computed tile by tile
    /// ([`Objective::with_tiles`]); `None` for the whole picture at once.
    pub(super) tile: Option<usize>,
}

/// The input border of one image size (see [`super::border`]): nothing for `padding = "zero"`.
pub(super) struct Border<'a> {
    net: &'a Vgg,
    reflect: Option<Reflect>,
}

impl<'a> Border<'a> {
    fn new(net: &'a Vgg, padding: Padding, image: &Tensor) -> Result<Self> {
        let reflect = match padding {
            Padding::Zero => None,
            Padding::Reflect => {
                let (_, _, h, w) = image.dims4()?;
                Some(Reflect::new(h, w, REFLECT, image.device())?)
            }
        };
        Ok(Self { net, reflect })
    }

    pub(super) fn pad(&self, x: &Tensor) -> Result<Tensor> {
        Ok(match &self.reflect {
            Some(r) => r.pad(x)?,
            None => x.clone(),
        })
    }

    pub(super) fn margin(&self, index: usize) -> usize {
        match &self.reflect {
            Some(r) => self.net.arch().convs().get(index).map_or(0, |c| r.margin(c.block)),
            None => 0,
        }
    }

    /// The activation of conv `index` over the picture only.
    fn crop(&self, trace: &super::vgg::Trace, index: usize) -> Result<Tensor> {
        let a = trace.activation(index).ok_or_else(|| missing(index))?;
        Ok(crop(a, self.margin(index))?)
    }

    /// A gradient for [`Border::crop`]'s output, as the gradient of the whole activation.
    fn uncrop(&self, trace: &super::vgg::Trace, index: usize, g: Tensor) -> Result<Tensor> {
        let a = trace.activation(index).ok_or_else(|| missing(index))?;
        Ok(uncrop(&g, self.margin(index), a)?)
    }

    pub(super) fn fold(&self, g: Tensor) -> Result<Tensor> {
        Ok(match &self.reflect {
            Some(r) => r.fold(&g)?,
            None => g,
        })
    }
}

impl<'a> Objective<'a> {
    /// `content` is the content photo `[1,3,H,W]` at the output size.
    pub fn new(net: &'a Vgg, settings: &Settings, content: &Tensor, style: StyleTargets) -> Result<Self> {
        let layers = resolve_layers(net, &settings.content_layers)?;
        let border = Border::new(net, settings.padding, content)?;
        let (_, _, h, w) = content.dims4()?;
        let tile = (settings.tile > 0).then_some(settings.tile as usize);
        let mut targets = Vec::new();
        match tiles_needed(tile, h, w) {
            // A content photo larger than the tiles: its activations assembled from tile cores.
            Some(core) => {
                let views: Vec<(usize, usize)> = layers.iter().map(|(i, _)| (*i, border.margin(*i))).collect();
                let found = tiled_views(net, &border.pad(content)?, core, &views)?;
                targets.extend(layers.iter().zip(found).map(|((index, w), a)| (*index, a, *w)));
            }
            None => {
                let trace = net.forward(&border.pad(content)?)?;
                for (index, w) in layers {
                    targets.push((index, border.crop(&trace, index)?, w));
                }
            }
        }
        let conv_count = targets.iter().map(|t| t.0).chain(style.layers.iter().map(|t| t.0)).max().map_or(0, |m| m + 1);
        let k = feature_scale(net.preprocess());
        Ok(Self {
            net,
            content: targets,
            style,
            content_weight: settings.content_weight * k * k,
            style_weight: settings.style_weight * k.powi(4),
            tv_weight: settings.tv_weight,
            temporal: None,
            border,
            conv_count,
            tile,
        })
    }

    /// Computes every evaluation tile by tile, cores of `core` pixels a side (see
    /// [`super::tiled`]): the same loss and gradient with the memory of one tile's pass.
    /// `None` (or a core as large as the picture) evaluates the whole picture at once.
    pub fn with_tiles(mut self, core: Option<usize>) -> Self {
        self.tile = core;
        self
    }

    /// Adds a temporal term (video); a weight of 0 or no targets leaves the objective unchanged.
    pub fn with_temporal(mut self, term: TemporalTerm) -> Self {
        if term.weight > 0.0 && !term.targets.is_empty() {
            self.temporal = Some(term);
        }
        self
    }

    /// The same as [`Objective::evaluate`], differentiated by candle's autograd instead of the
    /// hand-written backward pass: the stock path, kept as the benchmark's baseline. The network
    /// must run on candle's own ops (see [`Vgg::with_candle_conv`]).
    pub fn evaluate_autograd(&self, image: &Tensor) -> Result<(LossParts, Tensor)> {
        let var = candle_core::Var::from_tensor(image)?;
        let x = var.as_tensor();
        let trace = self.net.forward(&self.border.pad(x)?)?;
        let scalar = |t: &Tensor| -> Result<f64> { Ok(t.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?) };
        let mut terms: Vec<Tensor> = Vec::new();
        let mut parts = LossParts::default();
        for (index, target, w) in &self.content {
            let a = &self.border.crop(&trace, *index)?;
            let j = ((a - target)?.sqr()?.sum_all()? * (self.content_weight * w / (4.0 * a.elem_count() as f64)))?;
            parts.content += scalar(&j)?;
            terms.push(j);
        }
        for (index, target, w) in &self.style.layers {
            let a = &self.border.crop(&trace, *index)?;
            let c = a.dims()[1] as f64;
            let j = ((gram(a)? - target)?.sqr()?.sum_all()? * (self.style_weight * w / (4.0 * c * c)))?;
            parts.style += scalar(&j)?;
            terms.push(j);
        }
        if self.tv_weight > 0.0 {
            let (_, _, h, w) = x.dims4()?;
            let dv = (x.narrow(2, 1, h - 1)? - x.narrow(2, 0, h - 1)?)?.sqr()?.sum_all()?;
            let dh = (x.narrow(3, 1, w - 1)? - x.narrow(3, 0, w - 1)?)?.sqr()?.sum_all()?;
            let j = ((dv + dh)? * (self.tv_weight / x.elem_count() as f64))?;
            parts.tv = scalar(&j)?;
            terms.push(j);
        }
        let mut total = terms.pop().ok_or_else(|| Error::Internal("internal: nothing to optimise".into()))?;
        for t in terms {
            total = (total + t)?;
        }
        parts.total = parts.content + parts.style + parts.tv;
        let grads = total.backward()?;
        let grad = grads.get(x).cloned().ok_or_else(|| missing(0))?;
        Ok((parts, grad))
    }

    /// Loss values and the gradient of the total with respect to `image`.
    pub fn evaluate(&self, image: &Tensor) -> Result<(LossParts, Tensor)> {
        let (_, _, h, w) = image.dims4()?;
        if let Some(core) = tiles_needed(self.tile, h, w) {
            return self.evaluate_tiled(image, core);
        }
        let trace = self.net.forward(&time(Stage::Border, || self.border.pad(image))?)?;
        let mut grads: Vec<Option<Tensor>> = vec![None; self.conv_count];
        let mut parts = LossParts::default();
        let add = |slot: &mut Option<Tensor>, g: Tensor| -> Result<()> {
            *slot = Some(match slot.take() {
                Some(acc) => time(Stage::GradientSum, || acc + g)?,
                None => g,
            });
            Ok(())
        };
        for (index, target, w) in &self.content {
            let a = time(Stage::Crop, || self.border.crop(&trace, *index))?;
            let scale = self.content_weight * w;
            let (value, g) = time(Stage::ContentLoss(*index), || -> Result<_> {
                let l = content_loss(&a, target)?;
                Ok((l.value, (l.grad * scale)?))
            })?;
            parts.content += scale * value;
            add(&mut grads[*index], time(Stage::Crop, || self.border.uncrop(&trace, *index, g))?)?;
        }
        for (index, target, w) in &self.style.layers {
            let a = time(Stage::Crop, || self.border.crop(&trace, *index))?;
            let scale = self.style_weight * w;
            let (value, g) = time(Stage::StyleLoss(*index), || -> Result<_> {
                let l = style_loss_scaled(&a, target, scale)?;
                Ok((l.value, l.grad))
            })?;
            parts.style += scale * value;
            add(&mut grads[*index], time(Stage::Crop, || self.border.uncrop(&trace, *index, g))?)?;
        }
        let back = self.net.backward(&trace, &grads)?;
        let grad = time(Stage::Border, || self.border.fold(back))?;
        self.add_image_losses(image, grad, parts)
    }

    /// Adds the losses taken on the image itself (total variation, temporal) to `parts` and
    /// their gradients to `grad`, and sums the total.
    pub(super) fn add_image_losses(
        &self,
        image: &Tensor,
        mut grad: Tensor,
        mut parts: LossParts,
    ) -> Result<(LossParts, Tensor)> {
        if self.tv_weight > 0.0 {
            let (value, g) = time(Stage::ImageLosses, || -> Result<_> {
                let l = tv_loss(image)?;
                Ok((l.value, (grad + (l.grad * self.tv_weight)?)?))
            })?;
            parts.tv = self.tv_weight * value;
            grad = g;
        }
        if let Some(term) = &self.temporal {
            let (value, g) = time(Stage::ImageLosses, || -> Result<_> {
                let l = temporal_loss(image, &term.targets)?;
                Ok((l.value, (grad + (l.grad * term.weight)?)?))
            })?;
            parts.temporal = term.weight * value;
            grad = g;
        }
        parts.total = parts.content + parts.style + parts.tv + parts.temporal;
        Ok((parts, grad))
    }
}

/// Losses are reported on the scale of caffe-preprocessed networks (the Keras VGG of the original
/// notebook: inputs in 0..255). A torchvision network sees inputs about `255 · 0.226` times
/// smaller, so its activations are about that much smaller; content losses (squared activations)
/// are multiplied by its square and style losses (squared Grams) by its fourth power, so one preset
/// works with either kind of weights.
pub fn feature_scale(preprocess: Preprocess) -> f64 {
    match preprocess {
        Preprocess::Caffe => 1.0,
        Preprocess::Torchvision => 255.0 * (0.229 + 0.224 + 0.225) / 3.0,
    }
}

fn missing(index: usize) -> Error {
    Error::Internal(format!("internal: activation {index} was not computed"))
}

/// Maps layer names to conv indices of `net`, rejecting layers the network does not have.
fn resolve_layers(net: &Vgg, layers: &std::collections::BTreeMap<String, f64>) -> Result<Vec<(usize, f64)>> {
    layers
        .iter()
        .filter(|(_, &w)| w != 0.0)
        .map(|(name, &w)| match net.layer_index(name) {
            Some(i) => Ok((i, w)),
            None => Err(Error::Usage(format!("layer `{name}` is not in the loaded {} network", net.arch()))),
        })
        .collect()
}

/// The deepest conv index any loss of `settings` needs in `arch`, so the network can stop there.
/// The smallest width or height an image may have at the working size: the deepest layer the
/// settings use (block `b` of VGG) sits after `b - 1` poolings, each halving the picture with
/// rounding down, and must keep at least one pixel. Below that the loss is NaN.
pub fn min_input_side(settings: &Settings) -> u32 {
    let block = settings
        .content_layers
        .keys()
        .chain(settings.style_layers.keys())
        .filter_map(|name| crate::weights::layout::parse_layer_name(name))
        .map(|(block, _)| block)
        .max()
        .unwrap_or(1)
        .clamp(1, 16);
    1 << (block - 1)
}

/// Why a `w`x`h` picture cannot be used with its long side at `long` pixels when the network needs
/// `min` on each side; `None` when it can. The message says the smallest long side that works.
pub fn too_small_for(w: u32, h: u32, long: u32, min: u32) -> Option<String> {
    use crate::engine::tensor_image::fit_long_side;
    let short = |l: u32| {
        let (a, b) = fit_long_side(w.max(1), h.max(1), l);
        a.min(b)
    };
    if short(long) >= min {
        return None;
    }
    let fix = match (long..=1 << 16).find(|&l| short(l) >= min) {
        Some(l) => format!("a long side of at least {l} px, or a crop closer to square"),
        None => "a crop closer to square".to_string(),
    };
    Some(format!(
        "is {w}x{h}: at {long} px on the long side its short side would be {} px, under the {min} px the network needs; use {fix}",
        short(long)
    ))
}

pub fn deepest_layer(settings: &Settings, arch: Arch) -> Result<usize> {
    let convs = arch.convs();
    let mut deepest = 0;
    for name in settings.content_layers.keys().chain(settings.style_layers.keys()) {
        let found = crate::weights::layout::parse_layer_name(name)
            .and_then(|(b, l)| convs.iter().position(|c| c.block == b && c.layer == l));
        match found {
            Some(i) => deepest = deepest.max(i),
            None => return Err(Error::Usage(format!("layer `{name}` is not in {arch}"))),
        }
    }
    Ok(deepest)
}
