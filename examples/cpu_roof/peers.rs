//! The peers of the CPU floors (issue 18): what a user would otherwise write
//! with rayon, or call from the best radix-sort crates. Shared by
//! `examples/cpu_roof` and the criterion benches (`#[path]`).
#![allow(dead_code)]

use rayon::prelude::*;
use rdst::RadixSort as _;
use voracious_radix_sort::RadixSort as _;

/// A rayon copy into a preallocated buffer.
pub fn copy_into(src: &[u32], dst: &mut [u32]) {
    dst.par_iter_mut().zip(src).for_each(|(d, &s)| *d = s);
}

/// A rayon zip-add into a preallocated buffer.
pub fn zip_add_into(a: &[f32], b: &[f32], out: &mut [f32]) {
    out.par_iter_mut()
        .zip(a.par_iter().zip(b))
        .for_each(|(o, (&x, &y))| *o = x + y);
}

/// voracious_radix_sort's multithreaded sort, on every rayon thread.
pub fn voracious_mt<T: voracious_radix_sort::Radixable<K>, K: voracious_radix_sort::RadixKey>(
    v: &mut [T],
) {
    v.voracious_mt_sort(rayon::current_num_threads());
}

/// rdst's sort (multithreaded on rayon).
pub fn rdst_sort<T: rdst::RadixKey + Copy + Send + Sync>(v: &mut [T]) {
    v.radix_sort_unstable();
}

/// A key and its value, sorted by the key: the pair type both crates sort
/// (neither sorts a key slice and a value slice together).
#[derive(Copy, Clone, Debug, Default)]
pub struct KeyValue {
    /// The key.
    pub key: u32,
    /// The value.
    pub value: u32,
}

impl PartialOrd for KeyValue {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        self.key.partial_cmp(&other.key)
    }
}

impl PartialEq for KeyValue {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl voracious_radix_sort::Radixable<u32> for KeyValue {
    type Key = u32;
    fn key(&self) -> u32 {
        self.key
    }
}

impl rdst::RadixKey for KeyValue {
    const LEVELS: usize = 4;
    fn get_level(&self, level: usize) -> u8 {
        (self.key >> (level * 8)) as u8
    }
}

/// The sequential histogram loop over [0, 1) with the simple binning.
pub fn histogram_seq(x: &[f32], bins: usize) -> Vec<u32> {
    let mut h = vec![0u32; bins];
    let scale = bins as f32;
    for &v in x {
        if (0.0..1.0).contains(&v) {
            h[((v * scale) as usize).min(bins - 1)] += 1;
        }
    }
    h
}

/// A rayon fold of private histograms, merged, with the simple binning.
pub fn histogram_fold(x: &[f32], bins: usize) -> Vec<u32> {
    let scale = bins as f32;
    x.par_iter()
        .fold(
            || vec![0u32; bins],
            |mut h, &v| {
                if (0.0..1.0).contains(&v) {
                    h[((v * scale) as usize).min(bins - 1)] += 1;
                }
                h
            },
        )
        .reduce(
            || vec![0u32; bins],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(b) {
                    *x += y;
                }
                a
            },
        )
}
