;; A WASI command granted one directory (fd 3): opens `keep.txt` with
;; O_TRUNC and read/write rights, and exits with the errno (0: truncated,
;; 63 EPERM on a read-only grant).
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "keep.txt")
  (func (export "_start")
    (call $exit (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 8)
                  (i32.const 8) (i64.const 66) (i64.const 66) (i32.const 0) (i32.const 64)))))
