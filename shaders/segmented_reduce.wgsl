// Segmented reduce: segment s is values[offsets[s]..offsets[s + 1]]. The host
// records, in one submission:
//   segment_heads: heads[i] = 1 where some offset equals i (or i == 0): a
//     binary search of the offsets (at most 33 steps, whatever the size);
//   the segmented inclusive scan of by_key.wgsl over (heads, values);
//   segment_results: out[s] = the scan at offsets[s + 1] - 1, or the op's
//     identity for an empty segment.
// The host has checked that the offsets never decrease nor pass the end.

struct Params {
    // Elements (segment_heads) or segments (segment_results) in this window.
    n: u32,
    // The global index of this window's first element or segment.
    start: u32,
    // Entries in offsets.
    m: u32,
    // The result of an empty segment, as bits.
    empty: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> offsets: array<u32>;
// segment_results: the scan (every element).
@group(0) @binding(2) var<storage, read> scan: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WG)
fn segment_heads(inv: Inv) {
    let i = group_index(inv) * WG + inv.lid;
    if (i >= p.n) {
        return;
    }
    let g = p.start + i;
    var lo = 0u;
    var hi = p.m;
    while (lo < hi) {
        let mid = lo + (hi - lo) / 2u;
        if (offsets[mid] < g) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    let head = g == 0u || (lo < p.m && offsets[lo] == g);
    out[i] = select(0u, 1u, head);
}

@compute @workgroup_size(WG)
fn segment_results(inv: Inv) {
    let s = group_index(inv) * WG + inv.lid;
    if (s >= p.n) {
        return;
    }
    let a = offsets[p.start + s];
    let b = offsets[p.start + s + 1u];
    if (a == b) {
        out[s] = p.empty;
    } else {
        out[s] = scan[b - 1u];
    }
}
