//! Placeholder until the sort bench lands (issue 3); runs nothing.
fn main() {}
