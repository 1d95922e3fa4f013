//! Dashboard tests on ratatui's `TestBackend`: snapshots of each screen, and key-driven flows
//! checked on the rendered text and on the requests the scheduler received.

mod flows;
mod snapshots;
mod support;
