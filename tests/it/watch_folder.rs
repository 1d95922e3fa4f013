//! The folder watcher against real files and real filesystem events (inotify here): each way a
//! file can arrive is reported exactly once, with the hash of its final content, and files that
//! must not be stylised never are.

use crate::watch_support;

use std::fs;
use std::io::Write;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant, SystemTime};

use brushwork::watch::{FolderWatcher, WatchEvent, WatchOptions};
use watch_support::*;

#[test]
fn a_copied_in_file_is_reported_once_with_its_hash() {
    let folders = Folders::new();
    let (watcher, rx) = start(folders.options());
    assert!(!watcher.is_polling());
    let (staged, bytes) = folders.stage("a.png", 1);
    fs::copy(&staged, folders.watched.join("a.png")).unwrap();
    let reports = ready(&collect(&rx, 1));
    let report = only_report_for(&reports, &folders.watched.join("a.png"));
    assert_eq!(reports.len(), 1);
    assert_eq!(report.sha256, sha256_hex(&bytes));
    assert_eq!(report.size, bytes.len() as u64);
    assert_eq!(report.error, None);
}

#[test]
fn a_file_moved_in_from_the_same_filesystem_is_reported() {
    let folders = Folders::new();
    let (_watcher, rx) = start(folders.options());
    let (staged, bytes) = folders.stage("moved.png", 2);
    fs::rename(&staged, folders.watched.join("moved.png")).unwrap();
    let reports = ready(&collect(&rx, 1));
    assert_eq!(reports.len(), 1);
    assert_eq!(only_report_for(&reports, &folders.watched.join("moved.png")).sha256, sha256_hex(&bytes));
}

/// The pauses are longer than the grace period for undecodable files: only the open writer keeps
/// the partial file from being reported (as a truncated image).
#[test]
fn a_slow_writer_is_reported_once_after_it_closes_the_file() {
    let folders = Folders::new();
    let (_watcher, rx) = start(folders.options());
    let bytes = png_bytes(3);
    let target = folders.watched.join("slow.png");
    let writer = {
        let (bytes, target) = (bytes.clone(), target.clone());
        std::thread::spawn(move || {
            let mut file = fs::File::create(&target).unwrap();
            for (i, chunk) in bytes.chunks(bytes.len().div_ceil(4)).enumerate() {
                if i > 0 {
                    std::thread::sleep(SETTLE * 5);
                }
                file.write_all(chunk).unwrap();
                file.flush().unwrap();
            }
            drop(file);
            Instant::now()
        })
    };
    let received = collect(&rx, 1);
    let closed_at = writer.join().unwrap();
    let reports = ready(&received);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0].sha256, sha256_hex(&bytes));
    assert_eq!(reports[0].error, None);
    let reported_at = received.iter().find(|r| matches!(r.event, WatchEvent::Ready(_))).unwrap().at;
    assert!(reported_at > closed_at, "reported before the writer finished");
}

#[test]
fn an_editor_style_temp_then_rename_is_reported_under_the_final_name_only() {
    let folders = Folders::new();
    let (_watcher, rx) = start(folders.options());
    let bytes = png_bytes(4);
    let temp = folders.watched.join("photo.png.tmp");
    fs::write(&temp, &bytes).unwrap();
    fs::rename(&temp, folders.watched.join("photo.png")).unwrap();
    let reports = ready(&collect(&rx, 1));
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(only_report_for(&reports, &folders.watched.join("photo.png")).sha256, sha256_hex(&bytes));
}

#[test]
fn a_burst_of_fifty_files_is_reported_exactly_once_each() {
    let folders = Folders::new();
    let (_watcher, rx) = start(folders.options());
    let staged: Vec<_> = (0..50).map(|i| folders.stage(&format!("burst-{i:02}.png"), 100 + i)).collect();
    for (path, _) in &staged {
        fs::copy(path, folders.watched.join(path.file_name().unwrap())).unwrap();
    }
    let reports = ready(&collect(&rx, 50));
    assert_eq!(reports.len(), 50);
    for (path, bytes) in &staged {
        let report = only_report_for(&reports, &folders.watched.join(path.file_name().unwrap()));
        assert_eq!(report.sha256, sha256_hex(bytes));
        assert_eq!(report.error, None);
    }
}

#[test]
fn files_that_never_decode_are_reported_once_with_an_error_naming_them() {
    let folders = Folders::new();
    let (_watcher, rx) = start(folders.options());
    let png = png_bytes(5);
    fs::write(folders.watched.join("truncated.png"), &png[..png.len() / 2]).unwrap();
    fs::write(folders.watched.join("notes.jpg"), "this is not a picture\n").unwrap();
    let reports = ready(&collect(&rx, 2));
    assert_eq!(reports.len(), 2, "{reports:#?}");
    for name in ["truncated.png", "notes.jpg"] {
        let report = only_report_for(&reports, &folders.watched.join(name));
        let error = report.error.unwrap_or_else(|| panic!("{name} was reported as decodable"));
        assert!(error.contains(name) && !error.contains('\n'), "{error}");
    }
}

