// sequence: out[k] = start + T(base + k) * step over one binding window.
// Floats round twice (the product, then the sum) and never fuse: the product
// passes through its bits XOR a uniform zero, which no compiler can fold into
// an FMA. T(i) for i >= 2^24 is formed as T(i >> 16) * 65536 + T(i & 0xffff)
// (exact parts, one correctly rounded add): round to nearest even, as Rust's
// `i as f32`. Integers wrap. CPU twin: src/ops/sequence/cpu.rs.

struct Params {
    // Elements in this window.
    n: u32,
    // The index of the window's first element.
    base: u32,
    start: u32,
    step: u32,
    // Always 0 (see above).
    zero: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<T>;

@compute @workgroup_size(WG)
fn sequence(inv: Inv) {
    let k = group_index(inv) * WG + inv.lid;
    if (k < p.n) {
        let i = p.base + k;
        let fi = T(i >> 16u) * T(65536) + T(i & 0xffffu);
        let prod = bitcast<T>(bitcast<u32>(fi * bitcast<T>(p.step)) ^ p.zero);
        out[k] = bitcast<T>(p.start) + prod;
    }
}
