// Grid folding: 1-D work past 65,535 workgroups is dispatched as a 2-D grid.
// This is the linear workgroup index.
fn group_index(inv: Inv) -> u32 {
    return inv.wg.x + inv.wg.y * inv.nwg.x;
}
