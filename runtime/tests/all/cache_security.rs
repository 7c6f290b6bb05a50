//! The compile cache against a local user who can write the cache directory
//! (reproductions from a security audit): forged entries,
//! planted symlinks, 64-bit key collisions, and untrusted directories.
//! Every entry a test plants is built to be accepted by the old checks, so a
//! cache that trusts the directory fails here.

use crate::common::*;

use std::hash::Hasher;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Returns 42 through `mov eax, 42`, which the forgery test patches.
const FORTY_TWO: &str = r#"(module (func (export "f") (result i32) i32.const 42))"#;

fn forty_two(host: &spindle_runtime::Host<Journal>) -> (bool, i32) {
    let p = host.load_wat("f42", FORTY_TWO).unwrap();
    let r = p
        .instantiate(Journal::default())
        .unwrap()
        .call::<(), i32>("f", ())
        .unwrap();
    (p.from_cache(), r)
}

fn warnings() -> (
    Arc<Mutex<Vec<String>>>,
    impl Fn(&str) + Send + Sync + 'static,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    (seen, move |m: &str| {
        sink.lock().unwrap().push(m.to_string())
    })
}

#[test]
fn forged_entry_with_recomputed_checksum_is_rejected() {
    let dir = scratch_dir("forge");
    let host = cached_builder(&dir).build().unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    let path = host
        .cache_path(&wat::parse_str(FORTY_TWO).unwrap())
        .unwrap();
    let mut file = std::fs::read(&path).unwrap();

    // Patch the machine code: `mov eax, 42` becomes `mov eax, 7`.
    let pat = [0xb8u8, 0x2a, 0, 0, 0];
    let at = file
        .windows(5)
        .position(|w| w == pat)
        .expect("`mov eax, 42` in the compiled code (x86-64)");
    file[at + 1] = 7;
    // Recompute every checksum an attacker without the key can compute:
    // the unkeyed DefaultHasher of the old envelope (payload at 32, sum at
    // 16), or, in the keyed envelope (tag at 48, payload at 80), a SHA-256
    // or an HMAC under an all-zero key.
    if &file[..8] == b"SPNDLC01" {
        let mut h = std::hash::DefaultHasher::new();
        h.write(&file[32..]);
        let sum = h.finish().to_le_bytes();
        file[16..24].copy_from_slice(&sum);
        std::fs::write(&path, &file).unwrap();
        assert_eq!(
            forty_two(&cached_builder(&dir).build().unwrap()),
            (false, 42)
        );
    } else {
        use hmac::Mac;
        use sha2::Digest;
        let mut candidates: Vec<[u8; 32]> = vec![sha2::Sha256::digest(&file[80..]).into()];
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&[0; 32]).unwrap();
        mac.update(&file[..40]);
        mac.update(&file[40..48]);
        mac.update(&file[80..]);
        candidates.push(mac.finalize().into_bytes().into());
        for tag in candidates {
            file[48..80].copy_from_slice(&tag);
            std::fs::write(&path, &file).unwrap();
            let fresh = cached_builder(&dir).build().unwrap();
            assert_eq!(forty_two(&fresh), (false, 42), "forged entry was used");
        }
    }
    // The fresh compile replaced the forgery with a good entry.
    assert_eq!(
        forty_two(&cached_builder(&dir).build().unwrap()),
        (true, 42)
    );
    remove_cache(&dir);
}

#[test]
fn entry_from_another_key_is_rejected() {
    // Same directory, a different user's (here: a different) key file: the
    // entry is authentic for them, not for us.
    let dir = scratch_dir("otherkey");
    assert_eq!(
        forty_two(&cached_builder(&dir).build().unwrap()),
        (false, 42)
    );
    let other_keys = dir.with_extension("other-keydir");
    let other = builder()
        .cache_dir(&dir)
        .cache_key_file(other_keys.join("cache.key"))
        .build()
        .unwrap();
    assert_eq!(forty_two(&other), (false, 42));
    let _ = std::fs::remove_dir_all(&other_keys);
    remove_cache(&dir);
}

