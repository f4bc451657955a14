// Histogram over one binding window of x: each element's bin (the rule is in
// src/ops/histogram/mod.rs; the CPU twin is src/ops/histogram/cpu.rs) is counted
// into workgroup counters, flushed to the global counts with one atomicAdd per
// non-empty bin; past SHARED bins, straight into the global counts.
//
// The bin is decided by exact u32 key comparisons against host-computed edges;
// float arithmetic only guesses it, so flushed subnormals or a fused multiply
// cannot change a count.

struct Params {
    n: u32,          // elements in this window
    groups: u32,     // workgroups of this dispatch that hold elements
    per_thread: u32, // elements per invocation
    bins: u32,
    klo: u32,        // key of lo (edges[0])
    kspan: u32,      // key of hi - key of lo
    is_float: u32,   // 1 for f32: -0 is keyed as +0, and the guess uses float values
    _pad0: u32,
    lo_f: f32,
    scale: f32,      // bins / (hi - lo), for the guess only
    _pad1: u32,
    _pad2: u32,
}

const NONE: u32 = 0xffffffffu;
const SMALL: u32 = 256u;
const SHARED: u32 = 4096u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> edges: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> small_counts: array<atomic<u32>, SMALL>;
var<workgroup> shared_counts: array<atomic<u32>, SHARED>;

// The bin of v, or NONE when v is outside [lo, hi) or NaN (NaN keys lie
// beyond the keys of the infinities, and lo, hi are finite).
fn bin_of(v: T) -> u32 {
    var key = sort_key(v);
    if (p.is_float != 0u && key == 0x7fffffffu) {
        key = 0x80000000u;
    }
    let off = key - p.klo;
    if (off >= p.kspan) {
        return NONE;
    }
    var t: f32;
    if (p.is_float != 0u) {
        t = (f32(v) - p.lo_f) * p.scale;
    } else {
        t = f32(off) * p.scale;
    }
    let last = p.bins - 1u;
    let c = min(u32(clamp(t, 0.0, f32(last))), last);
    if (edges[c] <= key && key < edges[c + 1u]) {
        return c;
    }
    // The guess was off: the largest k with edges[k] <= key.
    var a = 0u;
    var b = p.bins;
    while (b - a > 1u) {
        let m = (a + b) / 2u;
        if (edges[m] <= key) {
            a = m;
        } else {
            b = m;
        }
    }
    return a;
}

// The first element of this invocation, or NONE for groups past the end.
fn first(g: u32, inv: Inv) -> u32 {
    if (g >= p.groups) {
        return NONE;
    }
    return g * p.per_thread * WG + inv.lid;
}

@compute @workgroup_size(WG)
fn hist_small(inv: Inv) {
    // Workgroup memory starts zeroed (WGSL guarantees it).
    let g = group_index(inv);
    let start = first(g, inv);
    if (start != NONE) {
        for (var j = 0u; j < p.per_thread; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                let b = bin_of(x[i]);
                if (b != NONE) {
                    atomicAdd(&small_counts[b], 1u);
                }
            }
        }
    }
    workgroupBarrier();
    if (start != NONE) {
        for (var b = inv.lid; b < p.bins; b = b + WG) {
            let c = atomicLoad(&small_counts[b]);
            if (c != 0u) {
                atomicAdd(&counts[b], c);
            }
        }
    }
}

// The same as hist_small over the 16 KiB array: WGSL gives arrays of different
// sizes different pointer types, so one function cannot take either, and the
// small variant exists so that few bins keep workgroup memory (and occupancy) low.
@compute @workgroup_size(WG)
fn hist_shared(inv: Inv) {
    let g = group_index(inv);
    let start = first(g, inv);
    if (start != NONE) {
        for (var j = 0u; j < p.per_thread; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                let b = bin_of(x[i]);
                if (b != NONE) {
                    atomicAdd(&shared_counts[b], 1u);
                }
            }
        }
    }
    workgroupBarrier();
    if (start != NONE) {
        for (var b = inv.lid; b < p.bins; b = b + WG) {
            let c = atomicLoad(&shared_counts[b]);
            if (c != 0u) {
                atomicAdd(&counts[b], c);
            }
        }
    }
}

@compute @workgroup_size(WG)
fn hist_global(inv: Inv) {
    let g = group_index(inv);
    let start = first(g, inv);
    if (start != NONE) {
        for (var j = 0u; j < p.per_thread; j = j + 1u) {
            let i = start + j * WG;
            if (i < p.n) {
                let b = bin_of(x[i]);
                if (b != NONE) {
                    atomicAdd(&counts[b], 1u);
                }
            }
        }
    }
}
