//! The ops `tandem bench` measures: for each, how to make its data, run it from
//! host data to a host result, run it on resident inputs, and run the peer a
//! user would otherwise reach for.

use rayon::prelude::*;
use tandem::{Buffer, Context, Result};

/// Host data of one case at one size.
#[derive(Clone)]
pub enum Data {
    /// Two f32 vectors.
    F32(Vec<f32>, Vec<f32>),
    /// One u32 vector.
    U32(Vec<u32>),
    /// Two square f32 matrices of side `usize`.
    Mat(usize, Vec<f32>, Vec<f32>),
    /// Two u32 vectors (merges: both sorted; searches: sorted, queries).
    U32Pair(Vec<u32>, Vec<u32>),
}

/// The same data as tandem buffers, already where the context wants them.
pub enum Resident {
    /// Two f32 buffers.
    F32(Buffer<f32>, Buffer<f32>),
    /// One u32 buffer.
    U32(Buffer<u32>),
    /// Two square matrices.
    Mat(usize, Buffer<f32>, Buffer<f32>),
    /// Two u32 buffers.
    U32Pair(Buffer<u32>, Buffer<u32>),
}

/// One benchmarked op.
pub struct Case {
    /// The op's name (what `--ops` matches).
    pub op: &'static str,
    /// The peer's name.
    pub peer: &'static str,
    /// Elements per size step (matmul: the matrix side is the square root).
    pub square: bool,
    /// Policy::Split can divide it between GPU and CPU.
    pub splittable: bool,
    make: fn(usize) -> Data,
    run: fn(&Context, &Resident, bool) -> Result<()>,
    peer_fn: fn(&Data),
}

fn f32_data(n: usize) -> Data {
    let a = (0..n)
        .map(|i| ((i.wrapping_mul(7919)) % 1000) as f32 * 0.001)
        .collect();
    let b = (0..n)
        .map(|i| ((i.wrapping_mul(104_729)) % 997) as f32 * 0.002)
        .collect();
    Data::F32(a, b)
}

fn u32_data(n: usize) -> Data {
    let mut s = 0x9E37_79B9u32;
    Data::U32(
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                s
            })
            .collect(),
    )
}

/// Sorted u32 keys in runs of 1..=16 (mean 8.5), as after a `sort`: the by-key cases.
fn run_data(n: usize) -> Data {
    let Data::U32(r) = u32_data(n) else {
        unreachable!()
    };
    let mut keys = Vec::with_capacity(n);
    let (mut k, mut i) = (0u32, 0);
    while keys.len() < n {
        let len = (r[i % n.max(1)] % 16 + 1) as usize;
        keys.extend(std::iter::repeat_n(k, len.min(n - keys.len())));
        k += 1;
        i += 1;
    }
    Data::U32(keys)
}

fn mat_data(n: usize) -> Data {
    let side = (n as f64).sqrt() as usize;
    let Data::F32(a, b) = f32_data(side * side) else {
        unreachable!()
    };
    Data::Mat(side, a, b)
}

/// Uploads `data` through `ctx` (a host copy; GPU contexts upload on first use).
pub fn upload(ctx: &Context, data: &Data) -> Result<Resident> {
    Ok(match data {
        Data::F32(a, b) => Resident::F32(ctx.upload(a)?, ctx.upload(b)?),
        Data::U32(a) => Resident::U32(ctx.upload(a)?),
        Data::Mat(s, a, b) => Resident::Mat(*s, ctx.upload(a)?, ctx.upload(b)?),
        Data::U32Pair(a, b) => Resident::U32Pair(ctx.upload(a)?, ctx.upload(b)?),
    })
}

/// Moves the buffers to the GPU now, when `ctx` has one.
pub fn prefetch(ctx: &Context, r: &Resident) -> Result<()> {
    match r {
        Resident::F32(a, b) | Resident::Mat(_, a, b) => {
            ctx.prefetch(a)?;
            ctx.prefetch(b)
        }
        Resident::U32(a) => ctx.prefetch(a),
        Resident::U32Pair(a, b) => {
            ctx.prefetch(a)?;
            ctx.prefetch(b)
        }
    }
}

