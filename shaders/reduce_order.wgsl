// Order reductions (min, max, argmin, argmax), one pass: each workgroup reduces
// WG * ITEMS elements to the lexicographic minimum of (key, index), written at
// out[p.out_offset + group]. Keys come from keys_<T>.wgsl: NaN loses every
// comparison, -0 < +0, ties go to the smaller index. max uses inverted keys.
// The first pass reads elements; pair_pass then reduces the partial pairs.

const ITEMS: u32 = 8u;

struct Params {
    n: u32,
    groups: u32,
    out_offset: u32,
    base: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> pairs: array<vec2<u32>>;
@group(0) @binding(3) var<storage, read_write> out: array<vec2<u32>>;

fn better(k: u32, i: u32, best: vec2<u32>) -> bool {
    return k < best.x || (k == best.x && i < best.y);
}

fn finish(best: vec2<u32>, g: u32, inv: Inv) {
    let r = wg_min_pair(best.x, best.y, inv);
    if (inv.lid == 0u && g < p.groups) {
        out[p.out_offset + g] = r;
    }
}

// The first pass over the elements: `invert` picks max (inverted keys) over min.
fn first_pass(inv: Inv, invert: bool) {
    let g = group_index(inv);
    var best = vec2<u32>(0xffffffffu, 0xffffffffu);
    if (g < p.groups) {
        let start = g * WG * ITEMS + inv.lid;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                let k = select(key_min(x[i]), key_max_inv(x[i]), invert);
                if (better(k, p.base + i, best)) {
                    best = vec2<u32>(k, p.base + i);
                }
            }
        }
    }
    finish(best, g, inv);
}

@compute @workgroup_size(WG)
fn min_first(inv: Inv) {
    first_pass(inv, false);
}

@compute @workgroup_size(WG)
fn max_first(inv: Inv) {
    first_pass(inv, true);
}

@compute @workgroup_size(WG)
fn pair_pass(inv: Inv) {
    let g = group_index(inv);
    var best = vec2<u32>(0xffffffffu, 0xffffffffu);
    if (g < p.groups) {
        let start = g * WG * ITEMS + inv.lid;
        for (var j = 0u; j < ITEMS; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                let c = pairs[i];
                if (better(c.x, c.y, best)) {
                    best = c;
                }
            }
        }
    }
    finish(best, g, inv);
}
