//! Integration tests live in `tests/it/` (one test binary with modules).
