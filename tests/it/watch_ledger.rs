//! The watch ledger: entries survive reopening, damaged lines are skipped with a warning, and a
//! restarted watch skips what the ledger says is done while new work still comes through.

use crate::watch_support;

use std::fs;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use brushwork::watch::{Ledger, ReadyFile};
use watch_support::*;

const KEY: &str = "in=/photos preset=default styles=starry.jpg";

fn ready_file(name: &str, sha256: &str) -> ReadyFile {
    ReadyFile {
        path: PathBuf::from("/photos").join(name),
        size: 1234,
        mtime: UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        sha256: sha256.to_string(),
        error: None,
    }
}

#[test]
fn recorded_entries_survive_reopening_and_match_by_key_and_content() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("workspace/watch-ledger.jsonl");
    let mut ledger = Ledger::open(&path).unwrap();
    assert!(ledger.entries().is_empty() && ledger.warnings().is_empty());
    let a = ready_file("a.png", "aaaa");
    ledger.record(KEY, &a, "session-1", "done").unwrap();
    ledger.record(KEY, &ready_file("b.png", "bbbb"), "session-2", "failed: truncated").unwrap();

    let reopened = Ledger::open(&path).unwrap();
    assert_eq!(reopened.entries(), ledger.entries());
    assert_eq!(reopened.entries()[0].mtime, 1_700_000_000);
    assert!(reopened.is_done(KEY, &a));
    assert!(reopened.is_done(KEY, &ready_file("renamed-copy-of-a.png", "aaaa")), "same content, new name");
    assert!(reopened.is_done(KEY, &ready_file("b.png", "bbbb")), "a failed outcome is done too");
    assert!(!reopened.is_done(KEY, &ready_file("a.png", "a-new-content")), "changed content is new work");
    assert!(!reopened.is_done("in=/photos preset=fast styles=starry.jpg", &a), "another configuration");
}

#[test]
fn damaged_lines_are_skipped_with_a_warning_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("watch-ledger.jsonl");
    let mut ledger = Ledger::open(&path).unwrap();
    ledger.record(KEY, &ready_file("a.png", "aaaa"), "s1", "done").unwrap();
    ledger.record(KEY, &ready_file("b.png", "bbbb"), "s2", "done").unwrap();
    let text = fs::read_to_string(&path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let damaged = format!("{}\nnot json at all\n{}\n{}\n", lines[0], &lines[1][..lines[1].len() / 2], lines[1]);
    fs::write(&path, damaged).unwrap();

    let mut reopened = Ledger::open(&path).unwrap();
    assert_eq!(reopened.entries().len(), 2);
    assert_eq!(reopened.warnings().len(), 2, "{:?}", reopened.warnings());
    assert!(reopened.warnings()[0].contains("watch-ledger.jsonl:2:"), "{:?}", reopened.warnings());
    assert!(reopened.warnings()[1].contains("watch-ledger.jsonl:3:"), "{:?}", reopened.warnings());
    reopened.record(KEY, &ready_file("c.png", "cccc"), "s3", "done").unwrap();
    let clean = Ledger::open(&path).unwrap();
    assert_eq!(clean.entries().len(), 3);
    assert!(clean.warnings().is_empty());
}

#[test]
fn a_failed_save_leaves_the_ledger_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace");
    fs::create_dir(&workspace).unwrap();
    let mut ledger = Ledger::open(&workspace.join("watch-ledger.jsonl")).unwrap();
    ledger.record(KEY, &ready_file("a.png", "aaaa"), "s1", "done").unwrap();
    // The workspace folder is replaced by a file: the next save cannot happen.
    fs::remove_dir_all(&workspace).unwrap();
    fs::write(&workspace, "").unwrap();
    let error = ledger.record(KEY, &ready_file("b.png", "bbbb"), "s2", "done").unwrap_err();
    assert!(error.to_string().contains("workspace"), "{error}");
    assert_eq!(ledger.entries().len(), 1);
    assert!(!ledger.is_done(KEY, &ready_file("b.png", "bbbb")));
}

/// What the watch command does: report → not done → run → record; then brushwork restarts and the
/// initial scan reports the same file again, which the ledger says to skip.
#[test]
fn after_a_restart_the_ledger_skips_done_files_and_lets_new_ones_through() {
    let folders = Folders::new();
    let ledger_path = folders.staging.join("watch-ledger.jsonl");
    fs::write(folders.watched.join("first.png"), png_bytes(30)).unwrap();
    {
        let (_watcher, rx) = start(folders.options());
        let mut ledger = Ledger::open(&ledger_path).unwrap();
        let reports = ready(&collect(&rx, 1));
        assert_eq!(reports.len(), 1);
        assert!(!ledger.is_done(KEY, &reports[0]));
        ledger.record(KEY, &reports[0], "session-1", "done").unwrap();
    }
    fs::write(folders.watched.join("second.png"), png_bytes(31)).unwrap();
    fs::rename(folders.watched.join("first.png"), folders.watched.join("first-renamed.png")).unwrap();

    let (_watcher, rx) = start(folders.options());
    let ledger = Ledger::open(&ledger_path).unwrap();
    let reports = ready(&collect(&rx, 2));
    assert_eq!(reports.len(), 2, "{reports:#?}");
    let todo: Vec<_> = reports.iter().filter(|r| !ledger.is_done(KEY, r)).map(|r| r.path.clone()).collect();
    assert_eq!(todo, vec![folders.watched.join("second.png")]);
}
