;; Imports one real WASI preview 1 function and one that does not exist
;; (a typo of fd_write): the import report names the second as unknown.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (import "wasi_snapshot_preview1" "fd_writ" (func (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1))
