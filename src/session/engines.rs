//! What sessions share: loaded networks (by weights file, pooling and depth) and style targets
//! (Gram matrices by weights, style images, layers and size), each computed once per process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use candle_core::Device;

use crate::engine::settings::ColorMode;
use crate::engine::vgg::WeightsHeader;
use crate::engine::{Settings, StyleCache, Vgg};
use crate::error::Result;

#[derive(Default)]
pub struct Engines {
    networks: Mutex<HashMap<String, (Arc<Vgg>, WeightsHeader)>>,
    targets: Mutex<HashMap<String, StyleCache>>,
}

impl Engines {
    pub fn network(
        &self,
        settings: &Settings,
        preset: &str,
        weights: &Path,
        device: &Device,
        note: &dyn Fn(&str),
    ) -> Result<(Arc<Vgg>, WeightsHeader)> {
        let key = format!(
            "{}|{:?}|{:?}|{:?}|{:?}|{:?}",
            weights.display(),
            settings.pooling,
            settings.precision,
            settings.content_layers.keys().collect::<Vec<_>>(),
            settings.style_layers.keys().collect::<Vec<_>>(),
            device.location()
        );
        if let Some(hit) = self.lock_networks().get(&key) {
            return Ok(hit.clone());
        }
        let (net, header) = crate::session::network::load_network(settings, preset, weights, device, note)?;
        let entry = (Arc::new(net), header);
        self.lock_networks().insert(key, entry.clone());
        Ok(entry)
    }

    /// The style cache for these settings (a copy: cheap, the tensors are shared). `None` when
    /// targets depend on the content (`color = "histogram"`), so they cannot be shared.
    pub fn style_cache(&self, weights: &Path, settings: &Settings) -> (Option<String>, StyleCache) {
        if settings.color == ColorMode::Histogram {
            return (None, StyleCache::default());
        }
        let key = style_key(weights, settings);
        let cache = self.lock_targets().get(&key).cloned().unwrap_or_default();
        (Some(key), cache)
    }

    /// Keeps the targets a session computed for the next one.
    pub fn keep_style_cache(&self, key: Option<String>, cache: StyleCache) {
        if let Some(key) = key {
            self.lock_targets().entry(key).or_default().merge(cache);
        }
    }

    fn lock_networks(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Arc<Vgg>, WeightsHeader)>> {
        self.networks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_targets(&self) -> std::sync::MutexGuard<'_, HashMap<String, StyleCache>> {
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn style_key(weights: &Path, s: &Settings) -> String {
    let styles: Vec<(PathBuf, f64)> = s.styles.iter().map(|r| (r.path.clone(), r.weight)).collect();
    format!("{}|{styles:?}|{:?}|{:?}|{}|{}", weights.display(), s.style_layers, s.pooling, s.style_scale, s.arch as u8)
}
