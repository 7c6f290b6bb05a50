;; proc_exit from a command's `_start` (code from the global, set by
;; `set_code`) and from exports with and without results.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $code (mut i32) (i32.const 3))
  (func (export "set_code") (param i32) (global.set $code (local.get 0)))
  (func (export "_start") (call $exit (global.get $code)))
  (func (export "exit") (param i32) (call $exit (local.get 0)))
  (func (export "exit_with_result") (param i32) (result i32)
    (call $exit (local.get 0)) (i32.const 42)))
