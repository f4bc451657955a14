// Order keys of f32: IEEE total order, -0 < +0; NaN maps to the identity.
fn order_key(x: T) -> u32 {
    let b = bitcast<u32>(x);
    return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}
fn key_min(x: T) -> u32 {
    return select(order_key(x), 0xffffffffu, x != x);
}
// Inverted, so that a minimum of keys is a maximum of values.
fn key_max_inv(x: T) -> u32 {
    return select(~order_key(x), 0xffffffffu, x != x);
}
