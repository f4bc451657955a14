// Invocation builtins and workgroup reductions, subgroup variant.
// Used where the adapter has Features::SUBGROUP; the plain variant
// (invocation_plain.wgsl) has the same functions without subgroups.

struct Inv {
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(subgroup_invocation_id) sg_lane: u32,
    @builtin(subgroup_id) sg_id: u32,
    @builtin(num_subgroups) n_sg: u32,
}

var<workgroup> wg_t: array<T, WG>;
var<workgroup> wg_k: array<u32, WG>;
var<workgroup> wg_i: array<u32, WG>;

// Sum over the workgroup; valid in every invocation. Call in uniform control flow.
fn wg_sum(v: T, inv: Inv) -> T {
    let s = subgroupAdd(v);
    if (inv.sg_lane == 0u) {
        wg_t[inv.sg_id] = s;
    }
    workgroupBarrier();
    var total = wg_t[0];
    for (var i = 1u; i < inv.n_sg; i = i + 1u) {
        total = total + wg_t[i];
    }
    workgroupBarrier();
    return total;
}

// Lexicographic minimum of (key, index) over the workgroup; valid in every invocation.
fn wg_min_pair(k: u32, idx: u32, inv: Inv) -> vec2<u32> {
    let kmin = subgroupMin(k);
    let imin = subgroupMin(select(0xffffffffu, idx, k == kmin));
    if (inv.sg_lane == 0u) {
        wg_k[inv.sg_id] = kmin;
        wg_i[inv.sg_id] = imin;
    }
    workgroupBarrier();
    var best = vec2<u32>(wg_k[0], wg_i[0]);
    for (var i = 1u; i < inv.n_sg; i = i + 1u) {
        let c = vec2<u32>(wg_k[i], wg_i[i]);
        if (c.x < best.x || (c.x == best.x && c.y < best.y)) {
            best = c;
        }
    }
    workgroupBarrier();
    return best;
}

// Exclusive prefix sum over the workgroup in local_invocation_index order: the
// sum of `v` over the invocations with a smaller index (0 in invocation 0).
// Assumes subgroups hold consecutive invocation indices in lane order (true of
// 1-D workgroups on the drivers tested; the scan tests would catch a driver
// where it is not). Call in uniform control flow.
fn wg_exclusive_sum(v: T, inv: Inv) -> T {
    let within = subgroupExclusiveAdd(v);
    let total = subgroupAdd(v);
    if (inv.sg_lane == 0u) {
        wg_t[inv.sg_id] = total;
    }
    workgroupBarrier();
    var before = T(0);
    for (var i = 0u; i < inv.sg_id; i = i + 1u) {
        before = before + wg_t[i];
    }
    workgroupBarrier();
    return before + within;
}
