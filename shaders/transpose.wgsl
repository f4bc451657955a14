// out (cols x rows) = transpose of a (rows x cols), row-major, any T.
//
// Each workgroup of WG = 256 threads (32 x 8) moves one 32 x 32 tile through
// workgroup memory: coalesced reads along a's rows, coalesced writes along out's
// rows. The tile is padded to 33 columns so the column-wise reads of the second
// phase do not all fall in one memory bank.
//
// One dispatch covers the block of input rows r0 .. r0 + r_count and input
// columns c0 .. c0 + c_count. The input is bound as a window of whole input rows
// starting at row r0 (in_base: the element offset of row r0 inside it); the
// output as a window of whole output rows starting at row c0 (out_base likewise).
// The grid is 1-D over the block's tiles (folded to 2-D past 65,535 workgroups):
// tile t covers local rows (t / tiles_c) * 32 and local columns (t % tiles_c) * 32.

const TILE: u32 = 32u;

struct Params {
    rows: u32,
    cols: u32,
    r_count: u32,
    c_count: u32,
    in_base: u32,
    out_base: u32,
    tiles_c: u32,
    c0: u32,
    r0: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read_write> out: array<T>;

var<workgroup> tile: array<T, 1056>;

@compute @workgroup_size(WG)
fn transpose(inv: Inv) {
    let t = group_index(inv);
    let tr = (t / p.tiles_c) * TILE;
    let tc = (t % p.tiles_c) * TILE;
    let x = inv.lid % TILE;
    let y = inv.lid / TILE;
    // Groups past the end (grid folding) find every row out of range.
    for (var j = 0u; j < TILE; j = j + 8u) {
        let r = tr + y + j;
        let c = tc + x;
        if (r < p.r_count && c < p.c_count) {
            tile[(y + j) * (TILE + 1u) + x] = a[p.in_base + r * p.cols + p.c0 + c];
        }
    }
    workgroupBarrier();
    for (var j = 0u; j < TILE; j = j + 8u) {
        // Output row (local) tc + y + j, column (local) tr + x.
        let oc = tc + y + j;
        let orow = tr + x;
        if (oc < p.c_count && orow < p.r_count) {
            out[p.out_base + oc * p.rows + p.r0 + orow] = tile[x * (TILE + 1u) + y + j];
        }
    }
}
