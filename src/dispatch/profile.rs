//! The measured profile of one machine: what `tandem calibrate` writes and
//! `Policy::Auto` reads.
//!
//! A profile belongs to one adapter, driver, CPU thread count and tandem version;
//! its file name carries a hash of that key, and loading checks every field again,
//! so a profile from another machine, driver or release is never trusted. A file
//! that does not parse, or holds a negative, infinite or unordered number, is
//! ignored with a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The profile file format; a file with another number is stale.
pub const FORMAT: u32 = 2;

/// Time against work for one op on one side: `(work, seconds)` points with the
/// work increasing. Work is the element count (multiply-adds for matmul).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Curve {
    /// Measured `(work, seconds)` points, work increasing.
    pub points: Vec<[f64; 2]>,
}

impl Curve {
    /// The predicted seconds for `work`: linear between measured points; below
    /// the first, linear from `floor` seconds at zero work; above the last, in
    /// proportion to the work (the largest point runs at full throughput).
    pub fn predict(&self, work: f64, floor: f64) -> Option<f64> {
        let (first, last) = (self.points.first()?, self.points.last()?);
        if work <= first[0] {
            let floor = floor.min(first[1]);
            return Some(floor + (first[1] - floor) * (work / first[0]));
        }
        if work >= last[0] {
            return Some(last[1] * (work / last[0]));
        }
        let i = self.points.partition_point(|p| p[0] < work);
        let ([w0, t0], [w1, t1]) = (self.points[i - 1], self.points[i]);
        Some(t0 + (t1 - t0) * (work - w0) / (w1 - w0))
    }

    fn check(&self) -> std::result::Result<(), String> {
        let mut prev = 0.0;
        for &[w, t] in &self.points {
            if !(w.is_finite() && t.is_finite() && w > prev && t > 0.0) {
                return Err(format!(
                    "point ({w}, {t}) is not positive, finite and increasing"
                ));
            }
            prev = w;
        }
        Ok(())
    }
}

/// One op's curves: the CPU side, and the GPU side with its inputs already resident.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OpCurves {
    /// The CPU side, host data in and out.
    pub cpu: Curve,
    /// The GPU side, inputs resident and the result left there (a scalar result read back).
    pub gpu: Curve,
}

/// A transfer's cost: `fixed_s + bytes / bytes_per_s`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Transfer {
    /// Seconds per transfer regardless of size (a submit and a wait).
    pub fixed_s: f64,
    /// Sustained bytes per second.
    pub bytes_per_s: f64,
}

impl Transfer {
    /// The predicted seconds to move `bytes`; nothing when there is nothing to move.
    pub fn seconds(&self, bytes: u64) -> f64 {
        if bytes == 0 {
            0.0
        } else {
            self.fixed_s + bytes as f64 / self.bytes_per_s
        }
    }
}

/// The identity of the machine a profile belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileKey {
    /// The adapter's name.
    pub adapter: String,
    /// The graphics API (Vulkan, Metal, Dx12, Gl).
    pub backend: String,
    /// The driver and its version, as the adapter reports them.
    pub driver: String,
    /// rayon's thread count.
    pub cpu_threads: usize,
    /// The tandem release that measured it.
    pub tandem_version: String,
}

impl ProfileKey {
    /// The file name of this key's profile: readable, and unique through a hash.
    pub fn file_name(&self) -> String {
        let text = format!(
            "{}\n{}\n{}\n{}\n{}",
            self.adapter, self.backend, self.driver, self.cpu_threads, self.tandem_version
        );
        // FNV-1a: stable across Rust releases, unlike std's hasher.
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
        });
        let name: String = self
            .adapter
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(40)
            .collect();
        format!("profile-{name}-{hash:016x}.json")
    }
}

