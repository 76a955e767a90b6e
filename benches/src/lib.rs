//! Benchmark harnesses for vrrp-rs (see docs/performance.md).
