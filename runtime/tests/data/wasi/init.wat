;; A reactor: `_initialize` counts its runs in a global, `runs` reports them.
(module
  (import "wasi_snapshot_preview1" "sched_yield" (func (result i32)))
  (memory (export "memory") 1)
  (global $runs (mut i32) (i32.const 0))
  (func (export "_initialize")
    (global.set $runs (i32.add (global.get $runs) (i32.const 1))))
  (func (export "runs") (result i32) (global.get $runs)))
