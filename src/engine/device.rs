//! Choosing the compute device: `cpu` (default) or `cuda[:N]` (with the `cuda` cargo feature).
//! Errors name the device as `device `cudax``; the CLI, where it came from `--device`, says so.

use candle_core::Device;

use crate::error::{Error, Result};

pub fn parse_device(spec: &str) -> Result<Device> {
    match spec {
        "cpu" => Ok(Device::Cpu),
        s if s == "cuda" || s.starts_with("cuda:") => {
            let ordinal = match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse::<usize>()
                    .map_err(|_| Error::Usage(format!("device `{s}`: expected cuda:N with N a GPU number")))?,
                None => 0,
            };
            if !candle_core::utils::cuda_is_available() {
                return Err(Error::Usage(format!(
                    "device `{s}`: this build has no CUDA support (rebuild with `--features cuda`)"
                )));
            }
            Device::new_cuda(ordinal).map_err(|e| Error::Usage(format!("device `{s}`: {e}")))
        }
        other => Err(Error::Usage(format!("device `{other}`: expected cpu, cuda or cuda:N"))),
    }
}
