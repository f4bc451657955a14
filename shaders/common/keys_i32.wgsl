// Order keys of i32: by value.
fn key_min(x: T) -> u32 {
    return bitcast<u32>(x) ^ 0x80000000u;
}
// Inverted, so that a minimum of keys is a maximum of values.
fn key_max_inv(x: T) -> u32 {
    return ~(bitcast<u32>(x) ^ 0x80000000u);
}
