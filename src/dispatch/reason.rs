//! [`Reason`]: why the dispatcher ran a call where it did.

use std::fmt;

/// Why a call ran on the side its [`crate::RunRecord`] names. `Display` gives
/// the sentence; programs and tests match the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    /// The context's policy is `Policy::Cpu`.
    PolicyCpu,
    /// The context's policy is `Policy::Gpu`.
    PolicyGpu,
    /// The input is empty; the answer needs no side.
    EmptyInput,
    /// `Policy::Split` on a context without a GPU: all on the CPU.
    SplitWithoutGpu,
    /// `Policy::Split` after the GPU device was lost: all on the CPU.
    SplitGpuLost,
    /// `Policy::Split` for an element type the GPU has no kernel for.
    SplitNoKernel,
    /// `Policy::Split`, cut in proportion to the profile's throughputs.
    SplitByThroughput,
    /// `Policy::Split` without a profile: halves.
    SplitHalves,
    /// Auto on a context without a GPU adapter.
    NoAdapter,
    /// Auto after the GPU device was lost.
    GpuLost,
    /// Auto, where the GPU has no kernel for this op and element type.
    NoKernel,
    /// Auto with `ContextBuilder::gpu_crossover`: at or above it.
    AboveCrossover,
    /// Auto with `ContextBuilder::gpu_crossover`: below it.
    BelowCrossover,
    /// Auto, host data so small that the CPU finishes before the GPU's fixed
    /// cost alone (the profile's CPU-only size): no prediction made.
    CpuBeforeGpuFixedCost,
    /// Auto: the cost model predicts the CPU faster.
    PredictedCpu,
    /// Auto: the cost model predicts the GPU faster.
    PredictedGpu,
    /// Auto: the cost model predicts a split fastest.
    PredictedSplit,
    /// Auto re-measured an option whose estimate is within its noise of the
    /// choice's (see `dispatch::learn`).
    Exploring,
    /// Auto without a profile: the inputs live only on the GPU.
    NoProfileDataOnGpu,
    /// Auto without a profile on a software adapter.
    NoProfileSoftwareGpu,
    /// Auto without a profile: large work on a hardware GPU.
    NoProfileLargeWork,
    /// Auto without a profile: small work, where the GPU's fixed cost dominates.
    NoProfileSmallWork,
    /// The call was refused before running (its record's `error` says why).
    Refused,
    /// `slice` of data on the GPU: a device-to-device copy.
    SliceOnDevice,
    /// `slice` under `Policy::Cpu` of data only on the GPU: only the range is read back.
    SliceReadBack,
    /// `slice` of data on the host: a host copy.
    SliceOnHost,
}

impl Reason {
    /// The sentence `Display` writes.
    pub fn as_str(self) -> &'static str {
        use Reason::*;
        match self {
            PolicyCpu => "Policy::Cpu",
            PolicyGpu => "Policy::Gpu",
            EmptyInput => "empty input: answered on the host",
            SplitWithoutGpu => "Policy::Split without a GPU: all on the CPU",
            SplitGpuLost => "Policy::Split, but the GPU device was lost",
            SplitNoKernel => "Policy::Split, but no GPU kernel for this element type",
            SplitByThroughput => "Policy::Split, in proportion to measured throughput",
            SplitHalves => "Policy::Split without a profile: halves",
            NoAdapter => "no GPU adapter",
            GpuLost => "the GPU device was lost",
            NoKernel => "no GPU kernel for this element type on this adapter",
            AboveCrossover => "at or above the configured GPU crossover",
            BelowCrossover => "below the configured GPU crossover",
            CpuBeforeGpuFixedCost => {
                "measured profile: the CPU finishes before the GPU's fixed cost alone"
            }
            PredictedCpu => "measured profile: the CPU is predicted faster",
            PredictedGpu => "measured profile: the GPU is predicted faster",
            PredictedSplit => "measured profile: a split between GPU and CPU is predicted fastest",
            Exploring => "re-measuring an option whose estimate is within its noise of the choice",
            NoProfileDataOnGpu => {
                "no profile: inputs live only on the GPU, and reading them back costs more"
            }
            NoProfileSoftwareGpu => "no profile: a software GPU adapter is slower than the CPU",
            NoProfileLargeWork => "no profile: large work on a hardware GPU",
            NoProfileSmallWork => "no profile: small work, where the GPU's fixed cost dominates",
            Refused => "refused before running: see the error",
            SliceOnDevice => "the data lives on the GPU: a device-to-device copy",
            SliceReadBack => "Policy::Cpu: read back only the range",
            SliceOnHost => "the data lives on the host: a host copy",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
