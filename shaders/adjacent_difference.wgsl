// adjacent_difference over one binding window of out: out[k] = x[i] - x[i - 1]
// with i the element's index in the bound window of x, which starts up to one
// alignment unit before the output's window so that x[i - 1] is bound too;
// the array's first element is copied. Integers wrap.
// CPU twin: src/ops/adjacent_difference/cpu.rs.

struct Params {
    // Elements in this window of out.
    n: u32,
    // The index in the bound x of out's first element.
    base: u32,
    // 1 when this window starts at the array's first element.
    first: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

@compute @workgroup_size(WG)
fn adjacent_difference(inv: Inv) {
    let k = group_index(inv) * WG + inv.lid;
    if (k < p.n) {
        let i = p.base + k;
        if (k == 0u && p.first != 0u) {
            out[k] = x[i];
        } else {
            out[k] = x[i] - x[i - 1u];
        }
    }
}
