// Vectorised binary search: for each query, the number of elements of the
// sorted array that come before it (lower_bound: sort_key(s) < sort_key(q);
// upper_bound: <=), numpy's searchsorted side "left" / "right". One
// invocation per query, over one binding window of queries and out; sorted is
// bound whole (random reads). Branch-free halving: log2(n_s) + 1 steps.
// CPU twin: src/ops/search/cpu.rs.

struct Params {
    // Queries in this window.
    n_q: u32,
    // Elements of sorted (at least 1).
    n_s: u32,
    // 1: upper_bound; 0: lower_bound.
    upper: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> sorted: array<T>;
@group(0) @binding(2) var<storage, read> queries: array<T>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

fn before(s: u32, q: u32) -> bool {
    return s < q || (p.upper != 0u && s == q);
}

@compute @workgroup_size(WG)
fn search(inv: Inv) {
    let k = group_index(inv) * WG + inv.lid;
    if (k < p.n_q) {
        let q = sort_key(queries[k]);
        var base = 0u;
        var len = p.n_s;
        while (len > 1u) {
            let half = len / 2u;
            base = select(base, base + half, before(sort_key(sorted[base + half]), q));
            len = len - half;
        }
        out[k] = base + u32(before(sort_key(sorted[base]), q));
    }
}
