;; A WASI command whose one `poll_oneoff` waits an hour on a relative
;; monotonic clock: only a limit that ends host waits stops it.
;; Subscription at 0 (48 bytes): userdata u64 at 0, tag u8 at 8 (0 = clock),
;; clock id u32 at 16 (1 = monotonic), timeout u64 at 24, precision u64 at
;; 32, flags u16 at 40 (0 = relative). The event is written at 128.
(module
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 3600000000000))
    (drop (call $poll (i32.const 0) (i32.const 64) (i32.const 1) (i32.const 128)))))
