// Exclusive scan of the radix sort's digit counts (u32, instantiated with T = u32),
// reduce-then-scan over blocks of BLOCK elements: scan_reduce writes each block's
// total to sums[block]; the host scans sums the same way (recursively, until one
// block is left); scan_block then scans each block in place, adding sums[block]
// when use_sums is set. No single-pass look-back: nothing waits on another
// workgroup, so it cannot hang on adapters without forward-progress guarantees.

const ITEMS: u32 = 8u;
const BLOCK: u32 = 2048u; // WG * ITEMS

struct ScanParams {
    n: u32,
    groups: u32,
    use_sums: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: ScanParams;
@group(0) @binding(1) var<storage, read_write> data: array<u32>;
@group(0) @binding(2) var<storage, read_write> sums: array<u32>;

var<workgroup> part: array<u32, WG>;

@compute @workgroup_size(WG)
fn scan_reduce(inv: Inv) {
    let g = group_index(inv);
    var acc = 0u;
    if (g < p.groups) {
        let start = g * BLOCK + inv.lid;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                acc = acc + data[i];
            }
        }
    }
    let total = wg_sum(acc, inv);
    if (inv.lid == 0u && g < p.groups) {
        sums[g] = total;
    }
}

@compute @workgroup_size(WG)
fn scan_block(inv: Inv) {
    let g = group_index(inv);
    let live = g < p.groups;
    // Each invocation owns ITEMS consecutive elements.
    let first = g * BLOCK + inv.lid * ITEMS;
    var vals: array<u32, ITEMS>;
    var mine = 0u;
    for (var j = 0u; j < ITEMS; j = j + 1u) {
        var v = 0u;
        if (live && first + j < p.n) {
            v = data[first + j];
        }
        vals[j] = v;
        mine = mine + v;
    }
    // Inclusive scan of the per-invocation totals (Hillis-Steele in shared memory).
    part[inv.lid] = mine;
    workgroupBarrier();
    for (var off = 1u; off < WG; off = off << 1u) {
        var add = 0u;
        if (inv.lid >= off) {
            add = part[inv.lid - off];
        }
        workgroupBarrier();
        part[inv.lid] = part[inv.lid] + add;
        workgroupBarrier();
    }
    if (live) {
        var run = part[inv.lid] - mine;
        if (p.use_sums != 0u) {
            run = run + sums[g];
        }
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            if (first + j < p.n) {
                data[first + j] = run;
            }
            run = run + vals[j];
        }
    }
}
