//! The decision: which side runs one call, from the policy, the GPU's state,
//! the cost model's predictions and what the kernel's own runs showed.

use super::cost::{
    balanced_share, predict, CROSSOVER_DEVICE, CROSSOVER_HOST, SPLIT_GAIN, SPLIT_MIN,
};
use super::learn::Knowledge;
use super::profile::Profile;
use super::{Reason, Side, Work};
use crate::error::{Error, Result};
use crate::gpu::GpuBackend;
use crate::Policy;

/// The decision for one call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Decision {
    pub side: Side,
    pub reason: Reason,
    pub predicted_cpu: Option<f64>,
    pub predicted_gpu: Option<f64>,
    /// The predicted time of a split, where one was considered.
    pub predicted_split: Option<f64>,
    /// The GPU's share of the elements under [`Side::Split`] (and, where a
    /// split was considered, the share a split would give it).
    pub gpu_share: f64,
}

impl Decision {
    /// The predicted time of running on `side`, where there is one.
    pub fn predicted(&self, side: Side) -> Option<f64> {
        match side {
            Side::Cpu => self.predicted_cpu,
            Side::Gpu => self.predicted_gpu,
            Side::Split => self.predicted_split,
        }
    }

    pub fn plain(side: Side, reason: Reason) -> Decision {
        Decision {
            side,
            reason,
            predicted_cpu: None,
            predicted_gpu: None,
            predicted_split: None,
            gpu_share: 0.0,
        }
    }
}

/// Auto's choice from estimated times (`split` where a split is possible):
/// the least, where a split must beat the better side by [`SPLIT_GAIN`].
pub(crate) fn choose(cpu: f64, gpu: f64, split: Option<f64>) -> Side {
    match split {
        Some(t) if t < SPLIT_GAIN * cpu.min(gpu) => Side::Split,
        _ if gpu < cpu => Side::Gpu,
        _ => Side::Cpu,
    }
}

/// The decision for one call.
pub(crate) fn decide(
    policy: Policy,
    gpu: Option<&GpuBackend>,
    crossover: Option<usize>,
    profile: Option<&Profile>,
    learned: &Knowledge,
    w: &Work,
) -> Result<Decision> {
    let plain = |side, reason| Ok(Decision::plain(side, reason));
    // The profile's prediction, scaled by what this kernel's own runs showed.
    let predicted = profile.and_then(|p| predict(p, w)).map(|p| {
        let ratio = |s| learned.of(s).ratio;
        let gpu = ratio(Side::Gpu);
        (
            p.cpu * ratio(Side::Cpu),
            p.gpu * gpu,
            p.gpu_moved * gpu,
            p.split * ratio(Side::Split),
        )
    });
    match policy {
        Policy::Cpu => plain(Side::Cpu, Reason::PolicyCpu),
        Policy::Gpu => {
            let Some(gpu) = gpu else {
                return Err(Error::NoAdapter {
                    reason: "Policy::Gpu needs a GPU, and this context has none".into(),
                });
            };
            gpu.check_alive()?;
            if w.len == 0 {
                return plain(Side::Cpu, Reason::EmptyInput);
            }
            if !w.gpu_supported {
                return Err(w.gpu_gap.error(w));
            }
            plain(Side::Gpu, Reason::PolicyGpu)
        }
        Policy::Split if w.splittable && w.len >= 2 => {
            let Some(gpu) = gpu else {
                return plain(Side::Cpu, Reason::SplitWithoutGpu);
            };
            if gpu.is_lost() {
                return plain(Side::Cpu, Reason::SplitGpuLost);
            }
            if !w.gpu_supported {
                return plain(Side::Cpu, Reason::SplitNoKernel);
            }
            Ok(match predicted {
                Some((cpu, _, gpu_moved, split)) => Decision {
                    side: Side::Split,
                    reason: Reason::SplitByThroughput,
                    predicted_cpu: Some(cpu),
                    predicted_gpu: Some(gpu_moved),
                    predicted_split: Some(split),
                    gpu_share: balanced_share(cpu, gpu_moved),
                },
                None => Decision {
                    gpu_share: 0.5,
                    ..Decision::plain(Side::Split, Reason::SplitHalves)
                },
            })
        }
        Policy::Auto | Policy::Split => {
            let Some(gpu) = gpu else {
                return plain(Side::Cpu, Reason::NoAdapter);
            };
            if gpu.is_lost() {
                return plain(Side::Cpu, Reason::GpuLost);
            }
            if w.len == 0 {
                return plain(Side::Cpu, Reason::EmptyInput);
            }
            if !w.gpu_supported {
                return plain(Side::Cpu, Reason::NoKernel);
            }
            if let Some(c) = crossover {
                return if w.len >= c {
                    plain(Side::Gpu, Reason::AboveCrossover)
                } else {
                    plain(Side::Cpu, Reason::BelowCrossover)
                };
            }
            if let Some((cpu, gpu, gpu_moved, split)) = predicted {
                let can_split = w.splittable && w.inputs_on_host && w.len >= SPLIT_MIN;
                let split = can_split.then_some(split);
                let side = choose(cpu, gpu, split);
                return Ok(Decision {
                    side,
                    reason: match side {
                        Side::Split => Reason::PredictedSplit,
                        Side::Gpu => Reason::PredictedGpu,
                        Side::Cpu => Reason::PredictedCpu,
                    },
                    predicted_cpu: Some(cpu),
                    predicted_gpu: Some(gpu),
                    predicted_split: split,
                    gpu_share: balanced_share(cpu, gpu_moved),
                });
            }
            if w.inputs_on_device && !w.inputs_on_host {
                return plain(Side::Gpu, Reason::NoProfileDataOnGpu);
            }
            if gpu.info.is_software {
                return plain(Side::Cpu, Reason::NoProfileSoftwareGpu);
            }
            let threshold = if w.inputs_on_device {
                CROSSOVER_DEVICE
            } else {
                CROSSOVER_HOST
            };
            if w.len >= threshold {
                plain(Side::Gpu, Reason::NoProfileLargeWork)
            } else {
                plain(Side::Cpu, Reason::NoProfileSmallWork)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_takes_the_least_estimate_and_splits_only_past_split_gain() {
        use Side::*;
        assert_eq!(choose(1.0, 0.98, None), Gpu);
        assert_eq!(choose(1.0, 1.02, None), Cpu);
        assert_eq!(choose(1.0, 1.0, None), Cpu);
        assert_eq!(choose(1.0, 1.2, Some(0.95)), Cpu);
        assert_eq!(choose(1.0, 1.2, Some(0.85)), Split);
    }
}
