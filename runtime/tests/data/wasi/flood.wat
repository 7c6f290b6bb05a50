;; Writes 1 KiB to stdout (fd 1) or stderr (fd 2), `n` times, with fd_write;
;; returns the errno of the last write.
(module
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; iovec at 0: [ptr 64, len 1024]; written count at 8; data at 64.
  (data (i32.const 0) "\40\00\00\00\00\04\00\00")
  (func (export "flood") (param $fd i32) (param $n i32) (result i32) (local $err i32)
    (memory.fill (i32.const 64) (i32.const 0x61) (i32.const 1024))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $err
          (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $err)))
