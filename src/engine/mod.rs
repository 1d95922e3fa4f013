//! The style-transfer engine: a frozen VGG feature extractor in candle, the Gatys losses as pure
//! functions with hand-written gradients, optimisers over the image's pixels, and the multi-scale
//! driver. Nothing here knows about terminals.

pub mod adam;
pub mod bf16;
pub mod border;
pub mod color;
pub mod conv;
pub mod device;
pub mod flops;
pub mod gram;
pub mod host;
pub mod lbfgs;
pub mod loss;
pub mod objective;
pub mod pool;
pub mod preprocess;
pub mod product;
pub mod profile;
pub mod resume;
pub mod settings;
pub mod stylize;
pub mod tensor_image;
pub mod tiled;
pub mod tiles;
pub mod vgg;

pub use resume::ResumeState;
pub use settings::Settings;
pub use stylize::{
    stylize, stylize_cached, Progress, Snapshot, StyleCache, StyleInput, StylizeJob, StylizeOutput, TemporalImages,
};
pub use vgg::Vgg;
