// fill: out[i] = value over one window of the buffer.

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    value: T,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<T>;

@compute @workgroup_size(WG)
fn fill(inv: Inv) {
    let i = group_index(inv) * WG + inv.lid;
    if (i < p.n) {
        out[i] = p.value;
    }
}
