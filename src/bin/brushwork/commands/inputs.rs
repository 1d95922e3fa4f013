//! What `run`, `video` and `eval` share: loading the style (and init) images, and finding and
//! loading the network, and reporting a failure as a `--json` error event too.

use std::path::{Path, PathBuf};

use candle_core::Device;

use super::report::{json_error, Reporter};
use brushwork::engine::vgg::WeightsHeader;
use brushwork::engine::{Settings, Vgg};
use brushwork::error::Result;

/// Runs `f`; with `json`, a failure is also printed on stdout as the contract's error event.
pub fn with_json_error(json: bool, f: impl FnOnce() -> Result<()>) -> Result<()> {
    let result = f();
    if let (Err(e), true) = (&result, json) {
        super::report::out_line(&json_error(e));
    }
    result
}

pub use brushwork::session::network::load_images;

/// Finds the weights (see `weights::resolve_for_run`; may fetch them) and loads the network.
pub fn load_network(
    settings: &Settings,
    preset_name: &str,
    explicit_weights: Option<&Path>,
    device: &Device,
    reporter: &Reporter,
) -> Result<(Vgg, PathBuf, WeightsHeader)> {
    let weights = super::weights::resolve_for_run(explicit_weights, settings.arch.required(), reporter)?;
    let (net, header) =
        brushwork::session::network::load_network(settings, preset_name, &weights, device, &|m| reporter.note(m))?;
    Ok((net, weights, header))
}
