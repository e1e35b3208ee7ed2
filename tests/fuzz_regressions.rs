//! Replays every kept fuzz input through the fuzz targets' own bodies
//! (`ip_conntrack::fuzzing`): the crash inputs and hand-made nasty inputs
//! of `fuzz/regressions/TARGET/`, and the minimized corpus of
//! `fuzz/corpus/TARGET/` that `make fuzz` keeps. A panic in any of them
//! fails the test, naming the file.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};

use ip_conntrack::fuzzing::{run, TARGETS};

/// Every file under `dir/TARGET/` for each fuzz target, sorted.
fn inputs(dir: &str) -> Vec<(&'static str, PathBuf)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut all = Vec::new();
    for (name, _) in TARGETS {
        let Ok(rd) = fs::read_dir(root.join(name)) else { continue };
        let mut files: Vec<PathBuf> =
            rd.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
        files.sort();
        all.extend(files.into_iter().map(|p| (name, p)));
    }
    all
}

/// Runs each input; returns the ones that panicked.
fn replay(list: &[(&'static str, PathBuf)]) -> Vec<String> {
    let mut failed = Vec::new();
    for (target, path) in list {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if panic::catch_unwind(|| assert!(run(target, &data), "no target {target}")).is_err() {
            failed.push(format!("{target}: {}", path.display()));
        }
    }
    failed
}

#[test]
fn regression_inputs_do_not_panic() {
    let list = inputs("fuzz/regressions");
    // The hand-made inputs alone give each target several.
    for (name, _) in TARGETS {
        let n = list.iter().filter(|(t, _)| *t == name).count();
        assert!(n >= 5, "only {n} regression inputs for {name} in fuzz/regressions/{name}/");
    }
    let failed = replay(&list);
    assert!(failed.is_empty(), "fuzz regressions panic:\n{}", failed.join("\n"));
}

#[test]
fn kept_corpus_does_not_panic() {
    let list = inputs("fuzz/corpus");
    assert!(!list.is_empty(), "no corpus in fuzz/corpus/");
    let failed = replay(&list);
    assert!(failed.is_empty(), "fuzz corpus inputs panic:\n{}", failed.join("\n"));
}

/// Every directory under fuzz/regressions and fuzz/corpus names a target,
/// so inputs are never silently skipped.
#[test]
fn input_directories_name_targets() {
    for dir in ["fuzz/regressions", "fuzz/corpus"] {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
        for e in fs::read_dir(&root).unwrap_or_else(|e| panic!("{dir}: {e}")).filter_map(Result::ok) {
            if e.path().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(TARGETS.iter().any(|(t, _)| *t == name), "{dir}/{name}/ is not a fuzz target");
            }
        }
    }
}

/// The replay really fails on a panicking input: a target's body panics
/// on an invariant it checks, and the harness reports it.
#[test]
fn replay_reports_a_panic() {
    let dir = std::env::temp_dir().join(format!("ipct-fuzz-replay-{}", std::process::id()));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    let bad = dir.join("bad");
    fs::write(&bad, b"x").unwrap_or_else(|e| panic!("{e}"));
    let failed = replay(&[("no-such-target", bad)]);
    let _ = fs::remove_dir_all(&dir);
    assert_eq!(failed.len(), 1);
}
