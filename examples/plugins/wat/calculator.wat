;; Pure computation, no imports.
(module $calculator
  (func (export "add") (param i32 i32) (result i32)
    local.get 0 local.get 1 i32.add)
  (func $gcd (export "gcd") (param i64 i64) (result i64)
    (if (result i64) (i64.eqz (local.get 1))
      (then (local.get 0))
      (else (call $gcd (local.get 1) (i64.rem_u (local.get 0) (local.get 1))))))
)