/// What calibration measured on one machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The file format ([`FORMAT`]).
    pub format: u32,
    /// The machine it was measured on.
    pub key: ProfileKey,
    /// When, in seconds since the Unix epoch.
    pub created_unix_s: u64,
    /// One empty submission and its wait, in seconds: the GPU's fixed cost per op.
    pub gpu_fixed_s: f64,
    /// Host to GPU.
    pub upload: Transfer,
    /// GPU to host.
    pub readback: Transfer,
    /// Each calibrated op's curves, by op name.
    pub ops: BTreeMap<String, OpCurves>,
    /// A measured split's time over the model's prediction for it, which assumes
    /// the GPU and CPU parts do not slow each other: about 1 for a GPU with its own
    /// memory, more where both sides share cores (a software adapter) or memory
    /// bandwidth. Auto splits only where the prediction times this still wins.
    pub split_factor: f64,
}

/// The one field every format has: read first, so that a file of another
/// format is reported as stale rather than as corrupt.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

impl Profile {
    /// Fails unless every number is positive and finite and every curve increases.
    pub fn validate(&self) -> std::result::Result<(), String> {
        if self.format != FORMAT {
            return Err(format!(
                "format {} (this tandem reads {FORMAT})",
                self.format
            ));
        }
        let ok = |x: f64| x.is_finite() && x >= 0.0;
        if !(ok(self.gpu_fixed_s)
            && ok(self.upload.fixed_s)
            && ok(self.readback.fixed_s)
            && ok(self.upload.bytes_per_s)
            && self.upload.bytes_per_s > 0.0
            && ok(self.readback.bytes_per_s)
            && self.readback.bytes_per_s > 0.0)
        {
            return Err("a fixed cost or bandwidth is negative, zero or not finite".into());
        }
        if !(self.split_factor.is_finite() && self.split_factor > 0.0) {
            return Err(format!(
                "split factor {} is not positive and finite",
                self.split_factor
            ));
        }
        for (op, c) in &self.ops {
            c.cpu.check().map_err(|e| format!("{op} (cpu): {e}"))?;
            c.gpu.check().map_err(|e| format!("{op} (gpu): {e}"))?;
        }
        Ok(())
    }

    /// The work below which every op is faster on the CPU than the GPU's fixed
    /// cost alone (one empty submission): the least of [`Profile::cpu_only_below_for`].
    pub fn cpu_only_below(&self) -> f64 {
        self.ops
            .values()
            .map(|c| self.cpu_only_below_in(c))
            .fold(f64::INFINITY, f64::min)
            .min(u32::MAX as f64)
    }

    /// The work below which `op` (a calibrated op's name) finishes on the CPU
    /// before the GPU's fixed cost alone, so that no GPU run or split of it can
    /// win on host data and Auto need not predict; 0 when the op is not here.
    pub fn cpu_only_below_for(&self, op: &str) -> f64 {
        self.ops
            .get(op)
            .map_or(0.0, |c| self.cpu_only_below_in(c).min(u32::MAX as f64))
    }

    fn cpu_only_below_in(&self, c: &OpCurves) -> f64 {
        let fixed = self.gpu_fixed_s;
        let p = &c.cpu.points;
        match p.iter().position(|&[_, t]| t >= fixed) {
            Some(0) => 0.0,
            Some(i) => {
                let ([w0, t0], [w1, t1]) = (p[i - 1], p[i]);
                w0 + (w1 - w0) * (fixed - t0) / (t1 - t0)
            }
            // Beyond the last point the model scales in proportion to the work.
            None => p.last().map_or(0.0, |&[w, t]| w * fixed / t),
        }
    }

    /// Writes the profile as JSON to `path`, creating its folder.
    ///
    /// # Errors
    /// [`Error::Io`] when the folder or file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |e: std::io::Error| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        // Write then rename, so that a reader never sees half a file.
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }
}

/// The folder profiles live in: `TANDEM_CACHE_DIR`, else the user's cache folder
/// (`~/.cache/tandem` on Linux, `~/Library/Caches/tandem` on macOS,
/// `%LOCALAPPDATA%\tandem` on Windows).
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("TANDEM_CACHE_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => dirs::cache_dir().map(|d| d.join("tandem")),
    }
}

