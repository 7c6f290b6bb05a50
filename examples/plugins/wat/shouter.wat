;; Reads a string the host put in its memory, upper-cases it in place and
;; hands it back through the host's `log`.
(module $shouter
  (import "spindle" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (func (export "input_ptr") (result i32) (i32.const 1024))
  (func (export "shout") (param $len i32) (local $i i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $c (i32.load8_u (i32.add (i32.const 1024) (local.get $i))))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 97)) (i32.le_u (local.get $c) (i32.const 122)))
          (then (i32.store8 (i32.add (i32.const 1024) (local.get $i)) (i32.sub (local.get $c) (i32.const 32)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $next)))
    (call $log (i32.const 1024) (local.get $len)))
)