fn pair(r: &Resident) -> (&Buffer<f32>, &Buffer<f32>) {
    match r {
        Resident::F32(a, b) | Resident::Mat(_, a, b) => (a, b),
        Resident::U32(_) | Resident::U32Pair(..) => {
            panic!("case data mismatch: a u32 case got f32 buffers")
        }
    }
}

fn one_u32(r: &Resident) -> &Buffer<u32> {
    match r {
        Resident::U32(a) => a,
        _ => panic!("case data mismatch: an f32 case got u32 buffers"),
    }
}

fn f32s(d: &Data) -> (&[f32], &[f32]) {
    match d {
        Data::F32(a, b) | Data::Mat(_, a, b) => (a, b),
        Data::U32(_) | Data::U32Pair(..) => panic!("case data mismatch"),
    }
}

fn u32s(d: &Data) -> &[u32] {
    match d {
        Data::U32(a) => a,
        _ => panic!("case data mismatch"),
    }
}

/// Two sorted u32 halves of `n` elements in all, for merges.
fn sorted_halves(n: usize) -> Data {
    let Data::U32(mut v) = u32_data(n) else {
        unreachable!()
    };
    let mut b = v.split_off(n / 2);
    v.sort_unstable();
    b.sort_unstable();
    Data::U32Pair(v, b)
}

/// `n` sorted u32 keys and `n` random queries, for searches.
fn sorted_and_queries(n: usize) -> Data {
    let Data::U32(mut s) = u32_data(n) else {
        unreachable!()
    };
    s.sort_unstable();
    let q = s.iter().map(|x| x.rotate_left(7)).collect();
    Data::U32Pair(s, q)
}

fn two_u32(r: &Resident) -> (&Buffer<u32>, &Buffer<u32>) {
    match r {
        Resident::U32Pair(a, b) => (a, b),
        _ => panic!("case data mismatch: a pair case got other buffers"),
    }
}

fn u32_pair(d: &Data) -> (&[u32], &[u32]) {
    match d {
        Data::U32Pair(a, b) => (a, b),
        _ => panic!("case data mismatch"),
    }
}