/// What loading a profile found.
#[derive(Debug, Clone, PartialEq)]
pub enum ProfileStatus {
    /// A valid profile for this machine, from this file.
    Loaded(PathBuf),
    /// Set through the builder or measured by [`crate::Context::calibrate`].
    Given,
    /// No profile for this machine: Auto uses its conservative built-in rules.
    Missing(PathBuf),
    /// A file was there but not trusted, and why.
    Ignored(PathBuf, String),
    /// No cache folder, or no GPU to profile.
    Unavailable(String),
}

impl std::fmt::Display for ProfileStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProfileStatus::Loaded(p) => write!(f, "measured profile {}", p.display()),
            ProfileStatus::Given => f.write_str("profile set by the program"),
            ProfileStatus::Missing(p) => write!(
                f,
                "no profile for this machine at {}: Auto uses conservative built-in rules; run `tandem calibrate` to measure",
                p.display()
            ),
            ProfileStatus::Ignored(p, why) => write!(
                f,
                "ignored the profile {} ({why}): Auto uses conservative built-in rules; run `tandem calibrate` again",
                p.display()
            ),
            ProfileStatus::Unavailable(why) => write!(f, "no profile: {why}"),
        }
    }
}

/// Reads the profile for `key` from `dir`, trusting it only when it is whole,
/// sane and measured on this very machine, driver and release.
pub fn load(dir: &Path, key: &ProfileKey) -> (Option<Profile>, ProfileStatus) {
    let path = dir.join(key.file_name());
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (None, ProfileStatus::Missing(path))
        }
        Err(e) => return (None, ProfileStatus::Ignored(path, e.to_string())),
    };
    let corrupt =
        |e: serde_json::Error| ProfileStatus::Ignored(path.clone(), format!("corrupt: {e}"));
    match serde_json::from_str::<FormatOnly>(&text) {
        Ok(f) if f.format != FORMAT => {
            let why = format!(
                "stale: format {} (this tandem reads {FORMAT}); run `tandem calibrate`",
                f.format
            );
            return (None, ProfileStatus::Ignored(path, why));
        }
        Ok(_) => {}
        Err(e) => return (None, corrupt(e)),
    }
    let profile: Profile = match serde_json::from_str(&text) {
        Ok(p) => p,
        Err(e) => return (None, corrupt(e)),
    };
    if let Err(why) = profile.validate() {
        return (
            None,
            ProfileStatus::Ignored(path, format!("corrupt: {why}")),
        );
    }
    if profile.key != *key {
        return (
            None,
            ProfileStatus::Ignored(
                path,
                format!("stale: measured for {:?}, this is {:?}", profile.key, key),
            ),
        );
    }
    (Some(profile), ProfileStatus::Loaded(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curves_interpolate_and_extrapolate() {
        let c = Curve {
            points: vec![[100.0, 1.0], [200.0, 3.0]],
        };
        assert_eq!(c.predict(150.0, 0.0), Some(2.0));
        assert_eq!(c.predict(400.0, 0.0), Some(6.0));
        assert_eq!(c.predict(50.0, 0.0), Some(0.5));
        assert_eq!(c.predict(0.0, 0.8), Some(0.8));
        assert_eq!(Curve::default().predict(1.0, 0.0), None);
    }

    #[test]
    fn file_names_differ_by_key() {
        let k = ProfileKey {
            adapter: "llvmpipe (LLVM 19)".into(),
            backend: "Vulkan".into(),
            driver: "mesa 25".into(),
            cpu_threads: 2,
            tandem_version: "0.1.0".into(),
        };
        let mut k2 = k.clone();
        k2.driver = "mesa 26".into();
        assert_ne!(k.file_name(), k2.file_name());
        assert!(k.file_name().starts_with("profile-llvmpipe--llvm-19--"));
    }
}
