// Reduce-then-scan, one level of it. A tile is WG * ITEMS elements, one per
// workgroup. The host records, in one submission:
//   reduce_tiles over the input: the sum of each tile -> sums;
//   the exclusive scan of the sums (these same two entries, recursively);
//   scan_tiles over the input: each tile's scan plus its offset -> output.
// No workgroup waits on another, so nothing depends on forward progress.

const ITEMS: u32 = 8u;
const TILE: u32 = WG * ITEMS;

struct Params {
    // Elements in this binding window of x.
    n: u32,
    // Tiles in this window (workgroups past it, from grid folding, do nothing).
    groups: u32,
    // Index of this window's first tile in the bound window of `part`.
    part_base: u32,
    // Bit 0: exclusive scan. Bit 1: add the tile offsets in `part`.
    flags: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
// scan_tiles: the tile offsets (the exclusive scan of the tile sums).
@group(0) @binding(2) var<storage, read> part: array<T>;
// reduce_tiles: the tile sums; scan_tiles: the scanned elements.
@group(0) @binding(3) var<storage, read_write> out: array<T>;

@compute @workgroup_size(WG)
fn reduce_tiles(inv: Inv) {
    let g = group_index(inv);
    var acc = T(0);
    if (g < p.groups) {
        // Strided, so that neighbouring invocations read neighbouring elements.
        let start = g * TILE + inv.lid;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                acc = acc + x[i];
            }
        }
    }
    let total = wg_sum(acc, inv);
    if (inv.lid == 0u && g < p.groups) {
        out[p.part_base + g] = total;
    }
}

@compute @workgroup_size(WG)
fn scan_tiles(inv: Inv) {
    let g = group_index(inv);
    let live = g < p.groups;
    // Each invocation owns ITEMS consecutive elements.
    let first = g * TILE + inv.lid * ITEMS;
    var v: array<T, ITEMS>;
    var own = T(0);
    if (live) {
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = first + j;
            var e = T(0);
            if (i < p.n) {
                e = x[i];
            }
            v[j] = e;
            own = own + e;
        }
    }
    let before = wg_exclusive_sum(own, inv);
    if (live) {
        var run = before;
        if ((p.flags & 2u) != 0u) {
            run = part[p.part_base + g] + before;
        }
        let exclusive = (p.flags & 1u) != 0u;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = first + j;
            if (i < p.n) {
                if (exclusive) {
                    out[i] = run;
                    run = run + v[j];
                } else {
                    run = run + v[j];
                    out[i] = run;
                }
            }
        }
    }
}
