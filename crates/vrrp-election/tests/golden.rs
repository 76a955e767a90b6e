//! Golden conformance tests (placeholder until the runner lands).
