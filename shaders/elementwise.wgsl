// Element-wise ops: out[i] = f(a[i], b[i]) over one window of the buffers.
// Integer arithmetic wraps, as in the CPU twin (src/ops/elementwise/cpu.rs).

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    alpha: T,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;

fn elem(inv: Inv) -> u32 {
    return group_index(inv) * WG + inv.lid;
}

@compute @workgroup_size(WG)
fn add(inv: Inv) {
    let i = elem(inv);
    if (i < p.n) {
        out[i] = a[i] + b[i];
    }
}

@compute @workgroup_size(WG)
fn sub(inv: Inv) {
    let i = elem(inv);
    if (i < p.n) {
        out[i] = a[i] - b[i];
    }
}

@compute @workgroup_size(WG)
fn mul(inv: Inv) {
    let i = elem(inv);
    if (i < p.n) {
        out[i] = a[i] * b[i];
    }
}

// b is bound to a; only a is read.
@compute @workgroup_size(WG)
fn scale(inv: Inv) {
    let i = elem(inv);
    if (i < p.n) {
        out[i] = p.alpha * a[i];
    }
}

@compute @workgroup_size(WG)
fn axpy(inv: Inv) {
    let i = elem(inv);
    if (i < p.n) {
        out[i] = p.alpha * a[i] + b[i];
    }
}