/// Every case, in report order.
pub fn all() -> Vec<Case> {
    vec![
        Case {
            op: "sum",
            peer: "rayon par_iter().sum()",
            square: false,
            splittable: true,
            make: f32_data,
            run: |c, r, _| c.sum(pair(r).0).map(drop),
            peer_fn: |d| {
                std::hint::black_box(f32s(d).0.par_iter().sum::<f32>());
            },
        },
        Case {
            op: "argmax",
            peer: "rayon max_by",
            square: false,
            splittable: true,
            make: f32_data,
            run: |c, r, _| c.argmax(pair(r).0).map(drop),
            peer_fn: |d| {
                std::hint::black_box(
                    f32s(d)
                        .0
                        .par_iter()
                        .enumerate()
                        .max_by(|a, b| a.1.total_cmp(b.1)),
                );
            },
        },
        Case {
            op: "axpy",
            peer: "rayon zip",
            square: false,
            splittable: true,
            make: f32_data,
            run: |c, r, back| {
                let (a, b) = pair(r);
                finish(c.axpy(2.0, a, b)?, back)
            },
            peer_fn: |d| {
                let (a, b) = f32s(d);
                let v: Vec<f32> = a.par_iter().zip(b).map(|(x, y)| 2.0 * x + y).collect();
                std::hint::black_box(v);
            },
        },
        Case {
            op: "inclusive_scan",
            peer: "rayon copy into a preallocated buffer",
            square: false,
            splittable: false,
            make: u32_data,
            run: |c, r, back| finish(c.inclusive_scan(one_u32(r))?, back),
            // The memory roof a scan can reach: one read and one write per
            // element, into memory whose pages are already mapped.
            peer_fn: |d| {
                let x = u32s(d);
                let mut out = preallocated(x.len());
                out.par_iter_mut().zip(x).for_each(|(o, &v)| *o = v);
                std::hint::black_box(&out);
                PREALLOCATED.with(|p| p.replace(out));
            },
        },
        Case {
            op: "sort",
            peer: "rayon par_sort_unstable",
            square: false,
            splittable: false,
            make: u32_data,
            run: |c, r, back| finish(c.sort(one_u32(r))?, back),
            peer_fn: |d| {
                let mut v = u32s(d).to_vec();
                v.par_sort_unstable();
                std::hint::black_box(v);
            },
        },
        Case {
            op: "merge",
            peer: "sequential merge loop",
            square: false,
            splittable: false,
            make: sorted_halves,
            run: |c, r, back| {
                let (a, b) = two_u32(r);
                finish(c.merge(a, b)?, back)
            },
            peer_fn: |d| {
                let (a, b) = u32_pair(d);
                let mut out = Vec::with_capacity(a.len() + b.len());
                let (mut i, mut j) = (0, 0);
                while i < a.len() && j < b.len() {
                    if a[i] <= b[j] {
                        out.push(a[i]);
                        i += 1;
                    } else {
                        out.push(b[j]);
                        j += 1;
                    }
                }
                out.extend_from_slice(&a[i..]);
                out.extend_from_slice(&b[j..]);
                std::hint::black_box(out);
            },
        },
        Case {
            op: "lower_bound",
            peer: "sequential partition_point",
            square: false,
            splittable: false,
            make: sorted_and_queries,
            run: |c, r, back| {
                let (s, q) = two_u32(r);
                finish(c.lower_bound(s, q)?, back)
            },
            peer_fn: |d| {
                let (s, q) = u32_pair(d);
                let v: Vec<u32> = q
                    .iter()
                    .map(|&x| s.partition_point(|&y| y < x) as u32)
                    .collect();
                std::hint::black_box(v);
            },
        },
        Case {
            op: "reduce_by_key",
            peer: "sequential loop",
            square: false,
            splittable: false,
            make: run_data,
            run: |c, r, back| {
                let k = one_u32(r);
                let (a, b) = c.reduce_by_key(k, k, tandem::ReduceOp::Sum)?;
                finish(a, back)?;
                finish(b, back)
            },
            peer_fn: |d| {
                let (mut ok, mut ov) = (Vec::new(), Vec::<u32>::new());
                for &k in u32s(d) {
                    match ov.last_mut() {
                        Some(s) if ok.last() == Some(&k) => *s = s.wrapping_add(k),
                        _ => {
                            ok.push(k);
                            ov.push(k);
                        }
                    }
                }
                std::hint::black_box((ok, ov));
            },
        },
        Case {
            op: "unique",
            peer: "Vec::dedup",
            square: false,
            splittable: false,
            make: run_data,
            run: |c, r, back| finish(c.unique(one_u32(r))?, back),
            peer_fn: |d| {
                let mut v = u32s(d).to_vec();
                v.dedup();
                std::hint::black_box(v);
            },
        },
        Case {
            op: "run_length_encode",
            peer: "sequential loop",
            square: false,
            splittable: false,
            make: run_data,
            run: |c, r, back| {
                let (v, n) = c.run_length_encode(one_u32(r))?;
                finish(v, back)?;
                finish(n, back)
            },
            peer_fn: |d| {
                let (mut vs, mut cs) = (Vec::new(), Vec::<u32>::new());
                for &k in u32s(d) {
                    match cs.last_mut() {
                        Some(c) if vs.last() == Some(&k) => *c += 1,
                        _ => {
                            vs.push(k);
                            cs.push(1);
                        }
                    }
                }
                std::hint::black_box((vs, cs));
            },
        },
        Case {
            op: "partition",
            peer: "Iterator::partition",
            square: false,
            splittable: false,
            make: u32_data,
            run: |c, r, back| {
                let (p, _) = c.partition(one_u32(r), tandem::Compare::Lt, 1 << 31)?;
                finish(p, back)
            },
            peer_fn: |d| {
                let (mut a, b): (Vec<u32>, Vec<u32>) = u32s(d).iter().partition(|&&v| v < 1 << 31);
                a.extend(b);
                std::hint::black_box(a);
            },
        },
        Case {
            op: "histogram",
            peer: "rayon fold of private histograms",
            square: false,
            splittable: false,
            make: f32_data,
            run: |c, r, back| finish(c.histogram(pair(r).0, 256, 0.0, 1.0)?, back),
            peer_fn: |d| {
                let h = f32s(d)
                    .0
                    .par_iter()
                    .fold(
                        || [0u32; 256],
                        |mut h, &x| {
                            if (0.0..1.0).contains(&x) {
                                h[((x * 256.0) as usize).min(255)] += 1;
                            }
                            h
                        },
                    )
                    .reduce(
                        || [0u32; 256],
                        |mut a, b| {
                            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                            a
                        },
                    );
                std::hint::black_box(h);
            },
        },
        Case {
            op: "matmul",
            peer: "faer (rayon)",
            square: true,
            splittable: false,
            make: mat_data,
            run: |c, r, back| match r {
                Resident::Mat(s, a, b) => finish(c.matmul(a, b, *s, *s, *s)?, back),
                _ => panic!("case data mismatch"),
            },
            peer_fn: |d| {
                if let Data::Mat(s, a, b) = d {
                    let mut c = vec![0.0f32; s * s];
                    faer::linalg::matmul::matmul(
                        faer::MatMut::from_row_major_slice_mut(&mut c, *s, *s),
                        faer::Accum::Replace,
                        faer::MatRef::from_row_major_slice(a, *s, *s),
                        faer::MatRef::from_row_major_slice(b, *s, *s),
                        1.0f32,
                        faer::Par::rayon(0),
                    );
                    // As tandem does after faer (see `clear_upper_simd_state`), so
                    // that the peer leaves the threads as fast as it found them.
                    tandem::cpu::clear_upper_simd_state(true);
                    std::hint::black_box(c);
                }
            },
        },
        Case {
            op: "kernel",
            peer: "rayon par_iter map",
            square: false,
            splittable: true,
            make: f32_data,
            run: |c, r, back| {
                let (a, b) = pair(r);
                finish(c.map(heavy_kernel(), [a, b], [])?, back)
            },
            peer_fn: |d| {
                let (a, b) = f32s(d);
                let v: Vec<f32> = a
                    .par_iter()
                    .zip(b)
                    .map(|(&x, &y)| heavy([x, y], []))
                    .collect();
                std::hint::black_box(v);
            },
        },
    ]
}

