//! Integration tests and the LTO matrix harness.
