//! From what a foreign file holds to the contract's tensors: infer the arch from the conv count,
//! check shapes, put names in network order, refuse non-finite values.

use std::collections::BTreeMap;
use std::path::Path;

use super::format::{check_shapes, NamedTensor, ShapedData};
use super::layout::Arch;
use super::WeightsError;

/// 13 convs → vgg16, 16 → vgg19.
pub(crate) fn arch_for_count(count: usize, path: &Path) -> Result<Arch, WeightsError> {
    match count {
        13 => Ok(Arch::Vgg16),
        16 => Ok(Arch::Vgg19),
        _ => Err(WeightsError::ConvCount { path: path.to_path_buf(), count }),
    }
}

/// Is this one of the tensors the contract keeps (`features.N.weight|bias`)?
pub(crate) fn is_feature_tensor(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("features.") else { return false };
    let Some((n, kind)) = rest.split_once('.') else { return false };
    n.parse::<usize>().is_ok() && matches!(kind, "weight" | "bias")
}

/// Given the shapes of the `features.*` tensors: the arch and the tensor names in network order.
pub(crate) fn plan(shapes: &BTreeMap<String, Vec<usize>>, path: &Path) -> Result<(Arch, Vec<String>), WeightsError> {
    let count = shapes.iter().filter(|(n, s)| n.ends_with(".weight") && s.len() == 4).count();
    if count == 0 {
        return Err(WeightsError::MissingTensor { path: path.to_path_buf(), tensor: "features.0.weight".into() });
    }
    let arch = arch_for_count(count, path)?;
    check_shapes(arch, shapes, path)?;
    let names = arch.convs().iter().flat_map(|c| [c.weight_name(), c.bias_name()]).collect();
    Ok((arch, names))
}

/// Conv layers in graph order (weight, bias, weight, bias, ...) → the contract's named tensors.
pub(crate) fn from_conv_list(list: Vec<ShapedData>, path: &Path) -> Result<(Arch, Vec<NamedTensor>), WeightsError> {
    let arch = arch_for_count(list.len() / 2, path)?;
    let names: Vec<String> = arch.convs().iter().flat_map(|c| [c.weight_name(), c.bias_name()]).collect();
    let shapes: BTreeMap<String, Vec<usize>> = names.iter().cloned().zip(list.iter().map(|(s, _)| s.clone())).collect();
    check_shapes(arch, &shapes, path)?;
    let tensors: Vec<NamedTensor> = names.into_iter().zip(list).map(|(n, (s, d))| (n, s, d)).collect();
    for (name, _, data) in &tensors {
        check_finite(name, data, path)?;
    }
    Ok((arch, tensors))
}

/// Corrupt downloads often show up as NaN or infinite values.
pub(crate) fn check_finite(name: &str, data: &[f32], path: &Path) -> Result<(), WeightsError> {
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(WeightsError::BadTensor {
            path: path.to_path_buf(),
            tensor: name.to_string(),
            msg: format!("value {i} is {} (corrupt file?)", data[i]),
        });
    }
    Ok(())
}
