//! VGG-19 from Hugging Face (`timm/vgg19.tv_in1k`): only the header and the `features.*` byte
//! ranges of `model.safetensors` (~80 MB of 548 MB), resumable.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::http::{read_full, Body, Client};
use super::ranges::{Partial, Plan};
use super::FetchEvent;
use crate::util::hash::hex;
use crate::weights::convert::{check_finite, is_feature_tensor, plan};
use crate::weights::format::WeightsMeta;
use crate::weights::import::install;
use crate::weights::layout::Preprocess;
use crate::weights::st_header::{self, TensorInfo};
use crate::weights::store::{sanitize_name, Entry, Store};
use crate::weights::WeightsError;

/// Where and how to download; tests point `endpoint` at a loopback server.
#[derive(Debug, Clone)]
pub struct HfSource {
    /// `HF_ENDPOINT`, default `https://huggingface.co` (no trailing slash needed).
    pub endpoint: String,
    /// `HF_TOKEN`: sent as `Authorization: Bearer` when set.
    pub token: Option<String>,
    pub repo: String,
    pub revision: String,
    pub file: String,
    /// The store entry name.
    pub name: String,
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
}

impl Default for HfSource {
    fn default() -> Self {
        HfSource {
            endpoint: "https://huggingface.co".into(),
            token: None,
            repo: "timm/vgg19.tv_in1k".into(),
            revision: "main".into(),
            file: "model.safetensors".into(),
            name: "vgg19-tv_in1k".into(),
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
        }
    }
}

impl HfSource {
    /// The defaults, with `HF_ENDPOINT` and `HF_TOKEN` from the environment.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        let mut s = HfSource::default();
        if let Some(e) = var("HF_ENDPOINT") {
            s.endpoint = e;
        }
        s.token = var("HF_TOKEN");
        s
    }

    pub fn url(&self) -> String {
        format!("{}/{}/resolve/{}/{}", self.endpoint.trim_end_matches('/'), self.repo, self.revision, self.file)
    }

    /// The `source` metadata of the result: `huggingface:timm/vgg19.tv_in1k`.
    pub fn source_label(&self) -> String {
        format!("huggingface:{}", self.repo)
    }

    /// Downloads (or resumes) and installs the weights.
    pub fn fetch(&self, store: &Store, on_event: &mut dyn FnMut(FetchEvent)) -> Result<Entry, WeightsError> {
        let url = self.url();
        let label = Path::new(&url);
        let client = Client::new(self.connect_timeout, self.read_timeout, self.token.clone());

        // 1. The header: 8 bytes of length, then JSON. A server that ignores Range sends the whole
        //    file; then the rest of that same body is streamed below.
        let mut body = client.get_range(&url, 0, 8)?;
        let mut streaming = None;
        if !body.partial {
            on_event(FetchEvent::Message(format!(
                "{url}: the server ignores Range requests; streaming the whole file and keeping only the conv layers"
            )));
        }
        let mut first8 = [0u8; 8];
        read_full(&mut body.reader, &mut first8, &url)?;
        let json_len = st_header::parse_len(first8, label)?;
        let mut json = vec![0u8; json_len as usize];
        if body.partial {
            let mut b = client.get_range(&url, 8, 8 + json_len)?;
            if !b.partial {
                on_event(FetchEvent::Message(format!(
                    "{url}: the server ignores Range requests; streaming the whole file"
                )));
                let mut skip8 = [0u8; 8];
                read_full(&mut b.reader, &mut skip8, &url)?;
            }
            read_full(&mut b.reader, &mut json, &url)?;
            if !b.partial {
                streaming = Some(b);
            }
        } else {
            read_full(&mut body.reader, &mut json, &url)?;
            streaming = Some(body);
        }
        let header = st_header::parse_json(&json, label)?;

        // 2. Which tensors, which bytes; the shapes are checked before any data is downloaded.
        let infos: BTreeMap<String, TensorInfo> =
            header.tensors.iter().filter(|t| is_feature_tensor(&t.name)).map(|t| (t.name.clone(), t.clone())).collect();
        let shapes = infos.iter().map(|(n, t)| (n.clone(), t.shape.clone())).collect();
        let (arch, names) = plan(&shapes, label)?;
        let data_start = header.data_start();
        let wanted = Plan::new(infos.values().map(|t| (data_start + t.start, data_start + t.end)).collect());
        let header_sha = hex(&Sha256::digest(&json));
        let stem = format!("hf-{}", sanitize_name(&self.repo));
        let mut partial = Partial::open(store.dir(), &stem, &url, &header_sha, &wanted)?;

        on_event(FetchEvent::Started {
            what: format!("{} ({} conv layers of {arch})", url, names.len() / 2),
            total_bytes: Some(wanted.total()),
        });
        if partial.done() > 0 {
            on_event(FetchEvent::Message(format!("resuming at {} of {} bytes", partial.done(), wanted.total())));
            on_event(FetchEvent::Bytes { done: partial.done() });
        }

        // 3. The data.
        if let Some(Body { mut reader, .. }) = streaming {
            partial.copy_from(&wanted, &mut reader, 8 + json_len, true, &url, on_event)?;
        }
        while let Some((start, end)) = wanted.next_remote(partial.done()) {
            let mut b = client.get_range(&url, start, end)?;
            if b.partial {
                partial.copy_from(&wanted, &mut b.reader, b.start, false, &url, on_event)?;
            } else {
                on_event(FetchEvent::Message(format!(
                    "{url}: the server ignores Range requests; streaming the whole file and keeping only the conv layers"
                )));
                partial.copy_from(&wanted, &mut b.reader, 0, true, &url, on_event)?;
            }
        }

        // 4. Convert and install.
        let bytes = partial.read_all()?;
        let mut tensors = Vec::new();
        for name in names {
            let t = &infos[&name];
            let at = wanted.compact_offset(data_start + t.start).unwrap_or(0) as usize;
            let raw = bytes
                .get(at..at + (t.end - t.start) as usize)
                .ok_or_else(|| WeightsError::format(&partial.data_path, "partial download is shorter than planned"))?;
            let data = crate::weights::decode::to_f32(&t.dtype, raw).map_err(|msg| WeightsError::BadTensor {
                path: label.to_path_buf(),
                tensor: name.clone(),
                msg,
            })?;
            if let Err(e) = check_finite(&name, &data, label) {
                // Corrupt bytes: start over next time rather than resume into the same data.
                partial.remove();
                return Err(e);
            }
            tensors.push((name, t.shape.clone(), data));
        }
        let meta = WeightsMeta { arch, preprocess: Preprocess::Torchvision, source: self.source_label() };
        let entry = install(store, &self.name, &meta, &tensors)?;
        partial.remove();
        on_event(FetchEvent::Finished);
        Ok(entry)
    }
}
