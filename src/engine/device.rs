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

/// The GPU number `spec` names (`cuda` is 0), or `None` for the CPU and anything unparsable
/// ([`parse_device`] says what is wrong with it).
pub fn cuda_ordinal(spec: &str) -> Option<usize> {
    match spec {
        "cuda" => Some(0),
        s => s.strip_prefix("cuda:")?.parse().ok(),
    }
}

/// Free and total memory of GPU `ordinal` in bytes, as its driver reports them now (memory other
/// processes and this one already hold is not free); `None` in a build without CUDA or where the
/// GPU cannot be opened.
pub fn gpu_memory(ordinal: usize) -> Option<(u64, u64)> {
    #[cfg(feature = "cuda")]
    {
        let Device::Cuda(gpu) = Device::new_cuda(ordinal).ok()? else { return None };
        let (free, total) = gpu.cuda_stream().context().mem_get_info().ok()?;
        Some((free as u64, total as u64))
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = ordinal;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuda_ordinals() {
        assert_eq!(cuda_ordinal("cuda"), Some(0));
        assert_eq!(cuda_ordinal("cuda:3"), Some(3));
        for s in ["cpu", "cuda:", "cuda:x", "cudax", "gpu"] {
            assert_eq!(cuda_ordinal(s), None, "{s}");
        }
    }
}
