//! [`Op`]: every op the dispatcher runs, and what it needs to know about each.
//!
//! Adding an op adds one variant here and one row in each `match` below; the
//! compiler points at every row (no arm catches a new op by accident).

/// An op the dispatcher decides for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
#[allow(missing_docs)] // Each variant is the `Context` method of the same name.
pub enum Op {
    Sum,
    Dot,
    Argmax,
    Argmin,
    Min,
    Max,
    Add,
    Sub,
    Mul,
    Scale,
    Axpy,
    Fill,
    Sequence,
    AdjacentDifference,
    InclusiveScan,
    ExclusiveScan,
    CompactIf,
    Compact,
    CountIf,
    ReduceByKey,
    InclusiveScanByKey,
    ExclusiveScanByKey,
    Unique,
    RunLengthEncode,
    Partition,
    SegmentedReduce,
    Sort,
    SortByKey,
    Histogram,
    Gather,
    LowerBound,
    UpperBound,
    Scatter,
    Transpose,
    Matmul,
    Merge,
    MergeByKey,
    Slice,
    /// `Context::map` with a user [`crate::MapKernel`].
    Map,
    /// `Context::map_reduce` with a user [`crate::MapKernel`].
    MapReduce,
    /// `Context::run_wgsl`: a user's own WGSL.
    RunWgsl,
}

impl Op {
    /// Every op, in declaration order.
    pub const ALL: [Op; 41] = {
        use Op::*;
        [
            Sum,
            Dot,
            Argmax,
            Argmin,
            Min,
            Max,
            Add,
            Sub,
            Mul,
            Scale,
            Axpy,
            Fill,
            Sequence,
            AdjacentDifference,
            InclusiveScan,
            ExclusiveScan,
            CompactIf,
            Compact,
            CountIf,
            ReduceByKey,
            InclusiveScanByKey,
            ExclusiveScanByKey,
            Unique,
            RunLengthEncode,
            Partition,
            SegmentedReduce,
            Sort,
            SortByKey,
            Histogram,
            Gather,
            LowerBound,
            UpperBound,
            Scatter,
            Transpose,
            Matmul,
            Merge,
            MergeByKey,
            Slice,
            Map,
            MapReduce,
            RunWgsl,
        ]
    };

    /// The ops that `tandem calibrate` measures: those that are their own curve.
    pub fn calibrated() -> impl Iterator<Item = Op> {
        Op::ALL.into_iter().filter(|op| op.is_calibrated())
    }

    /// The op's name: its `Context` method, and its key in the profile.
    pub fn name(self) -> &'static str {
        use Op::*;
        match self {
            Sum => "sum",
            Dot => "dot",
            Argmax => "argmax",
            Argmin => "argmin",
            Min => "min",
            Max => "max",
            Add => "add",
            Sub => "sub",
            Mul => "mul",
            Scale => "scale",
            Axpy => "axpy",
            Fill => "fill",
            Sequence => "sequence",
            AdjacentDifference => "adjacent_difference",
            InclusiveScan => "inclusive_scan",
            ExclusiveScan => "exclusive_scan",
            CompactIf => "compact_if",
            Compact => "compact",
            CountIf => "count_if",
            ReduceByKey => "reduce_by_key",
            InclusiveScanByKey => "inclusive_scan_by_key",
            ExclusiveScanByKey => "exclusive_scan_by_key",
            Unique => "unique",
            RunLengthEncode => "run_length_encode",
            Partition => "partition",
            SegmentedReduce => "segmented_reduce",
            Sort => "sort",
            SortByKey => "sort_by_key",
            Histogram => "histogram",
            Gather => "gather",
            LowerBound => "lower_bound",
            UpperBound => "upper_bound",
            Scatter => "scatter",
            Transpose => "transpose",
            Matmul => "matmul",
            Merge => "merge",
            MergeByKey => "merge_by_key",
            Slice => "slice",
            Map => "map",
            MapReduce => "map_reduce",
            RunWgsl => "run_wgsl",
        }
    }

    /// The op whose measured curve predicts this one: ops that cost alike share
    /// one, so that calibration stays short.
    pub fn curve(self) -> Op {
        use Op::*;
        match self {
            Sum => Sum,
            Dot => Dot,
            Argmax | Argmin | Min | Max => Argmax,
            Add | Sub | Mul => Add,
            // One pass writing one element per element, as scale.
            Scale | Fill | Sequence | AdjacentDifference => Scale,
            Axpy => Axpy,
            InclusiveScan | ExclusiveScan => InclusiveScan,
            // Flag, scan and compaction, as compact_if (which they call).
            CompactIf | Compact | CountIf | ReduceByKey | InclusiveScanByKey
            | ExclusiveScanByKey | Unique | RunLengthEncode | Partition | SegmentedReduce => {
                CompactIf
            }
            Sort => Sort,
            SortByKey => SortByKey,
            Histogram => Histogram,
            // Random reads of one input, as gather.
            Gather | LowerBound | UpperBound => Gather,
            Scatter => Scatter,
            Transpose => Transpose,
            // Never predicted (slice decides by where the data is); a copy, as scale.
            Slice => Scale,
            Matmul => Matmul,
            Merge | MergeByKey => Merge,
            // A user's WGSL is predicted as the light calibration map kernel.
            Map | RunWgsl => Map,
            MapReduce => MapReduce,
        }
    }

    /// Whether `tandem calibrate` measures this op's own curve.
    pub fn is_calibrated(self) -> bool {
        self.curve() == self
    }

    /// Whether the op can run split between the GPU and the CPU at once
    /// (element-wise ops, reductions, map kernels): its call passes a split.
    pub fn splittable(self) -> bool {
        use Op::*;
        match self {
            Sum | Dot | Argmax | Argmin | Min | Max | Add | Sub | Mul | Scale | Axpy | Map
            | MapReduce => true,
            Fill | Sequence | AdjacentDifference | InclusiveScan | ExclusiveScan | CompactIf
            | Compact | CountIf | ReduceByKey | InclusiveScanByKey | ExclusiveScanByKey
            | Unique | RunLengthEncode | Partition | SegmentedReduce | Sort | SortByKey
            | Histogram | Gather | LowerBound | UpperBound | Scatter | Transpose | Matmul
            | Merge | MergeByKey | Slice | RunWgsl => false,
        }
    }

    /// The op named `name` ([`Op::name`]), if any.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }

    /// A dense index (0..[`Op::ALL`]`.len()`), for tables indexed by op.
    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_indices_and_curves_agree() {
        for (i, op) in Op::ALL.into_iter().enumerate() {
            assert_eq!(op.index(), i, "{op}: ALL is in declaration order");
            assert_eq!(Op::from_name(op.name()), Some(op));
            // A curve is measured: it is its own curve.
            assert!(op.curve().is_calibrated(), "{op}");
        }
        assert_eq!(Op::calibrated().count(), 18);
        assert_eq!(Op::Min.curve(), Op::Argmax);
        assert_eq!(Op::RunWgsl.curve(), Op::Map);
        assert_eq!(Op::from_name("nope"), None);
    }
}
