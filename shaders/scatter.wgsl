// Scatter dst[idx[i]] = src[i], in two passes over the windows of src and idx
// (dst and winner are bound whole):
// 1. scatter_claim: an index past the end of dst raises flag[0]; otherwise
//    winner[idx[i]] = max(winner[idx[i]], i + 1), so the last duplicate wins.
// 2. scatter_write: if no index was bad, the winner of each slot writes it.
// A bad index therefore leaves dst untouched. CPU twin: src/ops/gather/cpu.rs.

struct Params {
    n: u32,       // elements in this window of src and idx
    dst_len: u32,
    base: u32,    // global position of the window's first element
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<T>;
@group(0) @binding(4) var<storage, read_write> winner: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> flag: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn scatter_claim(inv: Inv) {
    let i = group_index(inv) * WG + inv.lid;
    if (i < p.n) {
        let j = idx[i];
        if (j < p.dst_len) {
            atomicMax(&winner[j], p.base + i + 1u);
        } else {
            atomicMax(&flag[0], 1u);
        }
    }
}

@compute @workgroup_size(WG)
fn scatter_write(inv: Inv) {
    let i = group_index(inv) * WG + inv.lid;
    if (i < p.n && atomicLoad(&flag[0]) == 0u) {
        let j = idx[i];
        if (j < p.dst_len && atomicLoad(&winner[j]) == p.base + i + 1u) {
            dst[j] = src[i];
        }
    }
}
