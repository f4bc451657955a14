//! Scale-out: one array over many members, in one process or across machines
//! on MPI.
//!
//! A [`World`] is a set of members, each a [`crate::Context`] holding one part
//! of every [`DistBuffer`]. Each op is a local step on every member, through
//! that member's own Context (its policy and dispatcher pick its side), plus
//! collective steps between members. The algorithms are written once over a
//! small set of collectives (all-gather, all-to-all with counts, all-reduce of
//! counts, the exclusive scan of per-member totals, and an agreement step),
//! which have two implementations:
//!
//! - [`World::local`]: every member in this process (several GPUs and the CPU of
//!   one machine; [`World::local_all_devices`] builds one of each). Collectives
//!   are memory copies; local steps run on all members at once.
//! - `World::mpi` (cargo feature `mpi`): one member per MPI rank, through rsmpi
//!   over the system's MPI library, under `mpirun`.
//!
//! ```
//! # fn main() -> Result<(), tandem::Error> {
//! use tandem::dist::{Balance, World};
//! use tandem::{Context, Policy};
//! let cpu = || Context::builder().policy(Policy::Cpu).build();
//! let world = World::local(vec![cpu()?, cpu()?, cpu()?])?;
//! let d = world.scatter(&[5u32, 3, 9, 1, 7, 2, 8], Balance::Even)?;
//! assert_eq!(d.part_lens(), [3, 2, 2]);
//! assert_eq!(world.sum(&d)?, 35);
//! assert_eq!(world.sort(&d)?.to_vec()?, [1, 2, 3, 5, 7, 8, 9]);
//! assert_eq!(world.inclusive_scan(&d)?.to_vec()?, [5, 8, 17, 18, 25, 27, 35]);
//! assert_eq!(world.argmax(&d)?, Some(2));
//! let rec = world.last_record().unwrap();
//! println!("{} took {:?}, {:.0}% communicating", rec.op, rec.elapsed, 100.0 * rec.communication_share());
//! # Ok(()) }
//! ```
//!
//! Semantics: every result equals a single context's result on the
//! concatenated array (integers bit for bit; float sums and scans within the
//! association each op documents; sorts identical). Bad arguments that every
//! member sees are the same typed error on every member.
//!
//! Faults never hang a job. A local step that fails on one member (a bad
//! argument only it sees, a GPU failure under `Policy::Gpu`) is returned on
//! every member as [`crate::Error::Member`] naming the first failed member, with
//! that error's kind: members exchange their outcome (the agreement step)
//! before any collective that needs the step's output. Argument checks are
//! agreed too: a bad argument every member got is that plain typed error on
//! every member, one that only some ranks got is `Error::Member` naming the
//! first of them. Under `Policy::Auto` a
//! member whose GPU is lost re-runs its part on its CPU and the job carries on
//! (the dist record shows the fallback). Under MPI a panic on any rank aborts
//! the whole job with the rank and the message (`World::mpi` installs the
//! hook); MPI's own failures abort it too. What this module must never do:
//! enter a collective on some members and not on others.

mod balance;
mod buffer;
mod collectives;
mod histogram;
mod local;
mod matmul;
#[cfg(feature = "mpi")]
mod mpi;
mod record;
mod reduce;
mod scan;
mod sort;
mod world;

pub use balance::Balance;
pub use buffer::DistBuffer;
pub use record::{DistRecord, MemberRecord};
pub use world::World;
