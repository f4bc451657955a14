//! `sort` and `sort_by_key` on every side against plain sequential references:
//! the awkward sizes x data patterns per key type, float specials against
//! `total_cmp`, stability with many duplicate keys, binding windows, and bad input.
//! (Grids past 65,535 workgroups are covered by a unit test in `src/ops/sort/gpu.rs`,
//! which can shrink the tiles: through the public API it would take 2^28 keys.)

mod common;

use std::cmp::Ordering;

use common::{data, patterns, sides, sizes, Pattern, TestElement};
use tandem::{Context, ErrorKind, Policy, Side};

/// The reference order: `total_cmp` for floats, `cmp` for integers, and the raw
/// bits for exact comparisons.
trait SortElement: TestElement {
    fn total(a: &Self, b: &Self) -> Ordering;
    fn bits(self) -> u64;
}

impl SortElement for u32 {
    fn total(a: &Self, b: &Self) -> Ordering {
        a.cmp(b)
    }
    fn bits(self) -> u64 {
        self as u64
    }
}
impl SortElement for i32 {
    fn total(a: &Self, b: &Self) -> Ordering {
        a.cmp(b)
    }
    fn bits(self) -> u64 {
        self as u32 as u64
    }
}
impl SortElement for f32 {
    fn total(a: &Self, b: &Self) -> Ordering {
        a.total_cmp(b)
    }
    fn bits(self) -> u64 {
        self.to_bits() as u64
    }
}
impl SortElement for f64 {
    fn total(a: &Self, b: &Self) -> Ordering {
        a.total_cmp(b)
    }
    fn bits(self) -> u64 {
        self.to_bits()
    }
}

/// A plain stable sort by the reference order.
fn reference_sort<T: SortElement>(x: &[T]) -> Vec<T> {
    let mut v = x.to_vec();
    v.sort_by(T::total);
    v
}

/// A plain stable sort of (key, value) pairs by key.
fn reference_sort_by_key<K: SortElement, V: SortElement>(k: &[K], v: &[V]) -> (Vec<K>, Vec<V>) {
    let mut pairs: Vec<(K, V)> = k.iter().copied().zip(v.iter().copied()).collect();
    pairs.sort_by(|a, b| K::total(&a.0, &b.0));
    pairs.into_iter().unzip()
}

fn same_bits<T: SortElement>(what: &str, got: &[T], want: &[T]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    if let Some(i) = (0..got.len()).find(|&i| got[i].bits() != want[i].bits()) {
        panic!(
            "{what}: first difference at {i}: got {:?}, want {:?}",
            got[i], want[i]
        );
    }
}

/// Sizes x patterns, trimmed to keep the suite quick on a software GPU (this
/// radix sort runs at about 1 M keys/s on lavapipe and 0.2 M on llvmpipe GL):
/// the CPU gets every size with most patterns; the GPU every pattern up to
/// 70,000 keys, random data above, and one 2048^2 size only when `big`.
fn cases<T: TestElement>(side: &str, big: bool) -> Vec<(usize, Pattern)> {
    let gpu = side == "gpu";
    let mut v = Vec::new();
    for n in sizes() {
        for p in patterns::<T>() {
            let keep = match n {
                0..=70_000 => true,
                70_001..=400_000 if gpu => p == Pattern::Random,
                70_001..=400_000 => {
                    matches!(p, Pattern::Random | Pattern::SmallInts | Pattern::Special)
                }
                _ if gpu => big && p == Pattern::Random && n % 2 == 1,
                _ => p == Pattern::Random,
            };
            if keep {
                v.push((n, p));
            }
        }
    }
    v
}

