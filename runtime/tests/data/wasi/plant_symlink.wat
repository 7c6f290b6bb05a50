;; A WASI command granted one read-write directory (fd 3) that plants
;; `result.txt -> ../secret.txt`, a relative link pointing outside its
;; grant, and exits with `path_symlink`'s errno (0: the link was made).
(module
  (import "wasi_snapshot_preview1" "path_symlink"
    (func $symlink (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "../secret.txt")
  (data (i32.const 64) "result.txt")
  (func (export "_start")
    (call $exit (call $symlink (i32.const 16) (i32.const 13) (i32.const 3) (i32.const 64) (i32.const 10)))))
