//! `weights import FILE`: safetensors, ONNX and PyTorch files generated here, converted into the store.

use crate::weights_support;

use std::path::{Path, PathBuf};

use brushwork::weights::import::{import_file, ImportOptions};
use brushwork::weights::layout::{Arch, Preprocess};
use brushwork::weights::{read_weights, Store};
use weights_support::{files, TempDir};

fn setup(tag: &str, file: &str, bytes: &[u8]) -> (TempDir, Store, PathBuf) {
    let dir = TempDir::new(tag);
    let store = Store::at(dir.path().join("store")).unwrap();
    let path = dir.path().join(file);
    std::fs::write(&path, bytes).unwrap();
    (dir, store, path)
}

fn assert_installed(store: &Store, entry_path: &Path, arch: Arch, pre: Preprocess) {
    let (meta, tensors) = read_weights(entry_path).unwrap();
    assert_eq!((meta.arch, meta.preprocess), (arch, pre));
    assert_eq!(tensors, files::vgg(arch, 16));
    assert_eq!(store.list().unwrap().len(), 1);
    assert!(store.list().unwrap()[0].is_default);
}

#[test]
fn safetensors_with_extra_tensors() {
    let (_d, store, path) = setup("imp-st", "vgg19.safetensors", &files::timm_like(Arch::Vgg19, 16));
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap();
    assert_eq!((e.name.as_str(), e.arch, e.preprocess), ("vgg19", Arch::Vgg19, Preprocess::Torchvision));
    assert!(e.source.starts_with("file:/") && e.source.ends_with("vgg19.safetensors"), "{}", e.source);
    assert_installed(&store, &e.path, Arch::Vgg19, Preprocess::Torchvision);
}

#[test]
fn safetensors_metadata_and_options_choose_preprocess_and_name() {
    let bytes = files::safetensors(&files::vgg(Arch::Vgg16, 16), &[("preprocess", "caffe")]);
    let (_d, store, path) = setup("imp-meta", "model.bin", &bytes);
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap();
    assert_eq!((e.name.as_str(), e.preprocess), ("vgg16-model", Preprocess::Caffe));
    let opts = ImportOptions { preprocess: Some(Preprocess::Torchvision), name: Some("mine".into()) };
    let e = import_file(&store, &path, &opts).unwrap();
    assert_eq!((e.name.as_str(), e.preprocess), ("mine", Preprocess::Torchvision));
}

#[test]
fn onnx_like_tf2onnx() {
    let model = files::onnx_model(Arch::Vgg16, &files::vgg(Arch::Vgg16, 16));
    let (_d, store, path) = setup("imp-onnx", "keras.onnx", &model);
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap();
    assert_eq!((e.arch, e.preprocess), (Arch::Vgg16, Preprocess::Caffe));
    assert_installed(&store, &e.path, Arch::Vgg16, Preprocess::Caffe);
}

#[test]
fn onnx_with_non_float_or_external_data_is_refused() {
    let mut t = files::vgg(Arch::Vgg16, 16);
    t.truncate(2);
    // A model whose only conv weight is typed as DOUBLE (11).
    let mut model = files::onnx_model(Arch::Vgg16, &files::vgg(Arch::Vgg16, 16));
    let good =
        files::onnx_tensor("functional_1/block1_conv1_1/convolution/ReadVariableOp:0", &t[0].1, &t[0].2, true, true, 1);
    let bad = files::onnx_tensor(
        "functional_1/block1_conv1_1/convolution/ReadVariableOp:0",
        &t[0].1,
        &t[0].2,
        true,
        true,
        11,
    );
    let at = model.windows(good.len()).position(|w| w == good.as_slice()).unwrap();
    model.splice(at..at + good.len(), bad);
    let (_d, store, path) = setup("imp-onnx-bad", "bad.onnx", &model);
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap_err().to_string();
    assert!(
        e.contains(
            "bad.onnx: tensor `functional_1/block1_conv1_1/convolution/ReadVariableOp:0`: data type 11 is not FLOAT"
        ),
        "{e}"
    );
    assert!(store.list().unwrap().is_empty());
}

#[test]
fn pth_zip_format() {
    let (_d, store, path) = setup("imp-pth", "vgg16-397923af.pth", &files::pth_zip(&files::vgg(Arch::Vgg16, 16)));
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap();
    assert_eq!(e.name, "vgg16-397923af");
    assert_installed(&store, &e.path, Arch::Vgg16, Preprocess::Torchvision);
}

#[test]
fn pth_legacy_format() {
    let mut t = files::vgg(Arch::Vgg19, 16);
    t.push(("classifier.6.bias".into(), vec![5], files::values(5, 7)));
    let (_d, store, path) = setup("imp-legacy", "vgg19-dcbb9e9d.pth", &files::pth_legacy(&t));
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap();
    assert_installed(&store, &e.path, Arch::Vgg19, Preprocess::Torchvision);
}

#[test]
fn wrong_shape_names_tensor_and_expected_shape() {
    let mut t = files::vgg(Arch::Vgg16, 16);
    t[4] = ("features.5.weight".into(), vec![8, 3, 3, 3], files::values(8 * 27, 1));
    let (_d, store, path) = setup("imp-shape", "w.safetensors", &files::safetensors(&t, &[]));
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap_err().to_string();
    assert_eq!(
        e,
        format!("{}: tensor `features.5.weight` has shape [8, 3, 3, 3], expected [8, 4, 3, 3]", path.display())
    );
    assert!(store.list().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(store.dir()).unwrap().count(), 0, "nothing half-written left");
}

#[test]
fn missing_tensor_is_named() {
    let mut t = files::vgg(Arch::Vgg19, 16);
    t.retain(|(n, _, _)| n != "features.21.bias");
    let (_d, store, path) = setup("imp-missing", "w.pth", &files::pth_zip(&t));
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap_err().to_string();
    assert_eq!(e, format!("{}: missing tensor `features.21.bias`", path.display()));
}

#[test]
fn odd_conv_count_and_unknown_format() {
    let mut t = files::vgg(Arch::Vgg19, 16);
    t.truncate(28);
    let (_d, store, path) = setup("imp-count", "w.safetensors", &files::safetensors(&t, &[]));
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap_err().to_string();
    assert!(e.ends_with("found 14 conv layers, expected 13 (vgg16) or 16 (vgg19)"), "{e}");
    let junk = path.with_file_name("notes.txt");
    std::fs::write(&junk, "hello world").unwrap();
    let e = import_file(&store, &junk, &ImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("notes.txt: unrecognised weights format"), "{e}");
    let garbage_pth = path.with_file_name("broken.pth");
    std::fs::write(&garbage_pth, b"PK\x03\x04garbage").unwrap();
    let e = import_file(&store, &garbage_pth, &ImportOptions::default()).unwrap_err().to_string();
    assert!(e.starts_with(&garbage_pth.display().to_string()), "{e}");
}

#[test]
fn nan_values_are_refused() {
    let mut t = files::vgg(Arch::Vgg16, 16);
    t[3].2[1] = f32::NAN;
    let (_d, store, path) = setup("imp-nan", "w.safetensors", &files::safetensors(&t, &[]));
    let e = import_file(&store, &path, &ImportOptions::default()).unwrap_err().to_string();
    assert!(e.contains("tensor `features.2.bias`: value 1 is NaN"), "{e}");
}