#[test]
fn hidden_partial_deleted_and_ignored_files_are_never_reported() {
    let folders = Folders::new();
    let output = folders.watched.join("out");
    let options = WatchOptions { recursive: true, ignore: vec![output.clone()], ..folders.options() };
    let (_watcher, rx) = start(options);
    fs::write(folders.watched.join(".hidden.png"), png_bytes(6)).unwrap();
    fs::write(folders.watched.join("download.png.part"), png_bytes(7)).unwrap();
    fs::create_dir(folders.watched.join(".cache")).unwrap();
    fs::write(folders.watched.join(".cache/thumb.png"), png_bytes(8)).unwrap();
    fs::create_dir(&output).unwrap();
    fs::write(output.join("result.png"), png_bytes(9)).unwrap();
    let deleted = folders.watched.join("deleted.png");
    fs::write(&deleted, png_bytes(10)).unwrap();
    std::thread::sleep(SETTLE / 4);
    fs::remove_file(&deleted).unwrap();
    fs::write(folders.watched.join("control.png"), png_bytes(11)).unwrap();

    let received = collect(&rx, 1);
    let reports = ready(&received);
    assert_eq!(reports.len(), 1, "{reports:#?}");
    only_report_for(&reports, &folders.watched.join("control.png"));
    assert!(received.iter().any(|r| r.event == WatchEvent::Gone(deleted.clone())), "the deletion was not noted");
}

#[test]
fn files_present_before_start_are_found_by_the_initial_scan() {
    let folders = Folders::new();
    fs::write(folders.watched.join("early-1.png"), png_bytes(12)).unwrap();
    fs::write(folders.watched.join("early-2.jpg"), png_bytes(13)).unwrap(); // PNG content, judged by content
    fs::create_dir(folders.watched.join("sub")).unwrap();
    fs::write(folders.watched.join("sub/deep.png"), png_bytes(14)).unwrap();
    let (_watcher, rx) = start(folders.options());
    let reports = ready(&collect(&rx, 2));
    assert_eq!(reports.len(), 2, "non-recursive: the subfolder is not watched: {reports:#?}");
    only_report_for(&reports, &folders.watched.join("early-1.png"));
    assert_eq!(only_report_for(&reports, &folders.watched.join("early-2.jpg")).error, None);
}

#[test]
fn recursive_watch_finds_old_subfolders_and_files_in_new_ones() {
    let folders = Folders::new();
    fs::create_dir(folders.watched.join("old")).unwrap();
    fs::write(folders.watched.join("old/a.png"), png_bytes(15)).unwrap();
    let (_watcher, rx) = start(WatchOptions { recursive: true, ..folders.options() });
    // Created together with its folder, possibly before the folder's own watch exists.
    fs::create_dir_all(folders.watched.join("new/deeper")).unwrap();
    fs::write(folders.watched.join("new/deeper/b.png"), png_bytes(16)).unwrap();
    let reports = ready(&collect(&rx, 2));
    assert_eq!(reports.len(), 2, "{reports:#?}");
    only_report_for(&reports, &folders.watched.join("old/a.png"));
    only_report_for(&reports, &folders.watched.join("new/deeper/b.png"));
}

#[test]
fn polling_reports_a_copied_in_file() {
    let folders = Folders::new();
    let (watcher, rx) = start(WatchOptions { poll: Some(Duration::from_millis(100)), ..folders.options() });
    assert!(watcher.is_polling());
    let (staged, bytes) = folders.stage("polled.png", 17);
    fs::copy(&staged, folders.watched.join("polled.png")).unwrap();
    let reports = ready(&collect(&rx, 1));
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(only_report_for(&reports, &folders.watched.join("polled.png")).sha256, sha256_hex(&bytes));
}

#[test]
fn new_content_is_reported_again_but_a_touch_is_not() {
    let folders = Folders::new();
    let (_watcher, rx) = start(folders.options());
    let path = folders.watched.join("edited.png");
    fs::write(&path, png_bytes(18)).unwrap();
    let first = ready(&collect(&rx, 1));
    assert_eq!(first.len(), 1);
    fs::write(&path, png_bytes(19)).unwrap();
    let second = ready(&collect(&rx, 1));
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].sha256, sha256_hex(&png_bytes(19)));
    assert_ne!(first[0].sha256, second[0].sha256);
    let file = fs::File::options().write(true).open(&path).unwrap();
    file.set_modified(SystemTime::now() + Duration::from_secs(5)).unwrap();
    drop(file);
    assert!(ready(&collect(&rx, 0)).is_empty(), "an unchanged content was reported twice");
}

#[test]
fn dropping_the_watcher_stops_it_and_closes_the_channel() {
    let folders = Folders::new();
    let (watcher, rx) = start(folders.options());
    fs::write(folders.watched.join("pending.png"), png_bytes(20)).unwrap();
    drop(watcher);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(_) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => panic!("the worker thread is still running after drop"),
        }
    }
}

#[test]
fn a_missing_folder_is_an_error_naming_it() {
    let folders = Folders::new();
    let missing = folders.watched.join("nope");
    let error = FolderWatcher::start(WatchOptions::new(&missing)).err().expect("watching a missing folder started");
    assert!(error.to_string().contains("nope"), "{error}");
}