#[test]
fn symlinks_planted_at_temp_names_do_not_redirect_writes() {
    let dir = scratch_dir("tmplink");
    let victim = dir.with_extension("victim");
    std::fs::write(&victim, b"precious").unwrap();
    let host = cached_builder(&dir).build().unwrap();
    let binary = wat::parse_str(FORTY_TWO).unwrap();
    let entry = host.cache_path(&binary).unwrap();
    let stem = entry.file_stem().unwrap().to_str().unwrap().to_string();
    // Every name a `.<key>.<pid>.<seq>.tmp` scheme would use in this process.
    for seq in 0..2000 {
        let tmp = dir.join(format!(".{stem}.{}.{seq}.tmp", std::process::id()));
        std::os::unix::fs::symlink(&victim, tmp).unwrap();
    }
    assert_eq!(forty_two(&host), (false, 42));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let meta = std::fs::symlink_metadata(&entry).expect("entry written");
    assert!(
        meta.file_type().is_file(),
        "entry is {:?}",
        meta.file_type()
    );
    assert_eq!(meta.mode() & 0o777, 0o600);
    assert_eq!(
        forty_two(&cached_builder(&dir).build().unwrap()),
        (true, 42)
    );
    let _ = std::fs::remove_file(victim);
    remove_cache(&dir);
}

#[test]
fn symlink_planted_at_the_entry_is_neither_read_nor_written_through() {
    let dir = scratch_dir("entrylink");
    let host = cached_builder(&dir).build().unwrap();
    let binary = wat::parse_str(FORTY_TWO).unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    let entry = host.cache_path(&binary).unwrap();
    // The target is a perfectly valid entry, so only refusing the symlink
    // itself keeps it from being loaded.
    let victim = dir.with_extension("victim");
    std::fs::copy(&entry, &victim).unwrap();
    let pristine = std::fs::read(&victim).unwrap();
    std::fs::remove_file(&entry).unwrap();
    std::os::unix::fs::symlink(&victim, &entry).unwrap();

    let (seen, sink) = warnings();
    let host = cached_builder(&dir).on_cache_warning(sink).build().unwrap();
    assert_eq!(forty_two(&host), (false, 42), "loaded through a symlink");
    assert_eq!(std::fs::read(&victim).unwrap(), pristine, "victim changed");
    assert!(
        std::fs::symlink_metadata(&entry)
            .unwrap()
            .file_type()
            .is_file(),
        "the symlink was replaced by our own entry"
    );
    let seen = seen.lock().unwrap();
    assert!(seen.iter().any(|w| w.contains("symbolic link")), "{seen:?}");
    let _ = std::fs::remove_file(victim);
    remove_cache(&dir);
}

fn load_and_call(host: &spindle_runtime::Host<Journal>, file: &str) -> (bool, i64, i64) {
    let bytes = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data")
            .join(file),
    )
    .unwrap();
    let own = i64::from_le_bytes(bytes[bytes.len() - 8..].try_into().unwrap());
    let p = host.load_bytes(file, &bytes).unwrap();
    let r = p
        .instantiate(Journal::default())
        .unwrap()
        .call::<(), i64>("f", ())
        .unwrap();
    (p.from_cache(), r, own)
}

#[test]
fn colliding_64_bit_keys_do_not_share_an_entry() {
    // A.wasm and B.wasm differ in 8 data bytes and collided under the old
    // 64-bit DefaultHasher key on the audit's machine (found in 40 s on 2
    // cores). That key also hashed the engine's compatibility hash, which
    // depends on the host CPU's features, so the pair collides only where
    // that hash is the audit machine's; what holds everywhere is that the
    // SHA-256 names differ and each plugin runs its own code.
    let dir = scratch_dir("collide");
    let host = cached_builder(&dir).build().unwrap();
    let (cached, r, own) = load_and_call(&host, "B.wasm");
    assert!(!cached);
    assert_eq!(r, own);
    let (cached, r, own) = load_and_call(&host, "A.wasm");
    assert_eq!(r, own, "A.wasm ran B.wasm's code");
    assert!(!cached);
    let a = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/A.wasm")).unwrap();
    let b = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/B.wasm")).unwrap();
    assert_ne!(host.cache_path(&a), host.cache_path(&b));
    remove_cache(&dir);
}

#[test]
fn world_writable_directory_gets_no_entry_but_the_plugin_runs() {
    let dir = scratch_dir("worldw");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (seen, sink) = warnings();
    let host = cached_builder(&dir).on_cache_warning(sink).build().unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    assert_eq!(forty_two(&host), (false, 42));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "an entry was written"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one warning per host: {seen:?}");
    assert!(
        seen[0].contains("0777") && seen[0].contains("write"),
        "{seen:?}"
    );
    // The same for group-writable.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770)).unwrap();
    assert_eq!(
        forty_two(
            &cached_builder(&dir)
                .on_cache_warning(|_| {})
                .build()
                .unwrap()
        ),
        (false, 42)
    );
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    remove_cache(&dir);
}

