// Invocation builtins and workgroup reductions, plain variant (no subgroups:
// GL, and any adapter without Features::SUBGROUP). A shared-memory tree.

struct Inv {
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wg: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
}

var<workgroup> wg_t: array<T, WG>;
var<workgroup> wg_k: array<u32, WG>;
var<workgroup> wg_i: array<u32, WG>;

// Sum over the workgroup; valid in every invocation. Call in uniform control flow.
fn wg_sum(v: T, inv: Inv) -> T {
    wg_t[inv.lid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (inv.lid < s) {
            wg_t[inv.lid] = wg_t[inv.lid] + wg_t[inv.lid + s];
        }
        workgroupBarrier();
    }
    let total = wg_t[0];
    workgroupBarrier();
    return total;
}

// Lexicographic minimum of (key, index) over the workgroup; valid in every invocation.
fn wg_min_pair(k: u32, idx: u32, inv: Inv) -> vec2<u32> {
    wg_k[inv.lid] = k;
    wg_i[inv.lid] = idx;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s = s >> 1u) {
        if (inv.lid < s) {
            let ok = wg_k[inv.lid + s];
            let oi = wg_i[inv.lid + s];
            if (ok < wg_k[inv.lid] || (ok == wg_k[inv.lid] && oi < wg_i[inv.lid])) {
                wg_k[inv.lid] = ok;
                wg_i[inv.lid] = oi;
            }
        }
        workgroupBarrier();
    }
    let best = vec2<u32>(wg_k[0], wg_i[0]);
    workgroupBarrier();
    return best;
}

// Exclusive prefix sum over the workgroup in local_invocation_index order: the
// sum of `v` over the invocations with a smaller index (0 in invocation 0).
// A shared-memory Hillis-Steele scan. Call in uniform control flow.
fn wg_exclusive_sum(v: T, inv: Inv) -> T {
    wg_t[inv.lid] = v;
    workgroupBarrier();
    for (var s = 1u; s < WG; s = s << 1u) {
        var add = T(0);
        if (inv.lid >= s) {
            add = wg_t[inv.lid - s];
        }
        workgroupBarrier();
        if (inv.lid >= s) {
            wg_t[inv.lid] = add + wg_t[inv.lid];
        }
        workgroupBarrier();
    }
    var before = T(0);
    if (inv.lid > 0u) {
        before = wg_t[inv.lid - 1u];
    }
    workgroupBarrier();
    return before;
}
