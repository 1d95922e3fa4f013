//! Small shared helpers that know nothing of the rest of the crate: files written atomically,
//! hashes, the user's folders, a seeded random source, text escaping and human-readable figures.

pub mod dirs;
pub mod fs;
pub mod hash;
pub mod human;
pub mod rng;
pub mod text;
