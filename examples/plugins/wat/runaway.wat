;; Misbehaves on purpose: loops forever, or recurses until the stack runs out.
(module $runaway
  (func $forever (export "forever") (loop $l (br $l)))
  (func $deeper (export "deeper") (param i32) (result i32)
    (call $deeper (i32.add (local.get 0) (i32.const 1))))
)
