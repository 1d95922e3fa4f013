//! The contract file and the store: round trips, shape checks, index, verify.

use crate::weights_support;

use std::collections::BTreeMap;

use brushwork::weights::layout::{Arch, Preprocess};
use brushwork::weights::{check_shapes, read_meta, read_weights, write_weights_file, Store, WeightsError, WeightsMeta};
use weights_support::{files, TempDir};

fn meta(arch: Arch) -> WeightsMeta {
    WeightsMeta { arch, preprocess: Preprocess::Caffe, source: "test:\"quoted\"".into() }
}

#[test]
fn write_then_read_round_trips_in_network_order() {
    let dir = TempDir::new("fmt");
    let path = dir.path().join("w.safetensors");
    let tensors = files::vgg(Arch::Vgg19, 16);
    write_weights_file(&path, &meta(Arch::Vgg19), &tensors).unwrap();
    assert_eq!(dir.files(), vec!["w.safetensors"], "no temp file left behind");
    assert_eq!(read_meta(&path).unwrap(), meta(Arch::Vgg19));
    let (m, back) = read_weights(&path).unwrap();
    assert_eq!(m.arch, Arch::Vgg19);
    assert_eq!(back, tensors);
    // The safetensors crate reads it too, and the data lies in network order.
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    assert_eq!(st.tensor("features.34.bias").unwrap().shape(), &[32]);
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let offsets: Vec<usize> = tensors.iter().map(|(n, _, _)| header.info(n).unwrap().data_offsets.0).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn check_shapes_accepts_real_and_shrunk_widths() {
    for d in [1, 2, 16, 64] {
        let shapes: BTreeMap<String, Vec<usize>> = Arch::Vgg16
            .convs()
            .iter()
            .enumerate()
            .flat_map(|(i, c)| {
                let inp = if i == 0 { 3 } else { c.in_channels / d };
                [(c.weight_name(), vec![c.out_channels / d, inp, 3, 3]), (c.bias_name(), vec![c.out_channels / d])]
            })
            .collect();
        check_shapes(Arch::Vgg16, &shapes, "x".as_ref()).unwrap();
    }
}

#[test]
fn check_shapes_names_the_tensor_and_expected_shape() {
    type Shapes = BTreeMap<String, Vec<usize>>;
    let shapes = |f: &dyn Fn(&mut Shapes)| {
        let mut m: BTreeMap<String, Vec<usize>> =
            files::vgg(Arch::Vgg16, 16).into_iter().map(|(n, s, _)| (n, s)).collect();
        f(&mut m);
        check_shapes(Arch::Vgg16, &m, "w.safetensors".as_ref()).unwrap_err().to_string()
    };
    let e = shapes(&|m| {
        m.insert("features.10.weight".into(), vec![16, 9, 3, 3]);
    });
    assert_eq!(e, "w.safetensors: tensor `features.10.weight` has shape [16, 9, 3, 3], expected [16, 8, 3, 3]");
    let e = shapes(&|m| {
        m.remove("features.28.bias");
    });
    assert_eq!(e, "w.safetensors: missing tensor `features.28.bias`");
    let e = shapes(&|m| {
        m.insert("features.0.weight".into(), vec![4, 1, 3, 3]);
    });
    assert!(e.contains("`features.0.weight` has shape [4, 1, 3, 3], expected [64, 3, 3, 3]"), "{e}");
    let e = shapes(&|m| {
        m.insert("features.1.weight".into(), vec![4]);
    });
    assert!(e.contains("`features.1.weight`: unexpected tensor for vgg16"), "{e}");
}

#[test]
fn read_meta_rejects_foreign_and_truncated_files() {
    let dir = TempDir::new("fmt-bad");
    let foreign = dir.path().join("foreign.safetensors");
    std::fs::write(&foreign, files::safetensors(&files::vgg(Arch::Vgg16, 16), &[])).unwrap();
    let e = read_meta(&foreign).unwrap_err().to_string();
    assert!(e.contains("foreign.safetensors: no `arch` in the metadata"), "{e}");
    let cut = dir.path().join("cut.safetensors");
    write_weights_file(&cut, &meta(Arch::Vgg16), &files::vgg(Arch::Vgg16, 16)).unwrap();
    let bytes = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() - 10]).unwrap();
    let e = read_meta(&cut).unwrap_err().to_string();
    assert!(e.contains("cut.safetensors: truncated safetensors file"), "{e}");
    let junk = dir.path().join("junk");
    std::fs::write(&junk, b"hello").unwrap();
    assert!(read_meta(&junk)
        .unwrap_err()
        .to_string()
        .starts_with(&format!("{}: not a safetensors file", junk.display())));
}

