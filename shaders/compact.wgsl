// Stream compaction: keep x[i] where mask[i] != 0 (or where x[i] <cmp> value
// holds), in order. The layout of scan.wgsl: a tile is WG * ITEMS elements,
// each invocation owns ITEMS consecutive ones. The host records:
//   count_tiles: the number kept in each tile -> counts (u32);
//   the exclusive scan of counts (scan.wgsl on u32) -> offsets;
// reads back where each window's output starts and the total, allocates the
// output, then records scatter_tiles: each kept element to its place.
// Per-tile counts go through the T-typed workgroup helpers: they are at most
// TILE = 2,048, exact in every T.

const ITEMS: u32 = 8u;
const TILE: u32 = WG * ITEMS;

struct Params {
    // Elements in this binding window of x (and mask).
    n: u32,
    // Tiles in this window.
    groups: u32,
    // Index of this window's first tile in the bound window of counts / offsets.
    part_base: u32,
    // The output index of element 0 of the bound window of out.
    out_start: u32,
    // 1: keep where mask != 0; 0: keep where the comparison holds.
    use_mask: u32,
    // The comparison: 0 Lt, 1 Le, 2 Gt, 3 Ge, 4 Eq, 5 Ne.
    cmp: u32,
    // The order key of the value compared with (sort_key; -0 taken as +0).
    key_v: u32,
    // 1 when the value is NaN.
    v_nan: u32,
    // 1 when T is a float.
    is_float: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> mask: array<u32>;
@group(0) @binding(3) var<storage, read> offsets: array<u32>;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;
@group(0) @binding(5) var<storage, read_write> out: array<T>;

// IEEE comparison through integer order keys: NaN (found from the key bits,
// not with `!=`, which some drivers compile as an ordered compare) compares
// false except for Ne, and -0 equals +0.
fn holds(e: T) -> bool {
    var k = sort_key(e);
    let is_float = p.is_float != 0u;
    let nan = is_float && (k > 0xff800000u || k < 0x007fffffu);
    if (nan || p.v_nan != 0u) {
        return p.cmp == 5u;
    }
    if (is_float && k == 0x7fffffffu) {
        k = 0x80000000u;
    }
    switch p.cmp {
        case 0u: { return k < p.key_v; }
        case 1u: { return k <= p.key_v; }
        case 2u: { return k > p.key_v; }
        case 3u: { return k >= p.key_v; }
        case 4u: { return k == p.key_v; }
        default: { return k != p.key_v; }
    }
}

fn keep(i: u32) -> bool {
    if (p.use_mask != 0u) {
        return mask[i] != 0u;
    }
    return holds(x[i]);
}

@compute @workgroup_size(WG)
fn count_tiles(inv: Inv) {
    let g = group_index(inv);
    var c = 0u;
    if (g < p.groups) {
        let start = g * TILE + inv.lid;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n && keep(i)) {
                c = c + 1u;
            }
        }
    }
    let total = wg_sum(T(c), inv);
    if (inv.lid == 0u && g < p.groups) {
        counts[p.part_base + g] = u32(total);
    }
}

@compute @workgroup_size(WG)
fn scatter_tiles(inv: Inv) {
    let g = group_index(inv);
    let live = g < p.groups;
    let first = g * TILE + inv.lid * ITEMS;
    var bits = 0u;
    var c = 0u;
    if (live) {
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = first + j;
            if (i < p.n && keep(i)) {
                bits = bits | (1u << j);
                c = c + 1u;
            }
        }
    }
    let before = u32(wg_exclusive_sum(T(c), inv));
    if (live && c > 0u) {
        var at = offsets[p.part_base + g] + before - p.out_start;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            if ((bits & (1u << j)) != 0u) {
                out[at] = x[first + j];
                at = at + 1u;
            }
        }
    }
}
