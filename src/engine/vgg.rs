//! The VGG-16/19 feature extractor: frozen convolutions from a weights file in the contract's (`docs/CONTRACT.md`)
//! format, truncated after the deepest layer a loss needs, with a forward pass that keeps what the
//! hand-written backward pass needs.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use super::conv::Conv3x3;
use super::pool::{AvgPool2, AvgPool2Backward};
use super::preprocess::InputMap;
use super::profile::{time, Stage as Timed};
use super::settings::Precision;
use crate::error::{Error, Result};
use crate::weights::layout::{parse_layer_name, Arch, ConvSpec, Preprocess};

/// How the network downsamples between blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Pooling {
    /// Average pooling, as in Gatys et al. and the original notebook: smoother gradients.
    #[default]
    Avg,
    Max,
}

#[derive(Debug, Clone)]
enum Stage {
    Conv {
        conv_index: usize,
        conv: Conv3x3,
    },
    /// Pooling into VGG block `block` (1-based: 2 follows block 1).
    Pool {
        block: usize,
    },
}

/// A frozen VGG feature extractor.
#[derive(Debug, Clone)]
pub struct Vgg {
    arch: Arch,
    pooling: Pooling,
    preprocess: Preprocess,
    input_map: InputMap,
    specs: Vec<ConvSpec>,
    stages: Vec<Stage>,
    device: Device,
    dtype: DType,
    /// False for the candle-only baseline ([`Vgg::with_candle_conv`]).
    fast: bool,
}

/// What a forward pass leaves for the backward pass: each stage's output, and the input.
pub struct Trace {
    input: Tensor,
    outputs: Vec<Tensor>,
    conv_stage: Vec<usize>,
}

impl Trace {
    /// The ReLU output of the `conv_index`-th convolution (0 = conv1_1).
    pub fn activation(&self, conv_index: usize) -> Option<&Tensor> {
        self.conv_stage.get(conv_index).and_then(|&s| self.outputs.get(s))
    }
}

/// What a weights file's header says about the network in it.
#[derive(Debug, Clone)]
pub struct WeightsHeader {
    pub arch: Arch,
    pub preprocess: Preprocess,
}

impl Vgg {
    /// Loads the network from a contract-format safetensors file, keeping the convolutions up to and
    /// including conv index `deepest` (0 = conv1_1). Channel widths are read from the file, so
    /// narrow test networks load the same way as the real one.
    pub fn load(path: &Path, device: &Device, dtype: DType, pooling: Pooling, deepest: Option<usize>) -> Result<Self> {
        let header = read_header(path)?;
        let tensors = candle_core::safetensors::load(path, device)
            .map_err(|e| Error::input(path, format!("cannot read weights: {e}")))?;
        Self::from_tensors(tensors, &header, path, device, dtype, pooling, deepest)
    }

    pub fn from_tensors(
        tensors: HashMap<String, Tensor>,
        header: &WeightsHeader,
        path: &Path,
        device: &Device,
        dtype: DType,
        pooling: Pooling,
        deepest: Option<usize>,
    ) -> Result<Self> {
        let specs = header.arch.convs();
        let last = deepest.unwrap_or(specs.len() - 1).min(specs.len() - 1);
        let mut stages = Vec::new();
        let mut in_channels = 3;
        for (i, spec) in specs.iter().enumerate().take(last + 1) {
            if i > 0 && spec.block != specs[i - 1].block {
                stages.push(Stage::Pool { block: spec.block });
            }
            let name = spec.weight_name();
            let Some(w) = tensors.get(&name) else {
                return Err(Error::input(path, format!("missing tensor {name}")));
            };
            let out_channels = w.dims().first().copied().unwrap_or(0);
            let expected = [out_channels, in_channels, 3, 3];
            if w.dims() != expected {
                return Err(Error::input(
                    path,
                    format!("tensor {name} has shape {:?}, expected {expected:?}", w.dims()),
                ));
            }
            let vb = VarBuilder::from_tensors(tensors.clone(), dtype, device).pp("features").pp(spec.index.to_string());
            let conv = Conv3x3::new(vb, in_channels, out_channels)
                .map_err(|e| Error::input(path, format!("layer {}: {e}", spec.name())))?;
            stages.push(Stage::Conv { conv_index: i, conv });
            in_channels = out_channels;
        }
        let input_map = InputMap::new(header.preprocess, device, dtype)?;
        Ok(Self {
            arch: header.arch,
            pooling,
            preprocess: header.preprocess,
            input_map,
            specs: specs[..=last].to_vec(),
            stages,
            device: device.clone(),
            dtype,
            fast: true,
        })
    }

    pub fn arch(&self) -> Arch {
        self.arch
    }
    pub fn device(&self) -> &Device {
        &self.device
    }
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    pub fn pooling(&self) -> Pooling {
        self.pooling
    }
    pub fn preprocess(&self) -> Preprocess {
        self.preprocess
    }

    /// Whether the CPU kernels (Winograd or direct convolution, parallel pooling) are in use.
    fn parallel_cpu(&self) -> bool {
        self.device.is_cpu() && self.dtype == DType::F32 && self.fast
    }

    /// This network with every convolution on candle's `conv2d` (see [`Conv3x3::without_fast_path`]).
    pub fn with_candle_conv(&self) -> Self {
        let stages = self
            .stages
            .iter()
            .map(|s| match s {
                Stage::Conv { conv_index, conv } => {
                    Stage::Conv { conv_index: *conv_index, conv: conv.without_fast_path() }
                }
                Stage::Pool { block } => Stage::Pool { block: *block },
            })
            .collect();
        Self { stages, fast: false, ..self.clone() }
    }

