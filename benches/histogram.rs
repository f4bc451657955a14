//! Placeholder until the histogram bench lands (issue 3); runs nothing.
fn main() {}
