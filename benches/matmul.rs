//! Placeholder until the matmul bench lands (issue 3); runs nothing.
fn main() {}