    /// This network with its CPU convolutions allowed BF16 products where the CPU multiplies them
    /// in hardware (the default), or held to f32.
    pub fn with_precision(&self, precision: Precision) -> Self {
        let allowed = precision == Precision::Auto;
        let stages = self
            .stages
            .iter()
            .map(|s| match s {
                Stage::Conv { conv_index, conv } => {
                    Stage::Conv { conv_index: *conv_index, conv: conv.with_bf16(allowed) }
                }
                Stage::Pool { block } => Stage::Pool { block: *block },
            })
            .collect();
        Self { stages, ..self.clone() }
    }

    /// This network with the direct CPU convolution instead of Winograd's (see
    /// [`Conv3x3::with_direct_cpu_conv`]).
    pub fn with_direct_cpu_conv(&self) -> Result<Self> {
        let mut stages = Vec::with_capacity(self.stages.len());
        for s in &self.stages {
            stages.push(match s {
                Stage::Conv { conv_index, conv } => {
                    Stage::Conv { conv_index: *conv_index, conv: conv.with_direct_cpu_conv()? }
                }
                Stage::Pool { block } => Stage::Pool { block: *block },
            });
        }
        Ok(Self { stages, ..self.clone() })
    }

    /// The conv index of a layer name (`conv4_2` or `block4_conv2`) in this network, if it has it.
    pub fn layer_index(&self, name: &str) -> Option<usize> {
        let (block, layer) = parse_layer_name(name)?;
        self.specs.iter().position(|s| s.block == block && s.layer == layer)
    }

    /// Runs the network on an RGB image `[1,3,H,W]` in [0,1].
    pub fn forward(&self, image: &Tensor) -> Result<Trace> {
        let input = time(Timed::InputMap, || self.input_map.forward(image))?;
        let mut outputs: Vec<Tensor> = Vec::with_capacity(self.stages.len());
        let mut conv_stage = Vec::new();
        for (s, stage) in self.stages.iter().enumerate() {
            let x = outputs.last().unwrap_or(&input);
            let y = match stage {
                Stage::Conv { conv, conv_index } => {
                    conv_stage.push(s);
                    time(Timed::ConvForward(*conv_index), || conv.forward_relu(x))?
                }
                // The parallel pooling kernel is CPU code; on CUDA (and in f64) candle's pooling.
                Stage::Pool { block } => time(Timed::PoolForward(*block), || match self.pooling {
                    Pooling::Avg if self.parallel_cpu() => x.contiguous()?.apply_op1_no_bwd(&AvgPool2),
                    Pooling::Avg => x.avg_pool2d(2),
                    Pooling::Max => x.max_pool2d(2),
                })?,
            };
            outputs.push(y);
        }
        Ok(Trace { input, outputs, conv_stage })
    }

    /// Back-propagates loss gradients given at ReLU outputs (`grads[conv_index]`) to the image.
    pub fn backward(&self, trace: &Trace, grads: &[Option<Tensor>]) -> Result<Tensor> {
        let mut g: Option<Tensor> = None;
        for s in (0..self.stages.len()).rev() {
            if let Stage::Conv { conv_index, .. } = &self.stages[s] {
                if let Some(Some(extra)) = grads.get(*conv_index) {
                    g = Some(match g {
                        Some(g) => time(Timed::GradientSum, || g + extra)?,
                        None => extra.clone(),
                    });
                }
            }
            let Some(grad_out) = g.take() else { continue };
            let stage_in = if s == 0 { &trace.input } else { &trace.outputs[s - 1] };
            let out = &trace.outputs[s];
            g = Some(match &self.stages[s] {
                Stage::Conv { conv, conv_index } => {
                    time(Timed::ConvBackward(*conv_index), || conv.backward_through_relu(&grad_out, out))?
                }
                Stage::Pool { block } => time(Timed::PoolBackward(*block), || {
                    if self.pooling == Pooling::Avg && self.parallel_cpu() {
                        let (_, _, h, w) = stage_in.dims4()?;
                        grad_out.contiguous()?.apply_op1_no_bwd(&AvgPool2Backward { h, w })
                    } else {
                        // On CUDA: candle's upsampling, comparison and padding (see `pool_backward`).
                        pool_backward(self.pooling, stage_in, out, &grad_out)
                    }
                })?,
            });
        }
        let grad_input = match g {
            Some(g) => g,
            None => trace.input.zeros_like()?,
        };
        Ok(time(Timed::InputMap, || self.input_map.backward(&grad_input))?)
    }
}

/// Gradient of 2x2 stride-2 pooling (floor mode: odd trailing rows/columns get no gradient).
fn pool_backward(pooling: Pooling, input: &Tensor, output: &Tensor, grad_out: &Tensor) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = input.dims4()?;
    let (_, _, ho, wo) = output.dims4()?;
    let up = grad_out.upsample_nearest2d(2 * ho, 2 * wo)?;
    let g = match pooling {
        Pooling::Avg => (up * 0.25)?,
        Pooling::Max => {
            let cropped = input.narrow(2, 0, 2 * ho)?.narrow(3, 0, 2 * wo)?;
            let winners = cropped.eq(&output.upsample_nearest2d(2 * ho, 2 * wo)?)?;
            (up * winners.to_dtype(input.dtype())?)?
        }
    };
    g.pad_with_zeros(2, 0, h - 2 * ho)?.pad_with_zeros(3, 0, w - 2 * wo)
}

/// Reads the `arch` and `preprocess` metadata of a weights file without loading its tensors.
pub fn read_header(path: &Path) -> Result<WeightsHeader> {
    let meta = crate::weights::format::read_meta(path)?;
    Ok(WeightsHeader { arch: meta.arch, preprocess: meta.preprocess })
}
