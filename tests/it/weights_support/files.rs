//! Generated weights in every format the importers read: shrunk VGG widths (real widths / divisor),
//! deterministic values.

use std::io::{Cursor, Write};

use brushwork::weights::layout::Arch;

pub type Tensor = (String, Vec<usize>, Vec<f32>);

/// Deterministic values in [-0.5, 0.5) from a seed.
pub fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((x >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        })
        .collect()
}

/// The conv tensors of `arch` with widths divided by `divisor`, torchvision names, network order.
pub fn vgg(arch: Arch, divisor: usize) -> Vec<Tensor> {
    let mut out = Vec::new();
    for (i, c) in arch.convs().iter().enumerate() {
        let o = c.out_channels / divisor;
        let inp = if i == 0 { 3 } else { c.in_channels / divisor };
        let w = vec![o, inp, 3, 3];
        out.push((c.weight_name(), w.clone(), values(o * inp * 9, 2 * i as u64)));
        out.push((c.bias_name(), vec![o], values(o, 2 * i as u64 + 1)));
    }
    out
}

/// A safetensors file holding `tensors` with data in the order given (any dtype F32).
pub fn safetensors(tensors: &[Tensor], metadata: &[(&str, &str)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    if !metadata.is_empty() {
        let m: serde_json::Map<String, serde_json::Value> =
            metadata.iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(*v))).collect();
        header.insert("__metadata__".into(), m.into());
    }
    let mut offset = 0;
    for (name, shape, data) in tensors {
        let end = offset + data.len() * 4;
        header.insert(name.clone(), serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, end]}));
        offset = end;
    }
    let mut json = serde_json::to_string(&header).unwrap();
    while !json.len().is_multiple_of(8) {
        json.push(' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    for (_, _, data) in tensors {
        for v in data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Like a timm checkpoint: the features plus a classifier tensor whose data sits between the
/// features' data (so a ranged download needs two ranges).
pub fn timm_like(arch: Arch, divisor: usize) -> Vec<u8> {
    let mut t = vgg(arch, divisor);
    let classifier = ("classifier.0.weight".to_string(), vec![10, 32], values(320, 99));
    t.insert(t.len() / 2, classifier);
    t.push(("pre_logits.fc1.bias".to_string(), vec![7], values(7, 98)));
    safetensors(&t, &[])
}

// ---- protobuf (ONNX) ----

fn varint(mut v: u64, out: &mut Vec<u8>) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn field_bytes(field: u64, bytes: &[u8], out: &mut Vec<u8>) {
    varint(field << 3 | 2, out);
    varint(bytes.len() as u64, out);
    out.extend_from_slice(bytes);
}

fn field_varint(field: u64, v: u64, out: &mut Vec<u8>) {
    varint(field << 3, out);
    varint(v, out);
}

/// TensorProto: dims (packed when `packed`), FLOAT, data as raw_data or packed float_data.
pub fn onnx_tensor(name: &str, shape: &[usize], data: &[f32], raw: bool, packed: bool, data_type: u64) -> Vec<u8> {
    let mut t = Vec::new();
    if packed {
        let mut dims = Vec::new();
        for &d in shape {
            varint(d as u64, &mut dims);
        }
        field_bytes(1, &dims, &mut t);
    } else {
        for &d in shape {
            field_varint(1, d as u64, &mut t);
        }
    }
    field_varint(2, data_type, &mut t);
    let bytes: Vec<u8> = data.iter().flat_map(|v| v.to_le_bytes()).collect();
    if raw {
        field_bytes(8, name.as_bytes(), &mut t);
        field_bytes(9, &bytes, &mut t);
    } else {
        field_bytes(4, &bytes, &mut t);
        field_bytes(8, name.as_bytes(), &mut t);
    }
    t
}

fn node(op: &str, inputs: &[&str], outputs: &[&str]) -> Vec<u8> {
    let mut n = Vec::new();
    for i in inputs {
        field_bytes(1, i.as_bytes(), &mut n);
    }
    for o in outputs {
        field_bytes(2, o.as_bytes(), &mut n);
    }
    field_bytes(3, format!("{op}_node").as_bytes(), &mut n);
    field_bytes(4, op.as_bytes(), &mut n);
    n
}

/// An ONNX model shaped like tf2onnx's Keras VGG export: Transpose, then Conv/Relu (MaxPool after
/// each block), initializers named like Keras's, then a Flatten and a Gemm with its own weights.
/// `tensors` alternate weight, bias in network order.
pub fn onnx_model(arch: Arch, tensors: &[Tensor]) -> Vec<u8> {
    let mut graph = Vec::new();
    let mut inits = Vec::new();
    field_bytes(1, &node("Transpose", &["input"], &["t0"]), &mut graph);
    let mut prev = "t0".to_string();
    let mut k = 0;
    for (b, &n) in arch.layers_per_block().iter().enumerate() {
        for l in 0..n {
            let (_, ws, wd) = &tensors[2 * k];
            let (_, bs, bd) = &tensors[2 * k + 1];
            let w = format!("functional_1/block{}_conv{}_1/convolution/ReadVariableOp:0", b + 1, l + 1);
            let bias = format!("functional_1/block{}_conv{}_1/Squeeze:0", b + 1, l + 1);
            // Vary the encodings: raw_data mostly, float_data and unpacked dims sometimes.
            inits.push(onnx_tensor(&w, ws, wd, k % 3 != 1, k % 2 == 0, 1));
            inits.push(onnx_tensor(&bias, bs, bd, k % 4 != 3, true, 1));
            let out = format!("c{k}");
            field_bytes(1, &node("Conv", &[&prev, &w, &bias], &[&out]), &mut graph);
            let relu = format!("r{k}");
            field_bytes(1, &node("Relu", &[&out], &[&relu]), &mut graph);
            prev = relu;
            k += 1;
        }
        let pool = format!("p{b}");
        field_bytes(1, &node("MaxPool", &[&prev], &[&pool]), &mut graph);
        prev = pool;
    }
    inits.push(onnx_tensor("dense/kernel:0", &[4, 2], &values(8, 5), true, true, 1));
    field_bytes(1, &node("MatMul", &[&prev, "dense/kernel:0"], &["logits"]), &mut graph);
    for i in &inits {
        field_bytes(5, i, &mut graph);
    }
    field_bytes(2, b"tf2onnx", &mut graph);
    let mut model = Vec::new();
    field_varint(1, 8, &mut model); // ir_version
    field_bytes(2, b"tf2onnx", &mut model);
    field_bytes(7, &graph, &mut model);
    model
}

// ---- zip (wheels, torch files) ----

pub fn zip(files: &[(&str, &[u8])], stored: bool) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let method = if stored { zip::CompressionMethod::Stored } else { zip::CompressionMethod::Deflated };
    let opts = zip::write::SimpleFileOptions::default().compression_method(method);
    for (name, bytes) in files {
        w.start_file(*name, opts).unwrap();
        w.write_all(bytes).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A wheel for `package==version` holding `member`.
pub fn wheel(package: &str, version: &str, member: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let dist = package.replace('-', "_");
    let info = format!("{dist}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {package}\nVersion: {version}\n");
    let wheel = "Wheel-Version: 1.0\nGenerator: brushwork-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let record = format!("{member},,\n{info}/METADATA,,\n{info}/WHEEL,,\n{info}/RECORD,,\n");
    let files: Vec<(String, Vec<u8>)> = vec![
        (format!("{dist}/__init__.py"), Vec::new()),
        (member.to_string(), bytes.to_vec()),
        (format!("{info}/METADATA"), metadata.into_bytes()),
        (format!("{info}/WHEEL"), wheel.as_bytes().to_vec()),
        (format!("{info}/RECORD"), record.into_bytes()),
    ];
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    (format!("{dist}-{version}-py3-none-any.whl"), zip(&refs, false))
}

// ---- pickle (PyTorch) ----

fn unicode(s: &str, out: &mut Vec<u8>) {
    out.push(b'X');
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn int(v: usize, out: &mut Vec<u8>) {
    out.push(b'J');
    out.extend_from_slice(&(v as i32).to_le_bytes());
}

fn global(module: &str, name: &str, out: &mut Vec<u8>) {
    out.push(b'c');
    out.extend_from_slice(format!("{module}\n{name}\n").as_bytes());
}

fn int_tuple(v: &[usize], out: &mut Vec<u8>) {
    out.push(b'(');
    for &d in v {
        int(d, out);
    }
    out.push(b't');
}

/// A state-dict pickle as torch.save writes it: OrderedDict of `_rebuild_tensor_v2(...)` with
/// persistent ids `('storage', FloatStorage, key, 'cpu', numel[, None])`. Storage keys are "0", "1"...
fn state_dict_pickle(tensors: &[Tensor], legacy: bool) -> Vec<u8> {
    let mut p = vec![0x80, 0x02];
    global("collections", "OrderedDict", &mut p);
    p.extend_from_slice(b")R(");
    for (i, (name, shape, data)) in tensors.iter().enumerate() {
        unicode(name, &mut p);
        global("torch._utils", "_rebuild_tensor_v2", &mut p);
        p.push(b'(');
        p.push(b'(');
        unicode("storage", &mut p);
        global("torch", "FloatStorage", &mut p);
        unicode(&i.to_string(), &mut p);
        unicode("cpu", &mut p);
        int(data.len(), &mut p);
        if legacy {
            p.push(b'N');
        }
        p.extend_from_slice(b"tQ");
        int(0, &mut p);
        int_tuple(shape, &mut p);
        let mut stride = vec![1; shape.len()];
        for d in (0..shape.len().saturating_sub(1)).rev() {
            stride[d] = stride[d + 1] * shape[d + 1];
        }
        int_tuple(&stride, &mut p);
        p.push(0x89); // False
        global("collections", "OrderedDict", &mut p);
        p.extend_from_slice(b")R");
        p.extend_from_slice(b"tR");
    }
    p.extend_from_slice(b"u.");
    p
}

fn le_bytes(data: &[f32]) -> Vec<u8> {
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// A torch ≥ 1.6 zip checkpoint: `archive/data.pkl`, `archive/data/N`, `archive/version`.
pub fn pth_zip(tensors: &[Tensor]) -> Vec<u8> {
    let pkl = state_dict_pickle(tensors, false);
    let mut files: Vec<(String, Vec<u8>)> =
        vec![("archive/data.pkl".into(), pkl), ("archive/version".into(), b"3\n".to_vec())];
    for (i, (_, _, data)) in tensors.iter().enumerate() {
        files.push((format!("archive/data/{i}"), le_bytes(data)));
    }
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (n.as_str(), b.as_slice())).collect();
    zip(&refs, true)
}

/// A legacy (pre-1.6) torch file: magic, protocol, sys_info and state-dict pickles, the storage
/// key list, then each storage as u64 numel + data.
pub fn pth_legacy(tensors: &[Tensor]) -> Vec<u8> {
    let mut out = vec![0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e];
    out.extend_from_slice(&[0x80, 0x02, b'M', 0xe9, 0x03, b'.']);
    out.extend_from_slice(&[0x80, 0x02, b'}', b'(']);
    unicode("little_endian", &mut out);
    out.push(0x88);
    out.extend_from_slice(b"u.");
    out.extend_from_slice(&state_dict_pickle(tensors, true));
    out.extend_from_slice(&[0x80, 0x02, b']', b'(']);
    for i in 0..tensors.len() {
        unicode(&i.to_string(), &mut out);
    }
    out.extend_from_slice(b"e.");
    for (_, _, data) in tensors {
        out.extend_from_slice(&(data.len() as u64).to_le_bytes());
        out.extend_from_slice(&le_bytes(data));
    }
    out
}
