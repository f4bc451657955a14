//! # tandem
//!
//! Data-parallel computing on either side: each op runs as a WGSL compute
//! shader on any GPU wgpu reaches (Vulkan, Metal, DX12, GL) or as multicore CPU
//! code on rayon, chosen per call by a dispatcher. Both sides share one
//! [`Buffer`] type and give the same answers (bit for bit for integers; within
//! a documented tolerance for float sums).
//!
//! ```
//! # fn main() -> Result<(), tandem::Error> {
//! let ctx = tandem::Context::new()?; // Auto: GPU when it pays, CPU otherwise
//! let x = ctx.upload(&[1.0f32, 2.0, 3.0, 4.0])?;
//! let y = ctx.scale(&x, 2.0)?;
//! assert_eq!(ctx.sum(&y)?, 20.0);
//! assert_eq!(ctx.max(&x)?, Some(4.0));
//! assert_eq!(ctx.argmin(&x)?, Some(0));
//! let run = ctx.last_run().unwrap();
//! println!("{} ran on the {:?}: {}", run.op, run.side, run.reason);
//! # Ok(()) }
//! ```
//!
//! Policies: [`Policy::Auto`] (the default, or `TANDEM_BACKEND=auto`), [`Policy::Cpu`]
//! and [`Policy::Gpu`]. `ctx.with_policy(Policy::Cpu)` is a cheap view that shares
//! the backends. `ARCHITECTURE.md` in the repository is the map of the code.

#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod buffer;
mod calibrate;
mod context;
pub mod cpu;
pub mod dispatch;
pub mod dist;
pub mod element;
pub mod error;
pub mod gpu;
mod host;
pub mod host_pool;
pub mod kernel;
pub mod ops;
pub mod testing;
pub mod workloads;

pub use buffer::{Buffer, Residency};
pub use context::{Context, ContextBuilder, Policy, SimulatedFault, StreamStats};
pub use dispatch::profile::Profile;
pub use dispatch::{Op, Reason, RunRecord, Side};
pub use element::{Element, ScalarType};
pub use error::{Error, ErrorKind, Result};
pub use gpu::pool::DevicePoolStats;
pub use gpu::{list_adapters, AdapterSummary, GpuInfo};
pub use host_pool::HostPoolStats;
pub use kernel::MapKernel;
pub use ops::by_key::ReduceOp;
pub use ops::compact::Compare;

/// The README's program, compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