fn install(store: &Store, name: &str, arch: Arch) -> brushwork::weights::Entry {
    let staging = store.staging_path(name);
    write_weights_file(&staging, &meta(arch), &files::vgg(arch, 16)).unwrap();
    store.install(name, &staging, &meta(arch)).unwrap()
}

#[test]
fn store_lists_defaults_and_picks_by_arch() {
    let dir = TempDir::new("store");
    let store = Store::at(dir.path().join("weights")).unwrap();
    assert!(store.list().unwrap().is_empty());
    assert!(store.default_entry().unwrap().is_none());
    let a = install(&store, "a16", Arch::Vgg16);
    assert!(a.is_default, "the first entry becomes the default");
    assert_eq!(a.sha256, brushwork::weights::sha256_file(&a.path).unwrap());
    let b = install(&store, "b19", Arch::Vgg19);
    assert!(!b.is_default);
    assert_eq!(store.list().unwrap().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["a16", "b19"]);
    assert_eq!(store.entry_for(None).unwrap().unwrap().name, "a16");
    assert_eq!(store.entry_for(Some(Arch::Vgg19)).unwrap().unwrap().name, "b19");
    store.set_default("b19").unwrap();
    assert_eq!(store.default_entry().unwrap().unwrap().name, "b19");
    assert_eq!(store.entry_for(Some(Arch::Vgg16)).unwrap().unwrap().name, "a16");
    let e = store.set_default("nope").unwrap_err().to_string();
    assert!(e.ends_with("no weights named `nope` in this store"), "{e}");
    // Reinstalling a name replaces it; nothing but the files and the index stays in the dir.
    install(&store, "a16", Arch::Vgg16);
    assert_eq!(store.list().unwrap().len(), 2);
    let mut names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a16.safetensors", "b19.safetensors", "index.toml"]);
    store.remove("b19").unwrap();
    assert_eq!(store.default_entry().unwrap().unwrap().name, "a16");
}

#[test]
fn verify_finds_a_changed_file() {
    let dir = TempDir::new("verify");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let a = install(&store, "a", Arch::Vgg16);
    install(&store, "b", Arch::Vgg16);
    let mut bytes = std::fs::read(&a.path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&a.path, bytes).unwrap();
    let results = store.verify().unwrap();
    assert_eq!(results.len(), 2);
    let e = results[0].1.as_ref().unwrap_err();
    assert!(matches!(e, WeightsError::Checksum { .. }));
    assert!(e.to_string().contains("a.safetensors: sha256 is"), "{e}");
    assert!(results[1].1.is_ok());
}

#[test]
fn damaged_index_is_a_clear_error() {
    let dir = TempDir::new("index");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    std::fs::write(dir.path().join("index.toml"), "[[weights]\nname = 3").unwrap();
    let e = store.list().unwrap_err().to_string();
    assert!(e.starts_with(&format!("{}: damaged weights index", dir.path().join("index.toml").display())), "{e}");
    assert!(!e.contains('\n'), "one line: {e}");
}

#[test]
fn bad_names_are_refused() {
    let dir = TempDir::new("names");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let staging = store.staging_path("x");
    write_weights_file(&staging, &meta(Arch::Vgg16), &files::vgg(Arch::Vgg16, 16)).unwrap();
    let e = store.install("../evil", &staging, &meta(Arch::Vgg16)).unwrap_err().to_string();
    assert!(e.contains("invalid weights name `../evil`"), "{e}");
}
