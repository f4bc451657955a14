// C (m x n) = A (m x k) * B (k x n), row-major f32.
//
// Each workgroup of WG = 256 threads (16 x 16) computes a BM x BN = 128 x 128
// block of C; each thread an 8 x 8 register block: rows ty*4 + {0..3} and
// 64 + ty*4 + {0..3}, columns tx*4 + {0..3} and 64 + tx*4 + {0..3} (split in two
// halves so that neighbouring threads read neighbouring vec4s of workgroup memory).
// The k dimension goes in tiles of BK = 8: A's tile is kept transposed (k-major)
// and B's as is, both as vec4 rows, 8 KiB in all. The next tile's global loads are
// issued before the current tile's arithmetic, to overlap them.
// Every load is bounds-checked (zero past m, n or k) and every store guarded, so
// no dimension needs to be a multiple of a tile.
//
// The grid is 1-D over the blocks of C (folded to 2-D past 65,535 workgroups):
// block t covers rows (t / tiles_n) * BM and columns (t % tiles_n) * BN.
// A and C may be windows of whole rows: a_base and c_base are the element offsets
// of the band's first row inside the bound windows.
// One dispatch covers the k range [k0, k_end) only, at most K_CHUNK (4,096) long,
// so that no loop's trip count follows the user's k (llvmpipe ends any loop
// after 65,535 iterations, silently): the first chunk stores C, later ones add
// to it (accumulate = 1).

const BM: u32 = 128u;
const BN: u32 = 128u;
const BK: u32 = 8u;

struct Params {
    m: u32,
    n: u32,
    k: u32,
    tiles_n: u32,
    a_base: u32,
    c_base: u32,
    tiles: u32,
    k0: u32,
    k_end: u32,
    accumulate: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

// As[kk * (BM / 4) + r / 4][r % 4] = A[row0 + r, k0 + kk]
var<workgroup> As: array<vec4<f32>, 256>;
// Bs[kk * (BN / 4) + col / 4][col % 4] = B[k0 + kk, col0 + col]
var<workgroup> Bs: array<vec4<f32>, 256>;

fn load_a(row: u32, col: u32) -> f32 {
    if (row < p.m && col < p.k_end) {
        return a[p.a_base + row * p.k + col];
    }
    return 0.0;
}

fn load_b(row: u32, col: u32) -> f32 {
    if (row < p.k_end && col < p.n) {
        return b[row * p.n + col];
    }
    return 0.0;
}

@compute @workgroup_size(WG)
fn matmul(inv: Inv) {
    let t = group_index(inv);
    let lid = inv.lid;
    let tx = lid % 16u;
    let ty = lid / 16u;
    // Blocks past the end (grid folding) load zeros and store nothing, but still
    // reach every barrier.
    let tile_m = t / p.tiles_n;
    let tile_n = t % p.tiles_n;
    let row0 = tile_m * BM;
    let col0 = tile_n * BN;

    // This thread's share of each tile load: 4 elements of A (row lid / 2,
    // k columns (lid % 2) * 4 + q) and 4 of B (k row lid / 32, columns (lid % 32) * 4 + q).
    let a_r = lid / 2u;
    let a_k = (lid % 2u) * 4u;
    let b_k = lid / 32u;
    let b_c = (lid % 32u) * 4u;

    var acc: array<vec4<f32>, 16>;
    for (var i = 0u; i < 16u; i = i + 1u) {
        acc[i] = vec4<f32>(0.0);
    }

    let k0 = p.k0;
    var ra = vec4<f32>(
        load_a(row0 + a_r, k0 + a_k),
        load_a(row0 + a_r, k0 + a_k + 1u),
        load_a(row0 + a_r, k0 + a_k + 2u),
        load_a(row0 + a_r, k0 + a_k + 3u),
    );
    var rb = vec4<f32>(
        load_b(k0 + b_k, col0 + b_c),
        load_b(k0 + b_k, col0 + b_c + 1u),
        load_b(k0 + b_k, col0 + b_c + 2u),
        load_b(k0 + b_k, col0 + b_c + 3u),
    );

    let ktiles = (p.k_end - k0 + BK - 1u) / BK;
    for (var kt = 0u; kt < ktiles; kt = kt + 1u) {
        for (var q = 0u; q < 4u; q = q + 1u) {
            As[(a_k + q) * (BM / 4u) + a_r / 4u][a_r % 4u] = ra[q];
        }
        Bs[b_k * (BN / 4u) + b_c / 4u] = rb;
        workgroupBarrier();

        // Prefetch the next tile while this one is used.
        if (kt + 1u < ktiles) {
            let k1 = k0 + (kt + 1u) * BK;
            ra = vec4<f32>(
                load_a(row0 + a_r, k1 + a_k),
                load_a(row0 + a_r, k1 + a_k + 1u),
                load_a(row0 + a_r, k1 + a_k + 2u),
                load_a(row0 + a_r, k1 + a_k + 3u),
            );
            rb = vec4<f32>(
                load_b(k1 + b_k, col0 + b_c),
                load_b(k1 + b_k, col0 + b_c + 1u),
                load_b(k1 + b_k, col0 + b_c + 2u),
                load_b(k1 + b_k, col0 + b_c + 3u),
            );
        }

        for (var kk = 0u; kk < BK; kk = kk + 1u) {
            let a0 = As[kk * (BM / 4u) + ty];
            let a1 = As[kk * (BM / 4u) + 16u + ty];
            let b0 = Bs[kk * (BN / 4u) + tx];
            let b1 = Bs[kk * (BN / 4u) + 16u + tx];
            // acc[2 * i] holds row i's columns tx*4.., acc[2 * i + 1] columns 64 + tx*4..
            // (rows 0..3 are ty*4 + i, rows 4..7 are 64 + ty*4 + i - 4).
            acc[0] = acc[0] + a0.x * b0;
            acc[1] = acc[1] + a0.x * b1;
            acc[2] = acc[2] + a0.y * b0;
            acc[3] = acc[3] + a0.y * b1;
            acc[4] = acc[4] + a0.z * b0;
            acc[5] = acc[5] + a0.z * b1;
            acc[6] = acc[6] + a0.w * b0;
            acc[7] = acc[7] + a0.w * b1;
            acc[8] = acc[8] + a1.x * b0;
            acc[9] = acc[9] + a1.x * b1;
            acc[10] = acc[10] + a1.y * b0;
            acc[11] = acc[11] + a1.y * b1;
            acc[12] = acc[12] + a1.z * b0;
            acc[13] = acc[13] + a1.z * b1;
            acc[14] = acc[14] + a1.w * b0;
            acc[15] = acc[15] + a1.w * b1;
        }
        workgroupBarrier();
    }

    if (t >= p.tiles) {
        return;
    }
    for (var i = 0u; i < 8u; i = i + 1u) {
        let row = row0 + (i / 4u) * 64u + ty * 4u + (i % 4u);
        if (row >= p.m) {
            continue;
        }
        for (var h = 0u; h < 2u; h = h + 1u) {
            let v = acc[2u * i + h];
            let col = col0 + h * 64u + tx * 4u;
            let base = p.c_base + row * p.n + col;
            for (var q = 0u; q < 4u; q = q + 1u) {
                if (col + q < p.n) {
                    if (p.accumulate != 0u) {
                        c[base + q] = c[base + q] + v[q];
                    } else {
                        c[base + q] = v[q];
                    }
                }
            }
        }
    }
}
