//! `tandem-mpi`: tandem's distributed world under `mpirun` (cargo feature `mpi`).
//!
//! ```text
//! mpirun -np 3 target/release/tandem-mpi check ops       # every op against one context
//! mpirun -np 3 target/release/tandem-mpi check errors    # an error on one rank, on every rank
//! mpirun -np 3 target/release/tandem-mpi check panic     # a panicking rank aborts the job
//! RAYON_NUM_THREADS=1 mpirun -np 2 target/release/tandem-mpi bench   # strong scaling
//! ```
//!
//! The checks print one `ok` line per rank and exit 0, or name what differed
//! and exit 1 (which makes mpirun end the job).

mod bench;
mod check;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "tandem-mpi", about = "tandem's distributed world under mpirun")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs one check on every rank (the MPI tests launch these).
    Check {
        /// ops | errors | panic
        case: String,
    },
    /// Strong scaling of sum, scan, sort and histogram: the world's time against
    /// one rank alone on the whole array.
    Bench {
        /// Sizes as powers of two.
        #[arg(long, value_delimiter = ',', default_value = "22,24")]
        sizes: Vec<u32>,
        /// Timed repetitions per case (the best is kept).
        #[arg(long, default_value_t = 5)]
        reps: usize,
        /// Ops to run.
        #[arg(long, value_delimiter = ',', default_value = "sum,scan,sort,histogram")]
        ops: Vec<String>,
    },
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Check { case } => check::run(&case),
        Command::Bench { sizes, reps, ops } => bench::run(&sizes, reps, &ops),
    };
    if let Err(e) = code {
        eprintln!("tandem-mpi: {e}");
        std::process::exit(1);
    }
}
