//! Limits a plugin could once step around: caps that
//! applied per memory or per table instead of per instance, and a deadline
//! whose tick count wrapped.

use crate::common::*;

use spindle_runtime::{ErrorKind, Limits};
use std::path::Path;
use std::time::Duration;

fn multimem() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/multimem.wat"))
        .unwrap()
}

#[test]
fn memory_cap_is_a_total_over_all_memories() {
    // 64 memories of 16 MiB each ran under a 16 MiB cap (1.08 GB RSS).
    let host = host();
    let plugin = host.load_wat("multimem.wat", &multimem()).unwrap();
    let cap = 16 << 20;
    let err = plugin
        .instantiate_with(Journal::default(), Limits::new().max_memory_bytes(cap))
        .err()
        .expect("64 x 16 MiB instantiated under a 16 MiB cap");
    match err.kind() {
        ErrorKind::MemoryLimit {
            requested, limit, ..
        } => {
            assert_eq!(*limit, cap);
            assert_eq!(*requested, 2 * cap, "the second memory is refused");
        }
        other => panic!("{other}"),
    }
    // Room for all of them: instantiates and runs.
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().max_memory_bytes(64 * cap))
        .unwrap();
    inst.call::<(), ()>("touch", ()).unwrap();
    assert_good_plugin_runs(&host);
}

#[test]
fn number_of_memories_and_tables_is_capped() {
    let host = host();
    let plugin = host.load_wat("multimem.wat", &multimem()).unwrap();
    let err = plugin
        .instantiate_with(Journal::default(), Limits::new().max_memories(4))
        .err()
        .unwrap();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::TooManyMemories {
                count: 64,
                limit: 4
            }
        ),
        "{err}"
    );
    let tables = hundred_tables();
    let plugin = host.load_wat("tables", &tables).unwrap();
    let err = plugin
        .instantiate_with(Journal::default(), Limits::new().max_tables(10))
        .err()
        .unwrap();
    assert!(
        matches!(
            err.kind(),
            ErrorKind::TooManyTables {
                count: 100,
                limit: 10
            }
        ),
        "{err}"
    );
    assert!(
        plugin
            .instantiate_with(Journal::default(), Limits::new().max_tables(100))
            .is_ok()
    );
}

/// 100 empty tables and `g`, which grows each by 1000 elements and returns
/// how many grows succeeded.
fn hundred_tables() -> String {
    let mut wat = String::from("(module ");
    for k in 0..100 {
        wat += &format!("(table $t{k} 0 funcref) ");
    }
    wat += "(func (export \"g\") (result i32) (local $s i32) ";
    for k in 0..100 {
        wat += &format!(
            "(local.set $s (i32.add (local.get $s) (i32.add (i32.const 1) \
             (table.grow $t{k} (ref.null func) (i32.const 1000))))) "
        );
    }
    wat + "(local.get $s)))"
}

#[test]
fn table_cap_is_a_total_over_all_tables() {
    // 100 tables each grew to 1000 under max_table_elements(1000).
    let host = host();
    let plugin = host.load_wat("tables", &hundred_tables()).unwrap();
    let mut inst = plugin
        .instantiate_with(Journal::default(), Limits::new().max_table_elements(1000))
        .unwrap();
    let err = inst.call::<(), i32>("g", ()).map(|grown| grown * 1000);
    match err.map_err(|e| e.into_kind()) {
        Err(ErrorKind::TableLimit {
            requested, limit, ..
        }) => assert_eq!((requested, limit), (2000, 1000)),
        other => panic!("expected TableLimit, got {other:?}"),
    }
    let mut roomy = plugin
        .instantiate_with(
            Journal::default(),
            Limits::new().max_table_elements(100_000),
        )
        .unwrap();
    assert_eq!(roomy.call::<(), i32>("g", ()).unwrap(), 100);
}

#[test]
fn a_deadline_of_duration_max_never_fires() {
    // The tick count wrapped: Duration::MAX fired after 3.4 ms. This loop
    // runs far longer than that (about 10^8 iterations) and must finish.
    let host = host();
    let plugin = host
        .load_wat(
            "loop",
            r#"(module (func (export "count") (param i32) (result i32) (local i32)
                (loop $l (local.set 1 (i32.add (local.get 1) (i32.const 1)))
                  (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
                (local.get 1)))"#,
        )
        .unwrap();
    for deadline in [Duration::MAX, Duration::from_secs(184_467_440_737_095_520)] {
        let mut inst = plugin
            .instantiate_with(Journal::default(), Limits::new().deadline(deadline))
            .unwrap();
        assert_eq!(
            inst.call::<i32, i32>("count", 100_000_000).unwrap(),
            100_000_000,
            "{deadline:?}"
        );
    }
}
