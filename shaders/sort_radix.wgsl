// LSD radix sort, one 8-bit digit per pass (keys by sort_key: IEEE total order
// for f32, value order for i32 and u32). A pass is three steps:
//   histogram: each workgroup counts the digits of its tile of rounds * WG keys and
//              writes counts[digit * total_groups + tile] (digit-major);
//   sort_scan.wgsl: an exclusive scan of counts gives each (digit, tile) its
//              first output position;
//   scatter:   each workgroup ranks its keys within the tile, stably (in input
//              order), and writes key (and value) to offset + rank.
// Keys and values move as raw 32-bit words, so NaN payloads survive. A tile
// lies in one binding window of the source; the destination may be bound in
// windows too, and then scatter is dispatched once per destination window and
// writes only the keys that land in it.

const RADIX: u32 = 256u; // == WG: one digit per invocation in the per-digit steps
const WORDS: u32 = 8u; // WG / 32: bits of one round's mask, per digit

struct Params {
    n: u32,            // keys in this source window
    groups: u32,       // tiles in this source window
    group_offset: u32, // global index of the window's first tile
    total_groups: u32, // tiles in the whole input
    shift: u32,        // bit position of this pass's digit
    dst_base: u32,     // first element of the bound destination window
    dst_len: u32,      // elements in the bound destination window
    has_values: u32,   // 1 when values move with the keys
    rounds: u32,       // rounds of WG keys per tile (a tile is rounds * WG keys)
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> keys_in: array<u32>;
@group(0) @binding(2) var<storage, read> vals_in: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<u32>;
@group(0) @binding(4) var<storage, read_write> keys_out: array<u32>;
@group(0) @binding(5) var<storage, read_write> vals_out: array<u32>;

var<workgroup> hist: array<atomic<u32>, RADIX>;
// One bit per invocation of the current round, per digit: masks[d * WORDS + w].
var<workgroup> masks: array<atomic<u32>, 2048>;
// Next output position of each digit for this tile.
var<workgroup> next_pos: array<u32, RADIX>;

fn digit_of(k: u32) -> u32 {
    return (sort_key(bitcast<T>(k)) >> p.shift) & 0xffu;
}

@compute @workgroup_size(WG)
fn histogram(inv: Inv) {
    let g = group_index(inv);
    atomicStore(&hist[inv.lid], 0u);
    workgroupBarrier();
    if (g < p.groups) {
        let start = g * p.rounds * WG + inv.lid;
        for (var r = 0u; r < p.rounds; r = r + 1u) {
            let i = start + r * WG;
            if (i < p.n) {
                atomicAdd(&hist[digit_of(keys_in[i])], 1u);
            }
        }
    }
    workgroupBarrier();
    if (g < p.groups) {
        counts[inv.lid * p.total_groups + p.group_offset + g] = atomicLoad(&hist[inv.lid]);
    }
}

@compute @workgroup_size(WG)
fn scatter(inv: Inv) {
    let g = group_index(inv);
    let live = g < p.groups;
    if (live) {
        next_pos[inv.lid] = counts[inv.lid * p.total_groups + p.group_offset + g];
    }
    for (var w = 0u; w < WORDS; w = w + 1u) {
        atomicStore(&masks[inv.lid * WORDS + w], 0u);
    }
    workgroupBarrier();
    let word = inv.lid / 32u;
    let bit = 1u << (inv.lid % 32u);
    let start = g * p.rounds * WG + inv.lid;
    // The tile goes in p.rounds rounds of WG keys, in input order; within a round an
    // invocation's rank among equal digits counts the lower invocations' bits.
    for (var r = 0u; r < p.rounds; r = r + 1u) {
        let i = start + r * WG;
        let valid = live && i < p.n;
        var k = 0u;
        var d = 0u;
        if (valid) {
            k = keys_in[i];
            d = digit_of(k);
            atomicOr(&masks[d * WORDS + word], bit);
        }
        workgroupBarrier();
        var rank = 0u;
        var total = 0u;
        if (valid) {
            for (var w = 0u; w < WORDS; w = w + 1u) {
                let m = atomicLoad(&masks[d * WORDS + w]);
                let c = countOneBits(m);
                if (w < word) {
                    rank = rank + c;
                } else if (w == word) {
                    rank = rank + countOneBits(m & (bit - 1u));
                }
                total = total + c;
            }
            let pos = next_pos[d] + rank;
            if (pos >= p.dst_base && pos - p.dst_base < p.dst_len) {
                keys_out[pos - p.dst_base] = k;
                if (p.has_values != 0u) {
                    vals_out[pos - p.dst_base] = vals_in[i];
                }
            }
        }
        workgroupBarrier();
        // The last key of each digit advances that digit and clears its masks.
        if (valid && rank + 1u == total) {
            next_pos[d] = next_pos[d] + total;
            for (var w = 0u; w < WORDS; w = w + 1u) {
                atomicStore(&masks[d * WORDS + w], 0u);
            }
        }
        workgroupBarrier();
    }
}
