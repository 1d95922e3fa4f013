//! A folder of images on many machines: a plan splits the folder's images into groups, any
//! machine with the binary, the weights and the shared folders renders any group (each image
//! once: an image whose result exists is skipped, also on a rerun), and the scripts of
//! [`crate::video::segments::emit`] hand the groups to a scheduler.
//!
//! The plan folder holds `images.toml` ([`plan::ImagePlan`]), `locks/`, `logs/` and the scripts;
//! the results go to the plan's output folder as `STEM.PRESET.png`.

pub mod plan;
pub mod render;