fn sort_parity<T: SortElement>(big: bool) {
    let _gpu = common::gpu_serial();
    for (side, ctx) in sides() {
        for (n, pattern) in cases::<T>(side, big) {
            let xs = data::<T>(pattern, n, 3);
            let what = format!(
                "{side} sort {} n={n} {pattern:?}",
                std::any::type_name::<T>()
            );
            let x = ctx.upload(&xs).unwrap();
            let got = ctx.sort(&x).unwrap().to_vec().unwrap();
            same_bits(&what, &got, &reference_sort(&xs));
            // The input is left alone.
            same_bits(&what, &x.to_vec().unwrap(), &xs);
        }
    }
}

#[test]
fn sort_u32_matches_the_reference() {
    sort_parity::<u32>(true);
}

#[test]
fn sort_i32_matches_the_reference() {
    sort_parity::<i32>(false);
}

#[test]
fn sort_f32_matches_the_reference() {
    sort_parity::<f32>(false);
}

#[test]
fn sort_f64_runs_on_the_cpu_and_is_refused_by_the_gpu() {
    let _gpu = common::gpu_serial();
    let cpu = common::context().with_policy(Policy::Cpu);
    for n in [0, 1, 2, 383, 384, 385, 100_003, 300_000] {
        for pattern in [Pattern::Random, Pattern::Special, Pattern::SmallInts] {
            let xs = data::<f64>(pattern, n, 4);
            let x = cpu.upload(&xs).unwrap();
            let what = format!("cpu sort f64 n={n} {pattern:?}");
            same_bits(
                &what,
                &cpu.sort(&x).unwrap().to_vec().unwrap(),
                &reference_sort(&xs),
            );
            let v: Vec<u32> = (0..n as u32).collect();
            let (k, v) = cpu.sort_by_key(&x, &cpu.upload(&v).unwrap()).unwrap();
            let (wk, wv) = reference_sort_by_key(&xs, &(0..n as u32).collect::<Vec<_>>());
            same_bits(&what, &k.to_vec().unwrap(), &wk);
            same_bits(&what, &v.to_vec().unwrap(), &wv);
        }
    }
    if let Some(gpu) = common::gpu() {
        let x = gpu.upload(&[2.0f64, 1.0]).unwrap();
        let e = gpu.sort(&x).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        let auto = gpu.with_policy(Policy::Auto);
        assert_eq!(auto.sort(&x).unwrap().to_vec().unwrap(), [1.0, 2.0]);
        assert_eq!(auto.last_run().unwrap().side, Side::Cpu);
        // 32-bit keys with 64-bit values: CPU only as well.
        let k = gpu.upload(&[2u32, 1]).unwrap();
        let e = gpu.sort_by_key(&k, &x).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unsupported, "{e}");
        let (k, v) = auto.sort_by_key(&k, &x).unwrap();
        assert_eq!(k.to_vec().unwrap(), [1, 2]);
        assert_eq!(v.to_vec().unwrap(), [1.0, 2.0]);
    }
}

/// Every float special, NaN payloads and signs included, in a shuffled order.
fn specials_f32() -> Vec<f32> {
    let mut v = vec![
        f32::NAN,
        -f32::NAN,
        f32::from_bits(0x7FC0_0001),
        f32::from_bits(0xFFC0_0001),
        f32::from_bits(0x7F80_0001), // signalling NaN
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        f32::MIN_POSITIVE,
        -f32::MIN_POSITIVE,
        f32::from_bits(1), // smallest subnormal
        f32::from_bits(0x8000_0001),
        f32::MAX,
        f32::MIN,
        1.0,
        -1.0,
        f32::EPSILON,
    ];
    let base = v.clone();
    for i in 0..2000 {
        v.push(base[(i * 7) % base.len()]);
        v.push((i as f32 - 1000.0) * 0.37);
    }
    // A fixed shuffle.
    let n = v.len();
    for i in 0..n {
        v.swap(i, (i * 7919 + 13) % n);
    }
    v
}

