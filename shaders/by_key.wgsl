// The by-key family: run heads, and a segmented scan over (head flag, value)
// pairs. T is the value type; keys and values are bound as 32-bit words (keys
// are compared by their bits, values bitcast to T for sums). The host records:
//   heads: flags[i] = 1 where a run starts (i == 0 or key[i] != key[i-1]), and
//     optionally tails[i] = 1 where one ends;
//   seg_reduce_tiles: per tile of WG * ITEMS elements, the open run at its end
//     (its reduction) and whether the tile holds a head -> tile arrays;
//   the tile pairs scanned by these same entries, recursively (mode 2: each
//     tile's carry-in is the open run before it);
//   seg_scan_tiles: each element's reduction from its run's head, from the carry.
// Reductions work on "lanes": a value's bits for Sum (combined as T), its order
// key for Min and Max (combined with min / max of u32), so NaN is ignored and
// -0 < +0, as `min` / `max` do. No loop's trip count depends on the input size.

const ITEMS: u32 = 8u;
const TILE: u32 = WG * ITEMS;

struct Params {
    // Elements in this binding window.
    n: u32,
    // Tiles in this window.
    groups: u32,
    // Index of this window's first tile in the bound tile arrays.
    part_base: u32,
    // seg_scan_tiles: 0 inclusive; 1 exclusive within the run (heads get 0);
    // 2 shifted (each element gets the open run before it; carries).
    mode: u32,
    // 0 Sum, 1 Min, 2 Max.
    op: u32,
    // Bit 0: map values to lanes on load; bit 1: map lanes back to values on
    // store; bit 2: every value is 1 (run lengths); bit 3: add the tile carries.
    flags: u32,
    // The identity lane of the op (-0 for float sums, so that adding it is exact).
    ident: u32,
    // heads: index in the bound keys of this window's element 0 (0 or one alignment).
    shift: u32,
    // heads: global index of this window's element 0.
    start: u32,
    // heads: elements in all.
    total: u32,
    // heads: 1 to write tails too.
    tails: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// heads: the keys; otherwise the values (or lanes, past the first level).
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> heads_in: array<u32>;
@group(0) @binding(3) var<storage, read> carries: array<u32>;
// heads: flags; seg_reduce_tiles: tile lanes; seg_scan_tiles: the output.
@group(0) @binding(4) var<storage, read_write> out: array<u32>;
// heads: tails; seg_reduce_tiles: tile flags.
@group(0) @binding(5) var<storage, read_write> out2: array<u32>;

var<workgroup> sf: array<u32, WG>;
var<workgroup> sv: array<u32, WG>;

fn combine(a: u32, b: u32) -> u32 {
    switch p.op {
        case 0u: { return bitcast<u32>(bitcast<T>(a) + bitcast<T>(b)); }
        case 1u: { return min(a, b); }
        default: { return max(a, b); }
    }
}

fn lift(bits: u32) -> u32 {
    switch p.op {
        case 0u: { return bits; }
        case 1u: { return key_min(bitcast<T>(bits)); }
        default: { return ~key_max_inv(bitcast<T>(bits)); }
    }
}

fn lower(lane: u32) -> u32 {
    if ((p.flags & 2u) == 0u || p.op == 0u) {
        return lane;
    }
    return bitcast<u32>(from_sort_key(lane));
}

fn load(i: u32) -> u32 {
    if ((p.flags & 4u) != 0u) {
        return 1u;
    }
    let v = src[i];
    if ((p.flags & 1u) != 0u) {
        return lift(v);
    }
    return v;
}

@compute @workgroup_size(WG)
fn heads(inv: Inv) {
    let i = group_index(inv) * WG + inv.lid;
    if (i >= p.n) {
        return;
    }
    let at = p.shift + i;
    let g = p.start + i;
    let k = src[at];
    var head = 1u;
    if (g > 0u && src[at - 1u] == k) {
        head = 0u;
    }
    out[i] = head;
    if (p.tails != 0u) {
        var tail = 1u;
        if (g + 1u < p.total && src[at + 1u] == k) {
            tail = 0u;
        }
        out2[i] = tail;
    }
}

// Inclusive segmented scan of (flag, lane) over the workgroup, left to right
// (Hillis-Steele); the results stay in sf / sv. Call in uniform control flow.
fn wg_seg_scan(f: u32, v: u32, lid: u32) {
    sf[lid] = f;
    sv[lid] = v;
    workgroupBarrier();
    for (var s = 1u; s < WG; s = s << 1u) {
        let has = lid >= s;
        var lf = 0u;
        var lv = 0u;
        if (has) {
            lf = sf[lid - s];
            lv = sv[lid - s];
        }
        workgroupBarrier();
        if (has) {
            let cf = sf[lid];
            if (cf == 0u) {
                sv[lid] = combine(lv, sv[lid]);
            }
            sf[lid] = cf | lf;
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WG)
fn seg_reduce_tiles(inv: Inv) {
    let g = group_index(inv);
    let live = g < p.groups;
    let first = g * TILE + inv.lid * ITEMS;
    var tf = 0u;
    var tv = p.ident;
    if (live) {
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = first + j;
            if (i < p.n) {
                let v = load(i);
                if (heads_in[i] != 0u) {
                    tf = 1u;
                    tv = v;
                } else {
                    tv = combine(tv, v);
                }
            }
        }
    }
    wg_seg_scan(tf, tv, inv.lid);
    if (live && inv.lid == WG - 1u) {
        out[p.part_base + g] = sv[WG - 1u];
        out2[p.part_base + g] = sf[WG - 1u];
    }
}

@compute @workgroup_size(WG)
fn seg_scan_tiles(inv: Inv) {
    let g = group_index(inv);
    let live = g < p.groups;
    let first = g * TILE + inv.lid * ITEMS;
    var fl: array<u32, ITEMS>;
    var vl: array<u32, ITEMS>;
    var tf = 0u;
    var tv = p.ident;
    if (live) {
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = first + j;
            var f = 0u;
            var v = p.ident;
            if (i < p.n) {
                f = heads_in[i];
                v = load(i);
            }
            fl[j] = f;
            vl[j] = v;
            if (f != 0u) {
                tf = 1u;
                tv = v;
            } else {
                tv = combine(tv, v);
            }
        }
    }
    wg_seg_scan(tf, tv, inv.lid);
    var ef = 0u;
    var ev = p.ident;
    if (inv.lid > 0u) {
        ef = sf[inv.lid - 1u];
        ev = sv[inv.lid - 1u];
    }
    if (!live) {
        return;
    }
    var run = ev;
    if (ef == 0u && (p.flags & 8u) != 0u) {
        run = combine(carries[p.part_base + g], ev);
    }
    for (var j = 0u; j < ITEMS; j = j + 1u) {
        let i = first + j;
        if (i < p.n) {
            let f = fl[j] != 0u;
            if (p.mode == 0u) {
                run = select(combine(run, vl[j]), vl[j], f);
                out[i] = lower(run);
            } else {
                if (p.mode == 1u && f) {
                    out[i] = 0u;
                } else {
                    out[i] = lower(run);
                }
                run = select(combine(run, vl[j]), vl[j], f);
            }
        }
    }
}
