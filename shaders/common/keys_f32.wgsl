// Order keys of f32: IEEE total order, -0 < +0; NaN maps to the identity.
// NaN is detected from the bits: `x != x` may compile to an ordered compare
// (false for NaN) on some drivers, lavapipe among them.
fn is_nan_bits(b: u32) -> bool {
    return (b & 0x7fffffffu) > 0x7f800000u;
}
fn order_key(b: u32) -> u32 {
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn key_min(x: T) -> u32 {
    let b = bitcast<u32>(x);
    return select(order_key(b), 0xffffffffu, is_nan_bits(b));
}
// Inverted, so that a minimum of keys is a maximum of values.
fn key_max_inv(x: T) -> u32 {
    let b = bitcast<u32>(x);
    return select(~order_key(b), 0xffffffffu, is_nan_bits(b));
}
// Sort keys: IEEE total order with NaN included (-NaN first, +NaN last), as f32::total_cmp.
fn sort_key(x: T) -> u32 {
    return order_key(bitcast<u32>(x));
}
fn from_sort_key(k: u32) -> T {
    return bitcast<T>(select(~k, k ^ 0x80000000u, (k & 0x80000000u) != 0u));
}
