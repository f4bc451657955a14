// Stable partition's masks: pass[i] = 1 where x[i] <cmp> value holds, and
// fail[i] = 1 where it does not; the host then compacts x with each mask
// (compact.wgsl) and places the failing elements after the passing ones.
// The comparison is compact.wgsl's: IEEE through integer order keys (NaN
// compares false except for Ne; -0 equals +0).

struct Params {
    // Elements in this binding window.
    n: u32,
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
@group(0) @binding(2) var<storage, read_write> pass_mask: array<u32>;
@group(0) @binding(3) var<storage, read_write> fail_mask: array<u32>;

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

@compute @workgroup_size(WG)
fn split_masks(inv: Inv) {
    let i = group_index(inv) * WG + inv.lid;
    if (i >= p.n) {
        return;
    }
    let ok = holds(x[i]);
    pass_mask[i] = select(0u, 1u, ok);
    fail_mask[i] = select(1u, 0u, ok);
}