#[test]
fn private_directory_gets_an_entry_and_is_created_0700() {
    let parent = scratch_dir("private");
    let dir = parent.join("cache");
    let (seen, sink) = warnings();
    let host = cached_builder(&dir).on_cache_warning(sink).build().unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    let meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(meta.mode() & 0o777, 0o700);
    let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
    assert_eq!(entries.len(), 1, "exactly the entry, no temp file left");
    let key = std::fs::metadata(key_file_for(&dir)).unwrap();
    assert_eq!(key.mode() & 0o777, 0o600);
    assert_eq!(key.len(), 32);
    assert_eq!(
        forty_two(&cached_builder(&dir).build().unwrap()),
        (true, 42)
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
    remove_cache(&dir);
    let _ = std::fs::remove_dir_all(parent);
}

#[test]
fn entries_and_directories_of_another_user_are_refused() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        crate::common::not_run(
            "entries_and_directories_of_another_user_are_refused: only root \
             can chown a file to another user; the group/other-writable cases are \
             tested elsewhere",
        );
        return;
    }
    let dir = scratch_dir("foreign");
    let host = cached_builder(&dir).build().unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    let entry = host
        .cache_path(&wat::parse_str(FORTY_TWO).unwrap())
        .unwrap();
    // An authentic entry, but owned by someone else (uid 65534, `nobody`).
    std::os::unix::fs::chown(&entry, Some(65534), None).unwrap();
    let (seen, sink) = warnings();
    let h = cached_builder(&dir).on_cache_warning(sink).build().unwrap();
    assert_eq!(forty_two(&h), (false, 42));
    assert!(seen.lock().unwrap().iter().any(|w| w.contains("uid 65534")));
    // A directory owned by someone else: not used at all.
    std::os::unix::fs::chown(&dir, Some(65534), None).unwrap();
    let (seen, sink) = warnings();
    let h = cached_builder(&dir).on_cache_warning(sink).build().unwrap();
    assert_eq!(forty_two(&h), (false, 42));
    assert!(seen.lock().unwrap()[0].contains("compile cache directory"));
    remove_cache(&dir);
}

#[test]
fn key_file_must_be_private_and_outside_the_cache() {
    let dir = scratch_dir("keyfile");
    // Readable by others: refused, the cache stays off, the plugin runs.
    let key = key_file_for(&dir);
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (seen, sink) = warnings();
    let host = cached_builder(&dir).on_cache_warning(sink).build().unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    assert_eq!(forty_two(&host), (false, 42));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert!(
            seen[0].contains("cache key file") && seen[0].contains("read"),
            "{seen:?}"
        );
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    // Inside the cache directory: refused.
    let (seen, sink) = warnings();
    let host = builder()
        .cache_dir(&dir)
        .cache_key_file(dir.join("cache.key"))
        .on_cache_warning(sink)
        .build()
        .unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    assert!(seen.lock().unwrap()[0].contains("inside the cache directory"));
    assert!(!dir.join("cache.key").exists());
    remove_cache(&dir);
}

/// A key path whose parent is a symlink to the cache directory names a file
/// inside it: compared after resolving symlinks, it is refused (the audit
/// saw it created there and used silently).
#[test]
fn key_file_through_a_symlink_into_the_cache_is_refused() {
    let dir = scratch_dir("keylink");
    let link = dir.with_extension("keylink-cfg");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(&dir, &link).unwrap();
    let (seen, sink) = warnings();
    let host = builder()
        .cache_dir(&dir)
        .cache_key_file(link.join("cache.key"))
        .on_cache_warning(sink)
        .build()
        .unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    assert_eq!(forty_two(&host), (false, 42));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].starts_with("compile cache disabled: the cache key file")
            && seen[0].contains("is inside the cache directory"),
        "{seen:?}"
    );
    // Nothing was written: no key, no entry.
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
    let _ = std::fs::remove_file(&link);
    remove_cache(&dir);
}

/// The key's directory is checked like the cache directory: one that others
/// can write lets them replace the key, so it turns the cache off.
#[test]
fn key_file_in_a_directory_others_can_write_is_refused() {
    let dir = scratch_dir("keydirmode");
    let keys = dir.with_extension("open-keydir");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (seen, sink) = warnings();
    let host = builder()
        .cache_dir(&dir)
        .cache_key_file(keys.join("cache.key"))
        .on_cache_warning(sink)
        .build()
        .unwrap();
    assert_eq!(forty_two(&host), (false, 42));
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0].contains("the cache key's directory")
            && seen[0].contains("lets group or others write it"),
        "{seen:?}"
    );
    assert!(!keys.join("cache.key").exists());
    let _ = std::fs::remove_dir_all(&keys);
    remove_cache(&dir);
}
