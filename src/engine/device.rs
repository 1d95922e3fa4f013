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

/// Free and total memory of GPU `ordinal` in bytes, as its driver reports them (memory other
/// processes and this one already hold is not free), at most two seconds old: the dashboard's
/// form asks as its fields are edited, and opening the GPU's context each time would stall it.
/// Only the driver's context is opened (no cuBLAS or cuRAND, as a candle device would).
/// `None` in a build without CUDA or where the GPU cannot be opened.
pub fn gpu_memory(ordinal: usize) -> Option<(u64, u64)> {
    #[cfg(feature = "cuda")]
    {
        use std::collections::HashMap;
        use std::sync::Mutex;
        use std::time::{Duration, Instant};
        type Asked = HashMap<usize, (Instant, Option<(u64, u64)>)>;
        static ASKED: Mutex<Option<Asked>> = Mutex::new(None);
        let mut asked = ASKED.lock().unwrap_or_else(|e| e.into_inner());
        let asked = asked.get_or_insert_with(HashMap::new);
        if let Some((at, found)) = asked.get(&ordinal) {
            if at.elapsed() < Duration::from_secs(2) {
                return *found;
            }
        }
        let found = candle_core::cuda_backend::cudarc::driver::CudaContext::new(ordinal)
            .and_then(|ctx| ctx.mem_get_info())
            .ok()
            .map(|(free, total)| (free as u64, total as u64));
        asked.insert(ordinal, (Instant::now(), found));
        found
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
