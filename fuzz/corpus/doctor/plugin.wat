(module
  (import "spindle" "log" (func (param i32 i32)))
  (import "env" "missing" (func (result i64)))
  (memory (export "memory") 1)
  (func (export "run") (param i32) (result i32) (local.get 0)))
