// Order keys of u32: the value itself.
fn key_min(x: T) -> u32 {
    return x;
}
// Inverted, so that a minimum of keys is a maximum of values.
fn key_max_inv(x: T) -> u32 {
    return ~x;
}
// Sort keys: the value itself.
fn sort_key(x: T) -> u32 {
    return x;
}
fn from_sort_key(k: u32) -> T {
    return k;
}
