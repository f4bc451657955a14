// Sum-family reductions, one pass: each workgroup reduces WG * ITEMS elements
// of x (or of x * y) to one partial at out[p.out_offset + group]. The host
// repeats sum_pass over the partials until one value is left.

const ITEMS: u32 = 8u;

struct Params {
    n: u32,
    groups: u32,
    out_offset: u32,
    base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> y: array<T>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

@compute @workgroup_size(WG)
fn sum_pass(inv: Inv) {
    let g = group_index(inv);
    var acc = T(0);
    // Groups past the end (from grid folding) add nothing but still reach the barriers.
    if (g < p.groups) {
        let start = g * WG * ITEMS + inv.lid;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                acc = acc + x[i];
            }
        }
    }
    let total = wg_sum(acc, inv);
    if (inv.lid == 0u && g < p.groups) {
        out[p.out_offset + g] = total;
    }
}

@compute @workgroup_size(WG)
fn dot_pass(inv: Inv) {
    let g = group_index(inv);
    var acc = T(0);
    if (g < p.groups) {
        let start = g * WG * ITEMS + inv.lid;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                acc = acc + x[i] * y[i];
            }
        }
    }
    let total = wg_sum(acc, inv);
    if (inv.lid == 0u && g < p.groups) {
        out[p.out_offset + g] = total;
    }
}
