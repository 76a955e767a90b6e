//! `vrrpd`: the vrrp-rs daemon and operator CLI.
fn main() {}
