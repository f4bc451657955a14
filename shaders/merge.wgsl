// Merge path: a and b, each sorted by sort_key (sort's total order), merged
// into out; on ties a's element comes first. Values (32-bit, any type, moved
// as bits) follow their keys when p.values is 1.
//   merge_partition: for each tile boundary d = t * TILE, how many of the first
//     d merged elements come from a (a binary search along the diagonal);
//   merge_tiles: one workgroup per TILE outputs; each invocation finds where
//     its own ITEMS outputs start by the same search within the tile's two
//     ranges (a few cached reads) and merges them sequentially.
// No workgroup memory: GL backends zero-initialise it with one constructor of
// the whole array, which llvmpipe takes minutes to compile for a tile's worth.
// a and b are bound whole (random reads); out (and vout) in windows of whole
// tiles. Every loop's trip count is fixed or a log2 of a length.
// CPU twin: src/ops/merge/cpu.rs.

const ITEMS: u32 = 8u;
const TILE: u32 = WG * ITEMS;

struct Params {
    na: u32,
    nb: u32,
    // merge_partition: boundaries to compute; merge_tiles: tiles in this window.
    count: u32,
    // merge_tiles: the global index of this window's first tile.
    tile_base: u32,
    // 1: move values along with the keys.
    values: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read> va: array<u32>;
@group(0) @binding(4) var<storage, read> vb: array<u32>;
@group(0) @binding(5) var<storage, read_write> part: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<T>;
@group(0) @binding(7) var<storage, read_write> vout: array<u32>;

@compute @workgroup_size(WG)
fn merge_partition(inv: Inv) {
    let t = group_index(inv) * WG + inv.lid;
    if (t < p.count) {
        let d = min(t * TILE, p.na + p.nb);
        var lo = select(0u, d - p.nb, d > p.nb);
        var hi = min(d, p.na);
        while (lo < hi) {
            let mid = lo + (hi - lo) / 2u;
            if (sort_key(a[mid]) <= sort_key(b[d - 1u - mid])) {
                lo = mid + 1u;
            } else {
                hi = mid;
            }
        }
        part[t] = lo;
    }
}

@compute @workgroup_size(WG)
fn merge_tiles(inv: Inv) {
    let g = group_index(inv);
    if (g >= p.count) {
        return;
    }
    let t = p.tile_base + g;
    let n = p.na + p.nb;
    let d0 = t * TILE;
    let d1 = min(d0 + TILE, n);
    let tile_n = d1 - d0;
    let a_lo = part[t];
    // Clamped so that both ranges stay in their arrays and hold tile_n
    // elements together, whatever the input (a no-op when it is sorted).
    let low = max(a_lo, select(0u, d1 - p.nb, d1 > p.nb));
    let high = min(a_lo + tile_n, p.na);
    let a_len = clamp(part[t + 1u], low, high) - a_lo;
    let b_lo = d0 - a_lo;
    let b_len = tile_n - a_len;
    // This invocation's outputs: [dd, dd + cnt) of the tile, found by the
    // same search within the tile's ranges (which the cache holds).
    let dd = min(inv.lid * ITEMS, tile_n);
    let cnt = min(ITEMS, tile_n - dd);
    var lo = select(0u, dd - b_len, dd > b_len);
    var hi = min(dd, a_len);
    while (lo < hi) {
        let mid = lo + (hi - lo) / 2u;
        if (sort_key(a[a_lo + mid]) <= sort_key(b[b_lo + dd - 1u - mid])) {
            lo = mid + 1u;
        } else {
            hi = mid;
        }
    }
    var i = lo;
    var j = dd - lo;
    let o = g * TILE + dd;
    for (var s = 0u; s < ITEMS; s = s + 1u) {
        if (s < cnt) {
            let take_a = i < a_len && (j >= b_len || sort_key(a[a_lo + i]) <= sort_key(b[b_lo + j]));
            if (take_a) {
                out[o + s] = a[a_lo + i];
                if (p.values != 0u) {
                    vout[o + s] = va[a_lo + i];
                }
            } else {
                out[o + s] = b[b_lo + j];
                if (p.values != 0u) {
                    vout[o + s] = vb[b_lo + j];
                }
            }
            i = i + u32(take_a);
            j = j + u32(!take_a);
        }
    }
}
