// Order keys of i32: by value.
fn key_min(x: T) -> u32 {
    return bitcast<u32>(x) ^ 0x80000000u;
}
// Inverted, so that a minimum of keys is a maximum of values.
fn key_max_inv(x: T) -> u32 {
    return ~(bitcast<u32>(x) ^ 0x80000000u);
}
// Sort keys: ascending by value.
fn sort_key(x: T) -> u32 {
    return bitcast<u32>(x) ^ 0x80000000u;
}
fn from_sort_key(k: u32) -> T {
    return bitcast<T>(k ^ 0x80000000u);
}