#[test]
fn float_specials_follow_total_cmp_bit_for_bit() {
    let _gpu = common::gpu_serial();
    let xs = specials_f32();
    let want = reference_sort(&xs);
    // The documented order at the ends.
    assert_eq!(want[0].to_bits(), 0xFFC0_0001);
    assert!(want.last().unwrap().is_nan());
    for (side, ctx) in sides() {
        for n in [xs.len(), 18, 5, 300] {
            let part = &xs[..n];
            let x = ctx.upload(part).unwrap();
            let got = ctx.sort(&x).unwrap().to_vec().unwrap();
            same_bits(
                &format!("{side} specials n={n}"),
                &got,
                &reference_sort(part),
            );
            let idx: Vec<u32> = (0..n as u32).collect();
            let (k, v) = ctx.sort_by_key(&x, &ctx.upload(&idx).unwrap()).unwrap();
            let (wk, wv) = reference_sort_by_key(part, &idx);
            same_bits(
                &format!("{side} specials by key n={n}"),
                &k.to_vec().unwrap(),
                &wk,
            );
            same_bits(
                &format!("{side} specials by key n={n}"),
                &v.to_vec().unwrap(),
                &wv,
            );
        }
    }
}

fn stable_by_key<K: SortElement, V: SortElement>() {
    let _gpu = common::gpu_serial();
    for (side, ctx) in sides() {
        for n in [
            0, 1, 2, 3, 255, 256, 257, 383, 384, 4095, 4096, 4097, 65_537, 300_007,
        ] {
            for pattern in [
                Pattern::SmallInts,
                Pattern::Constant,
                Pattern::Random,
                Pattern::Reversed,
            ] {
                if n > 70_000
                    && (pattern == Pattern::Reversed
                        || side == "gpu" && pattern != Pattern::SmallInts)
                {
                    continue;
                }
                let ks = data::<K>(pattern, n, 5);
                // Values that name their input position, in V.
                let vs: Vec<V> = (0..n).map(|i| V::from_i64(i as i64 % 1_000_000)).collect();
                let what = format!(
                    "{side} sort_by_key {}->{} n={n} {pattern:?}",
                    std::any::type_name::<K>(),
                    std::any::type_name::<V>()
                );
                let (k, v) = ctx
                    .sort_by_key(&ctx.upload(&ks).unwrap(), &ctx.upload(&vs).unwrap())
                    .unwrap();
                let (wk, wv) = reference_sort_by_key(&ks, &vs);
                same_bits(&what, &k.to_vec().unwrap(), &wk);
                same_bits(&what, &v.to_vec().unwrap(), &wv);
            }
        }
    }
}

#[test]
fn sort_by_key_is_stable_u32_keys() {
    stable_by_key::<u32, u32>();
}

#[test]
fn sort_by_key_is_stable_i32_keys_f32_values() {
    stable_by_key::<i32, f32>();
}

#[test]
fn sort_by_key_is_stable_f32_keys_i32_values() {
    stable_by_key::<f32, i32>();
}

#[test]
fn many_duplicates_in_few_distinct_high_bits() {
    let _gpu = common::gpu_serial();
    // Keys that differ only in one middle byte, and keys that are all equal but
    // one: skipped passes must not break the order or the stability.
    for (side, ctx) in sides() {
        let n = 50_000;
        let ks: Vec<u32> = (0..n)
            .map(|i| 0xAB00_00CD | (((i * 37) % 256) << 16))
            .collect();
        let vs: Vec<u32> = (0..n).collect();
        let (k, v) = ctx
            .sort_by_key(&ctx.upload(&ks).unwrap(), &ctx.upload(&vs).unwrap())
            .unwrap();
        let (wk, wv) = reference_sort_by_key(&ks, &vs);
        same_bits(
            &format!("{side} one varying byte"),
            &k.to_vec().unwrap(),
            &wk,
        );
        same_bits(
            &format!("{side} one varying byte"),
            &v.to_vec().unwrap(),
            &wv,
        );
        let mut ks = vec![7i32; n as usize];
        ks[12_345] = -7;
        let x = ctx.upload(&ks).unwrap();
        let got = ctx.sort(&x).unwrap().to_vec().unwrap();
        same_bits(
            &format!("{side} all equal but one"),
            &got,
            &reference_sort(&ks),
        );
    }
}