thread_local! {
    /// The scan peer's output, allocated once per size and reused, as a user's
    /// preallocated buffer is.
    static PREALLOCATED: std::cell::RefCell<Vec<u32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The scan peer's preallocated output of `n` elements (allocated on first use at a size).
fn preallocated(n: usize) -> Vec<u32> {
    let mut v = PREALLOCATED.with(|p| p.take());
    if v.len() != n {
        v = vec![0u32; n];
        v.fill(1); // touch every page now, not in a timed run
    }
    v
}

/// The compute-bound user kernel of the `kernel` case: a few transcendental
/// functions per element, so that neither side is limited by memory.
fn heavy([x, y]: [f32; 2], []: [f32; 0]) -> f32 {
    use tandem::kernel::fns::*;
    sin(cos(sin(x * y + 1.0) + x) + y) * exp(-abs(x)) + sqrt(x * x + y * y)
}

type HeavyKernel = tandem::MapKernel<f32, 2, 0, fn([f32; 2], [f32; 0]) -> f32>;

fn heavy_kernel() -> &'static HeavyKernel {
    static K: std::sync::OnceLock<HeavyKernel> = std::sync::OnceLock::new();
    K.get_or_init(|| {
        // The same expression as `heavy`, as WGSL text; naga validates it here.
        tandem::MapKernel::new(
            "sin(cos(sin(x * y + 1.0) + x) + y) * exp(-abs(x)) + sqrt(x * x + y * y)",
            ["x", "y"],
            [],
            heavy as fn([f32; 2], [f32; 0]) -> f32,
        )
        .expect("the bench kernel is valid WGSL")
    })
}

/// Ends a run: the result in host memory (`back`), or left where it is.
fn finish<T: tandem::Element>(out: Buffer<T>, back: bool) -> Result<()> {
    if back {
        std::hint::black_box(out.into_vec()?);
    }
    Ok(())
}

impl Case {
    /// The data of this case for `n` elements.
    pub fn make(&self, n: usize) -> Data {
        (self.make)(n)
    }
    /// Runs the op and brings its result to host memory.
    pub fn run(&self, ctx: &Context, r: &Resident) -> Result<()> {
        (self.run)(ctx, r, true)
    }
    /// Runs the op and leaves a buffer result where it was produced.
    pub fn run_resident(&self, ctx: &Context, r: &Resident) -> Result<()> {
        (self.run)(ctx, r, false)
    }
    /// Runs the peer.
    pub fn peer(&self, d: &Data) {
        (self.peer_fn)(d)
    }
}
