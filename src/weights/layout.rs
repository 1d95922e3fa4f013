//! The tensor layout of the contract's weights file: torchvision VGG names, conv layers only.

use std::fmt;
use std::str::FromStr;

/// Which VGG network a weights file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Vgg16,
    Vgg19,
}

/// How an image is turned into network input, as stored in the `preprocess` metadata key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preprocess {
    /// RGB in [0,1], minus the ImageNet mean, divided by the ImageNet std.
    Torchvision,
    /// BGR in 0..255 minus the per-channel mean (103.939, 116.779, 123.68).
    Caffe,
}

/// One 3x3 convolution of a VGG feature extractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvSpec {
    /// Index in torchvision's `features` sequential (`features.{index}.weight`).
    pub index: usize,
    /// 1-based block number (`conv{block}_{layer}`).
    pub block: usize,
    /// 1-based layer number within the block.
    pub layer: usize,
    /// Input channels in the real network.
    pub in_channels: usize,
    /// Output channels in the real network.
    pub out_channels: usize,
}

impl ConvSpec {
    /// The layer's short name, e.g. `conv4_2`.
    pub fn name(&self) -> String {
        format!("conv{}_{}", self.block, self.layer)
    }
    pub fn weight_name(&self) -> String {
        format!("features.{}.weight", self.index)
    }
    pub fn bias_name(&self) -> String {
        format!("features.{}.bias", self.index)
    }
}

const BLOCK_WIDTHS: [usize; 5] = [64, 128, 256, 512, 512];

impl Arch {
    /// Convolutions per block: VGG-16 has 2,2,3,3,3; VGG-19 has 2,2,4,4,4.
    pub fn layers_per_block(self) -> [usize; 5] {
        match self {
            Arch::Vgg16 => [2, 2, 3, 3, 3],
            Arch::Vgg19 => [2, 2, 4, 4, 4],
        }
    }

    /// All convolutions in network order, with torchvision `features` indices.
    pub fn convs(self) -> Vec<ConvSpec> {
        let mut specs = Vec::new();
        let mut index = 0;
        let mut in_channels = 3;
        for (b, &n) in self.layers_per_block().iter().enumerate() {
            for l in 0..n {
                let out_channels = BLOCK_WIDTHS[b];
                specs.push(ConvSpec { index, block: b + 1, layer: l + 1, in_channels, out_channels });
                in_channels = out_channels;
                index += 2; // conv, relu
            }
            index += 1; // pool
        }
        specs
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Arch::Vgg16 => "vgg16",
            Arch::Vgg19 => "vgg19",
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Arch {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "vgg16" => Ok(Arch::Vgg16),
            "vgg19" => Ok(Arch::Vgg19),
            other => Err(format!("unknown arch `{other}` (expected vgg16 or vgg19)")),
        }
    }
}

impl Preprocess {
    pub fn as_str(self) -> &'static str {
        match self {
            Preprocess::Torchvision => "torchvision",
            Preprocess::Caffe => "caffe",
        }
    }
}

impl fmt::Display for Preprocess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Preprocess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "torchvision" => Ok(Preprocess::Torchvision),
            "caffe" => Ok(Preprocess::Caffe),
            other => Err(format!("unknown preprocess `{other}` (expected torchvision or caffe)")),
        }
    }
}

/// Parses a layer name as presets write it: `conv4_2` or Keras's `block4_conv2`.
pub fn parse_layer_name(name: &str) -> Option<(usize, usize)> {
    let (block, layer) = if let Some(rest) = name.strip_prefix("conv") {
        rest.split_once('_')?
    } else {
        let rest = name.strip_prefix("block")?;
        let (b, l) = rest.split_once("_conv")?;
        (b, l)
    };
    let block: usize = block.parse().ok()?;
    let layer: usize = layer.parse().ok()?;
    (block >= 1 && layer >= 1).then_some((block, layer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_indices() {
        // The contract lists these torchvision indices.
        let v16: Vec<usize> = Arch::Vgg16.convs().iter().map(|c| c.index).collect();
        assert_eq!(v16, [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]);
        let v19: Vec<usize> = Arch::Vgg19.convs().iter().map(|c| c.index).collect();
        assert_eq!(v19, [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]);
        let c = Arch::Vgg19.convs()[9];
        assert_eq!((c.name(), c.in_channels, c.out_channels), ("conv4_2".into(), 512, 512));
    }

    #[test]
    fn layer_names() {
        assert_eq!(parse_layer_name("conv4_2"), Some((4, 2)));
        assert_eq!(parse_layer_name("block4_conv2"), Some((4, 2)));
        assert_eq!(parse_layer_name("relu4_2"), None);
        assert_eq!(parse_layer_name("conv0_1"), None);
    }
}