#[test]
fn binding_windows_of_a_small_limit() {
    let _gpu = common::gpu_serial();
    if common::gpu().is_none() {
        return;
    }
    // 64 KiB bindings: windows of 16,384 keys, so keys and values are bound in
    // windows and the scatter runs once per pair of windows.
    let ctx = Context::builder()
        .policy(Policy::Gpu)
        .storage_binding_limit(64 << 10)
        .build()
        .unwrap();
    for n in [16_383, 16_384, 16_385, 3 * 16_384 + 7] {
        let xs = data::<f32>(Pattern::Special, n, 6);
        let x = ctx.upload(&xs).unwrap();
        let got = ctx.sort(&x).unwrap().to_vec().unwrap();
        same_bits(&format!("windows sort n={n}"), &got, &reference_sort(&xs));
        let ks = data::<i32>(Pattern::SmallInts, n, 7);
        let vs: Vec<u32> = (0..n as u32).collect();
        let (k, v) = ctx
            .sort_by_key(&ctx.upload(&ks).unwrap(), &ctx.upload(&vs).unwrap())
            .unwrap();
        let (wk, wv) = reference_sort_by_key(&ks, &vs);
        same_bits(
            &format!("windows sort_by_key n={n}"),
            &k.to_vec().unwrap(),
            &wk,
        );
        same_bits(
            &format!("windows sort_by_key n={n}"),
            &v.to_vec().unwrap(),
            &wv,
        );
    }
    // Past what the digit counts allow in one 64 KiB binding (262,144 keys):
    // refused under Policy::Gpu, answered on the CPU under Auto.
    let n = 300_000;
    let xs = data::<u32>(Pattern::Random, n, 8);
    let x = ctx.upload(&xs).unwrap();
    let e = ctx.sort(&x).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::LimitExceeded, "{e}");
    // Auto with a crossover of 1 sends it to the (software) GPU, which refuses.
    let auto = Context::builder()
        .policy(Policy::Auto)
        .storage_binding_limit(64 << 10)
        .gpu_crossover(1)
        .build()
        .unwrap();
    let got = auto.sort(&x).unwrap().to_vec().unwrap();
    same_bits("auto fallback", &got, &reference_sort(&xs));
    let run = auto.last_run().unwrap();
    assert_eq!(run.side, Side::Cpu, "{run:?}");
    assert!(run.fallback.is_some(), "{run:?}");
}

#[test]
fn length_mismatch_is_a_typed_error_and_loses_nothing() {
    let _gpu = common::gpu_serial();
    for (side, ctx) in sides() {
        let k = ctx.upload(&[3u32, 1, 2]).unwrap();
        let v = ctx.upload(&[1.0f32, 2.0]).unwrap();
        let e = ctx.sort_by_key(&k, &v).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::LengthMismatch, "{side}: {e}");
        assert!(e.to_string().contains("sort_by_key"), "{e}");
        assert_eq!(k.to_vec().unwrap(), [3, 1, 2]);
        assert_eq!(v.to_vec().unwrap(), [1.0, 2.0]);
    }
}

#[test]
fn sorted_buffers_chain_on_the_device() {
    let _gpu = common::gpu_serial();
    // The GPU's output stays there and feeds the next op; results still match.
    let Some(gpu) = common::gpu() else { return };
    let xs = data::<u32>(Pattern::Random, 10_007, 9);
    let once = gpu.sort(&gpu.upload(&xs).unwrap()).unwrap();
    let twice = gpu.sort(&once).unwrap();
    let (k, v) = gpu.sort_by_key(&twice, &once).unwrap();
    let want = reference_sort(&xs);
    same_bits("sorted twice", &twice.to_vec().unwrap(), &want);
    same_bits("by itself", &k.to_vec().unwrap(), &want);
    same_bits("by itself", &v.to_vec().unwrap(), &want);
}
