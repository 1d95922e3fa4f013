//! Shared helpers for the CLI and image-input integration tests: self-removing temp dirs, tiny
//! random networks, generated images, and running the real `brushwork` binary in isolation.
//!
//! Each test file uses only part of this module.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use brushwork::weights::layout::{Arch, Preprocess};

/// A fresh directory under the system temp dir (`brushwork-<tag>-XXXXXX`), removed with its
/// contents on drop.
pub struct TempDir(tempfile::TempDir);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        TempDir(tempfile::Builder::new().prefix(&format!("brushwork-{tag}-")).tempdir().expect("create temp dir"))
    }

    pub fn path(&self) -> &Path {
        self.0.path()
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.0.path().join(p)
    }

    /// Names of all files in the dir (hidden ones too), sorted.
    pub fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(self.path())
            .expect("read temp dir")
            .map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

/// A VGG-16 with every width divided by 16 (conv1_1 has 4 filters), caffe preprocessing.
pub fn write_tiny_weights(path: &Path, seed: u64) {
    brushwork::weights::random::write_random_vgg(path, Arch::Vgg16, Preprocess::Caffe, 16, seed)
        .expect("write tiny weights");
}

/// A smooth colour gradient: red grows left to right, green top to bottom, blue is constant.
pub fn gradient(w: u32, h: u32) -> image::RgbImage {
    image::RgbImage::from_fn(w, h, |x, y| {
        let r = (x * 255 / (w - 1).max(1)) as u8;
        let g = (y * 255 / (h - 1).max(1)) as u8;
        image::Rgb([r, g, 96])
    })
}

/// Diagonal stripes, 4 px wide, alternating dark blue and orange.
pub fn stripes(size: u32) -> image::RgbImage {
    image::RgbImage::from_fn(size, size, |x, y| {
        if ((x + y) / 4) % 2 == 0 {
            image::Rgb([20, 30, 140])
        } else {
            image::Rgb([240, 150, 30])
        }
    })
}

/// The bytes of `img` encoded as PNG.
pub fn png_bytes(img: &image::RgbImage) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    img.write_to(&mut buf, image::ImageFormat::Png).expect("encode png");
    buf.into_inner()
}

/// CRC-32 (ISO-HDLC, the one PNG uses): reflected polynomial 0xEDB88320, init and final xor !0.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// One PNG chunk: length, type, data, CRC over type and data.
pub fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc_input = kind.to_vec();
    crc_input.extend_from_slice(data);
    out.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    out
}

/// A PNG signature and a valid IHDR (8-bit RGB) claiming `w`x`h`, then an empty IDAT and IEND.
pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // depth 8, colour type 2 (RGB), deflate, filter 0, no interlace
    out.extend(png_chunk(b"IHDR", &ihdr));
    out.extend(png_chunk(b"IDAT", &[]));
    out.extend(png_chunk(b"IEND", &[]));
    out
}

/// The standard fixture of a CLI test: a temp dir (also the child's cwd and home) holding
/// `content.png` (40x30 gradient), `style.png` (32x32 stripes) and `tiny.safetensors`.
pub struct Fixture {
    pub dir: TempDir,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        let dir = TempDir::new(tag);
        gradient(40, 30).save(dir.join("content.png")).expect("save content");
        stripes(32).save(dir.join("style.png")).expect("save style");
        write_tiny_weights(&dir.join("tiny.safetensors"), 7);
        Fixture { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn join(&self, p: impl AsRef<Path>) -> PathBuf {
        self.dir.join(p)
    }

    /// `brushwork ARGS` with cwd = the fixture dir and an isolated environment (see [`isolated`]).
    pub fn command(&self, args: &[&str]) -> Command {
        isolated(self.path(), args)
    }

    pub fn run(&self, args: &[&str]) -> Run {
        Run::of(self.command(args))
    }

    /// Names in the fixture dir (recursively, relative) that start with `.`: leftover temp files.
    pub fn hidden_files(&self) -> Vec<String> {
        hidden_files(self.path())
    }
}

/// The binary under test, run in `cwd`, with a home, config and cache inside `cwd` (so no real
/// weights store or user presets leak in), no weights or workspace from the environment, and
/// no backtraces.
pub fn isolated(cwd: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_brushwork"));
    cmd.args(args)
        .current_dir(cwd)
        .env("HOME", cwd.join("home"))
        .env("XDG_CACHE_HOME", cwd.join("home/.cache"))
        .env("XDG_CONFIG_HOME", cwd.join("home/.config"))
        .env("XDG_DATA_HOME", cwd.join("home/.local/share"))
        .env("RUST_BACKTRACE", "0")
        .env("NO_COLOR", "1")
        .env_remove("BRUSHWORK_WEIGHTS")
        .env_remove("BRUSHWORK_WORKSPACE")
        .env_remove("HF_TOKEN")
        .stdin(Stdio::null());
    cmd
}

/// A finished child: exit code and output as text.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn of(mut cmd: Command) -> Run {
        let Output { status, stdout, stderr } = cmd.output().expect("spawn brushwork");
        Run {
            code: status.code(),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }

    /// Non-empty stderr lines.
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().filter(|l| !l.trim().is_empty()).collect()
    }

    /// stdout parsed as JSON lines (panics on a line that is not a JSON object with "event").
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value =
                    serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}"));
                assert!(v.get("event").and_then(|e| e.as_str()).is_some(), "no \"event\" in {l}");
                v
            })
            .collect()
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {:?}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

/// Paths under `dir` (relative) whose file name starts with `.`, skipping the fake home.
pub fn hidden_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p == dir.join("home") {
                continue;
            }
            if name.starts_with('.') {
                out.push(p.strip_prefix(dir).unwrap_or(&p).display().to_string());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}
