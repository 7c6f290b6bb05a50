;; A plugin that follows the guest contract (docs/guest-contract.md) by
;; hand: an arena allocator behind `cabi_realloc`, reset by the
;; `cabi_post_*` exports once the host has copied a result out.
;;
;;   upper   ASCII-uppercases its input
;;   echo    returns its input unchanged
;;   fail    returns an error result, "bad input: " and the input
;;   heap_top / heap_base   the arena, for tests that watch it stay flat
(module
  (memory (export "memory") 1)
  ;; 0..16 unused, 16..28 the result area, the arena from 1024 up.
  (global $base i32 (i32.const 1024))
  (global $top (mut i32) (i32.const 1024))
  (data (i32.const 64) "bad input: ")

  (func $realloc (export "cabi_realloc")
    (param $old i32) (param $old_size i32) (param $align i32) (param $size i32)
    (result i32)
    (local $p i32) (local $end i32) (local $have i32)
    ;; p = top rounded up to align (a power of two)
    (local.set $p
      (i32.and
        (i32.add (global.get $top) (i32.sub (local.get $align) (i32.const 1)))
        (i32.sub (i32.const 0) (local.get $align))))
    (local.set $end (i32.add (local.get $p) (local.get $size)))
    (local.set $have (i32.shl (memory.size) (i32.const 16)))
    (if (i32.gt_u (local.get $end) (local.get $have))
      (then
        (if (i32.eq
              (memory.grow
                (i32.shr_u
                  (i32.add (i32.sub (local.get $end) (local.get $have)) (i32.const 65535))
                  (i32.const 16)))
              (i32.const -1))
          (then unreachable))))
    (if (local.get $old)
      (then (memory.copy (local.get $p) (local.get $old)
              (select (local.get $old_size) (local.get $size)
                (i32.lt_u (local.get $old_size) (local.get $size))))))
    (global.set $top (local.get $end))
    (local.get $p))

  (func $ok (param $ptr i32) (param $len i32) (result i32)
    (i32.store8 (i32.const 16) (i32.const 0))
    (i32.store (i32.const 20) (local.get $ptr))
    (i32.store (i32.const 24) (local.get $len))
    (i32.const 16))

  (func (export "upper") (param $in i32) (param $len i32) (result i32)
    (local $out i32) (local $i i32) (local $c i32)
    (local.set $out (call $realloc (i32.const 0) (i32.const 0) (i32.const 1) (local.get $len)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (local.get $in) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97))
                     (i32.le_u (local.get $c) (i32.const 122)))
          (then (local.set $c (i32.sub (local.get $c) (i32.const 32)))))
        (i32.store8 (i32.add (local.get $out) (local.get $i)) (local.get $c))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $ok (local.get $out) (local.get $len)))

  (func (export "echo") (param $in i32) (param $len i32) (result i32)
    (call $ok (local.get $in) (local.get $len)))

  (func (export "fail") (param $in i32) (param $len i32) (result i32)
    (local $msg i32)
    (local.set $msg (call $realloc (i32.const 0) (i32.const 0) (i32.const 1)
      (i32.add (local.get $len) (i32.const 11))))
    (memory.copy (local.get $msg) (i32.const 64) (i32.const 11))
    (memory.copy (i32.add (local.get $msg) (i32.const 11)) (local.get $in) (local.get $len))
    (i32.store8 (i32.const 16) (i32.const 1))
    (i32.store (i32.const 20) (local.get $msg))
    (i32.store (i32.const 24) (i32.add (local.get $len) (i32.const 11)))
    (i32.const 16))

  ;; The input and the result live in the arena: both are freed at once.
  (func $free_all (param i32) (global.set $top (global.get $base)))
  (export "cabi_post_upper" (func $free_all))
  (export "cabi_post_echo" (func $free_all))
  (export "cabi_post_fail" (func $free_all))

  (func (export "heap_top") (result i32) (global.get $top))
  (func (export "heap_base") (result i32) (global.get $base))
)
