//! The on-disk compiled-module cache: hits, misses, stale and corrupt entries.

use crate::common::*;

#[test]
fn second_load_comes_from_cache() {
    let dir = scratch_dir("hit");
    let first = cached_builder(&dir).build().unwrap();
    let p = first.load_wat("good", GOOD).unwrap();
    assert!(!p.from_cache());
    let path = first.cache_path(&wat::parse_str(GOOD).unwrap()).unwrap();
    assert!(path.exists());

    // A new host with the same configuration reuses the artifact.
    let second = cached_builder(&dir).build().unwrap();
    let p = second.load_wat("good", GOOD).unwrap();
    assert!(p.from_cache());
    let mut inst = p.instantiate(Journal::default()).unwrap();
    assert_eq!(inst.call::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);
    assert_good_plugin_runs(&second);
    remove_cache(&dir);
}

#[test]
fn different_engine_config_never_loads_stale_artifact() {
    let dir = scratch_dir("stale");
    let plain = cached_builder(&dir).build().unwrap();
    assert!(!plain.load_wat("good", GOOD).unwrap().from_cache());
    // Fuel metering changes the generated code: it must be a different entry.
    let fueled = cached_builder(&dir).enable_fuel().build().unwrap();
    let binary = wat::parse_str(GOOD).unwrap();
    assert_ne!(plain.cache_path(&binary), fueled.cache_path(&binary));
    assert!(!fueled.load_wat("good", GOOD).unwrap().from_cache());
    assert!(fueled.load_wat("good", GOOD).unwrap().from_cache());

    // Even an entry planted under the fueled host's file name is refused,
    // because the envelope's key doesn't match.
    std::fs::copy(
        plain.cache_path(&binary).unwrap(),
        fueled.cache_path(&binary).unwrap(),
    )
    .unwrap();
    let p = fueled.load_wat("good", GOOD).unwrap();
    assert!(!p.from_cache());
    let mut inst = p.instantiate(Journal::default()).unwrap();
    assert_eq!(inst.call::<(i32, i32), i32>("add", (2, 3)).unwrap(), 5);
    remove_cache(&dir);
}

#[test]
fn corrupt_cache_file_is_a_miss() {
    let dir = scratch_dir("corrupt");
    let host = cached_builder(&dir).build().unwrap();
    host.load_wat("good", GOOD).unwrap();
    let path = host.cache_path(&wat::parse_str(GOOD).unwrap()).unwrap();
    let pristine = std::fs::read(&path).unwrap();

    let mut flipped = pristine.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 0x40;
    let truncated = pristine[..pristine.len() - 100].to_vec();
    let garbage = b"not a cache file at all".to_vec();
    for (what, bytes) in [
        ("flipped", flipped),
        ("truncated", truncated),
        ("garbage", garbage),
        ("empty", vec![]),
    ] {
        std::fs::write(&path, &bytes).unwrap();
        let p = host
            .load_wat("good", GOOD)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(!p.from_cache(), "{what} entry was used");
        let mut inst = p.instantiate(Journal::default()).unwrap();
        assert_eq!(
            inst.call::<(i32, i32), i32>("add", (2, 3)).unwrap(),
            5,
            "{what}"
        );
        // The recompiled module replaced the bad entry.
        assert_eq!(
            std::fs::read(&path).unwrap().len(),
            pristine.len(),
            "{what}"
        );
        assert!(host.load_wat("good", GOOD).unwrap().from_cache(), "{what}");
    }
    remove_cache(&dir);
}

#[test]
fn unwritable_cache_dir_still_loads() {
    let dir = scratch_dir("ro");
    // A file where the directory should be: every cache write fails.
    let blocker = dir.join("blocked");
    std::fs::write(&blocker, b"").unwrap();
    let warnings = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = warnings.clone();
    let host = cached_builder(&blocker)
        .on_cache_warning(move |w| sink.lock().unwrap().push(w.to_string()))
        .build()
        .unwrap();
    assert!(!host.load_wat("good", GOOD).unwrap().from_cache());
    assert_good_plugin_runs(&host);
    // One problem, one warning, however often it is hit.
    let warnings = warnings.lock().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("blocked"), "{warnings:?}");
    remove_cache(&dir);
}
