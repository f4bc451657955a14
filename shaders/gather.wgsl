// Gather over one window of idx and out: out[i] = src[idx[i]]. src is bound
// whole (random reads). An index past the end of src writes nothing and raises
// flag[0]; the host then reports the error and drops out.
// CPU twin: src/ops/gather/cpu.rs.

struct Params {
    n: u32,       // elements in this window of idx and out
    src_len: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<T>;
@group(0) @binding(4) var<storage, read_write> flag: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn gather(inv: Inv) {
    let i = group_index(inv) * WG + inv.lid;
    if (i < p.n) {
        let j = idx[i];
        if (j < p.src_len) {
            out[i] = src[j];
        } else {
            atomicMax(&flag[0], 1u);
        }
    }
}
