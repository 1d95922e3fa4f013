//! Conv weights out of an ONNX model, with a hand-written protobuf reader (no protoc, no prost):
//! ModelProto.graph(7) → GraphProto.node(1) / initializer(5); NodeProto input(1) output(2)
//! op_type(4); TensorProto dims(1) data_type(2) float_data(4) name(8) raw_data(9).

use std::collections::HashMap;
use std::path::Path;

use super::format::ShapedData;
use super::pb::{self, Fields, Value};
use super::WeightsError;

/// ONNX TensorProto.DataType FLOAT.
const FLOAT: u64 = 1;

/// A graph node: only what finding conv weights needs.
#[derive(Debug, Default)]
struct Node {
    op_type: String,
    inputs: Vec<String>,
}

/// An initializer, its data still borrowed from the file bytes.
#[derive(Debug, Default)]
struct Initializer<'a> {
    dims: Vec<u64>,
    data_type: u64,
    float_data: Vec<f32>,
    raw_data: Option<&'a [u8]>,
    external: bool,
}

/// Reads the Conv layers of an ONNX file in graph order: a flat list alternating weight
/// (`[out,in,kh,kw]`, OIHW as ONNX stores it) and bias (`[out]`; zeros if the node has none).
pub fn read_conv_layers(path: &Path) -> Result<Vec<ShapedData>, WeightsError> {
    let bytes = std::fs::read(path).map_err(|e| WeightsError::io(path, e))?;
    conv_layers_from_bytes(&bytes, path)
}

/// As [`read_conv_layers`], from the file's bytes; `path` names the file in errors.
pub fn conv_layers_from_bytes(bytes: &[u8], path: &Path) -> Result<Vec<ShapedData>, WeightsError> {
    let err = |msg: String| WeightsError::format(path, format!("not a usable ONNX model: {msg}"));
    let (nodes, inits) = parse_graph(bytes).map_err(err)?;
    let mut out = Vec::new();
    for node in nodes.iter().filter(|n| n.op_type == "Conv") {
        let weight_name = node.inputs.get(1).ok_or_else(|| err("a Conv node has no weight input".into()))?;
        let (wshape, wdata) = tensor(&inits, weight_name, path)?;
        let bias = match node.inputs.get(2).filter(|n| !n.is_empty()) {
            Some(name) => tensor(&inits, name, path)?,
            None => (vec![wshape.first().copied().unwrap_or(0)], vec![0.0; wshape.first().copied().unwrap_or(0)]),
        };
        out.push((wshape, wdata));
        out.push(bias);
    }
    if out.is_empty() {
        return Err(err("no Conv nodes in the graph".into()));
    }
    Ok(out)
}

fn tensor(inits: &HashMap<String, Initializer<'_>>, name: &str, path: &Path) -> Result<ShapedData, WeightsError> {
    let bad = |msg: &str| WeightsError::BadTensor {
        path: path.to_path_buf(),
        tensor: name.to_string(),
        msg: msg.to_string(),
    };
    let t = inits.get(name).ok_or_else(|| bad("Conv input is not an initializer"))?;
    if t.external {
        return Err(bad("data is stored in an external file (external data is not supported; re-export the model with the weights inside)"));
    }
    if t.data_type != FLOAT {
        return Err(bad(&format!("data type {} is not FLOAT (1)", t.data_type)));
    }
    let shape: Vec<usize> = t.dims.iter().map(|&d| d as usize).collect();
    let elems: usize = shape.iter().product();
    let data = match t.raw_data {
        Some(raw) => {
            if raw.len() != elems * 4 {
                return Err(bad(&format!("raw_data holds {} bytes, shape {shape:?} needs {}", raw.len(), elems * 4)));
            }
            raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
        }
        None => {
            if t.float_data.len() != elems {
                return Err(bad(&format!(
                    "float_data holds {} values, shape {shape:?} needs {elems}",
                    t.float_data.len()
                )));
            }
            t.float_data.clone()
        }
    };
    Ok((shape, data))
}

type Graph<'a> = (Vec<Node>, HashMap<String, Initializer<'a>>);

fn parse_graph(model: &[u8]) -> Result<Graph<'_>, String> {
    let mut graph = None;
    let mut f = Fields::new(model);
    while let Some((field, value)) = f.next_field()? {
        if field == 7 {
            graph = Some(pb::bytes(value)?);
        }
    }
    let graph = graph.ok_or("no graph (field 7) in ModelProto")?;
    let mut nodes = Vec::new();
    let mut inits = HashMap::new();
    let mut f = Fields::new(graph);
    while let Some((field, value)) = f.next_field()? {
        match field {
            1 => nodes.push(parse_node(pb::bytes(value)?)?),
            5 => {
                let (name, init) = parse_initializer(pb::bytes(value)?)?;
                inits.insert(name, init);
            }
            _ => {}
        }
    }
    Ok((nodes, inits))
}

fn parse_node(buf: &[u8]) -> Result<Node, String> {
    let mut node = Node::default();
    let mut f = Fields::new(buf);
    while let Some((field, value)) = f.next_field()? {
        match field {
            1 => node.inputs.push(pb::string(value)?),
            4 => node.op_type = pb::string(value)?,
            _ => {}
        }
    }
    Ok(node)
}

fn parse_initializer(buf: &[u8]) -> Result<(String, Initializer<'_>), String> {
    let mut t = Initializer::default();
    let mut name = String::new();
    let mut f = Fields::new(buf);
    while let Some((field, value)) = f.next_field()? {
        match field {
            1 => pb::push_varints(value, &mut t.dims)?,
            2 => t.data_type = varint(value)?,
            4 => pb::push_floats(value, &mut t.float_data)?,
            8 => name = pb::string(value)?,
            9 => t.raw_data = Some(pb::bytes(value)?),
            13 => t.external = true,
            14 => t.external |= varint(value)? == 1,
            _ => {}
        }
    }
    Ok((name, t))
}

fn varint(value: Value<'_>) -> Result<u64, String> {
    match value {
        Value::Varint(v) => Ok(v),
        _ => Err("expected an integer field".into()),
    }
}
