;; Keeps its state in the host: every call bumps the per-instance visit count.
(module $counter
  (import "spindle" "visits" (func $visits (param i32) (result i32)))
  (func (export "tick") (result i32) (call $visits (i32.const 1)))
  (func (export "tick_by") (param i32) (result i32) (call $visits (local.get 0)))
)
