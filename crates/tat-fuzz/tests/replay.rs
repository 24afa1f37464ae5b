//! Every fuzz target over its seeds and over every input a fuzzer once crashed it with: the
//! short, deterministic half of `make fuzz`, run by the ordinary test suite.

use std::path::{Path, PathBuf};

use tat_fuzz::{checkpoint_parts, join, IDX_FILES, SHARED_DATA, TARGETS};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files_under(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        out.push(path.to_path_buf());
    } else if let Ok(entries) = std::fs::read_dir(path) {
        let mut entries: Vec<PathBuf> = entries.map(|e| e.expect("a readable folder").path()).collect();
        entries.sort();
        for entry in entries {
            files_under(&entry, out);
        }
    }
}

#[test]
fn every_target_runs_clean_on_its_seeds_and_past_crashes() {
    let root = repo();
    let require_data = std::env::var_os("TAT_REQUIRE_DATA").is_some();
    let mut failures = Vec::new();
    for target in TARGETS {
        let own = root.join("crates/tat-fuzz/seeds").join(target.name);
        let mut inputs = Vec::new();
        files_under(&own, &mut inputs);
        assert!(!inputs.is_empty(), "{}: no seeds in {}", target.name, own.display());
        files_under(&root.join("crates/tat-fuzz/regressions").join(target.name), &mut inputs);
        for also in target.also {
            let path = root.join(also);
            if !path.exists() {
                let shared = also.starts_with(SHARED_DATA);
                assert!(shared && !require_data, "{}: seed folder {} is missing", target.name, path.display());
                eprintln!("{}: skipping seeds in {} (no data there; see ../shared/data/README)", target.name, also);
                continue;
            }
            files_under(&path, &mut inputs);
        }
        for input in &inputs {
            let bytes = std::fs::read(input).expect("a seed file");
            if std::panic::catch_unwind(|| (target.run)(&bytes)).is_err() {
                failures.push(format!("{}: {}", target.name, input.display()));
            }
        }
        eprintln!("{}: {} inputs", target.name, inputs.len());
    }
    assert!(failures.is_empty(), "inputs that fail their target:\n{}", failures.join("\n"));
}

#[test]
fn the_checkpoint_target_starts_from_a_checkpoint_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let parts = checkpoint_parts();
    for (name, text) in &parts[1..] {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let loaded = tat_core::checkpoint::load(dir.path()).expect("the valid parts load");
    assert_eq!(loaded.tokenizer().unwrap().kind_name(), "wgsl");
    assert_eq!(tat_core::train::metrics::read_jsonl(&dir.path().join("metrics.jsonl")).unwrap().len(), 1);
}

#[test]
fn a_multi_file_input_splits_back_into_its_files() {
    let files: [&[u8]; 3] = [b"abc", b"", b"rest of it"];
    let input = join(7, &files);
    let (flags, back) = tat_fuzz::split(&input, 3);
    assert_eq!((flags, back), (7, files.to_vec()));
    // Lengths past the end are cut short rather than refused: every input is some set of files.
    let (_, short) = tat_fuzz::split(&[1, 200, 0, b'x'], 3);
    assert_eq!(short, vec![&b"x"[..], &b""[..], &b""[..]]);
}

/// The binary seeds (IDX sets, the checkpoint's files) as the code makes them. The IDX seeds on
/// disk must match; `TAT_WRITE_SEEDS=1 cargo test --release -p tat-fuzz binary_seeds` rewrites
/// them all (the checkpoint's files follow the config schema, so they are only checked present).
#[test]
fn binary_seeds_match_the_multi_file_layout() {
    use std::io::Write;
    let seeds = repo().join("crates/tat-fuzz/seeds");
    let idx = |dims: &[u32], data: &[u8]| {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    };
    let gz = |bytes: &[u8]| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    };
    let pixels = |n: usize| (0..n * 16).map(|i| (i * 37 % 256) as u8).collect::<Vec<u8>>();
    let labels = |n: usize| (0..n).map(|i| (i % 10) as u8).collect::<Vec<u8>>();
    let files =
        [idx(&[24, 4, 4], &pixels(24)), idx(&[24], &labels(24)), idx(&[6, 4, 4], &pixels(6)), idx(&[6], &labels(6))];
    assert_eq!(files.len(), IDX_FILES.len());
    let mut made: Vec<(PathBuf, Vec<u8>, bool)> = Vec::new();
    for (name, flags) in [("raw", 0u8), ("per_class_projected", 0b11_0000), ("gzipped", 0b1111), ("mixed", 0b0101)] {
        let owned: Vec<Vec<u8>> =
            files.iter().enumerate().map(|(i, f)| if flags & (1 << i) != 0 { gz(f) } else { f.clone() }).collect();
        let refs: Vec<&[u8]> = owned.iter().map(Vec::as_slice).collect();
        made.push((seeds.join("dataset_idx").join(name), join(flags, &refs), true));
    }
    for (i, (name, text)) in checkpoint_parts().iter().enumerate().skip(1) {
        let mut bytes = vec![i as u8];
        bytes.extend_from_slice(text.as_bytes());
        made.push((seeds.join("checkpoint_files").join(name), bytes, false));
    }
    let mut sums = vec![0u8];
    sums.extend_from_slice(br#"{"files": {"config.toml": {"bytes": 10, "crc32": "0badf00d"}}}"#);
    made.push((seeds.join("checkpoint_files").join("checksums.json"), sums, false));
    let write = std::env::var_os("TAT_WRITE_SEEDS").is_some();
    for (path, bytes, exact) in made {
        if write {
            std::fs::write(&path, &bytes).unwrap();
        } else if exact {
            assert_eq!(std::fs::read(&path).ok(), Some(bytes), "{} is stale. Fix: TAT_WRITE_SEEDS=1", path.display());
        } else {
            assert!(path.is_file(), "{} is missing. Fix: TAT_WRITE_SEEDS=1", path.display());
        }
    }
}
