//! Placeholder until the scan bench lands (issue 3); runs nothing.
fn main() {}
