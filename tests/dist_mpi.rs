//! The MPI world (cargo feature `mpi`): launches `mpirun -np 1, 2, 3` of the
//! `tandem-mpi` checks, with a time limit on every mpirun (its whole process
//! group is killed on timeout), and checks their output.
//!
//! Needs Open MPI's `mpirun` on PATH (Debian: openmpi-bin). Root and
//! oversubscription (3 ranks on 2 cores) are allowed through Open MPI's
//! environment variables, set here for the child only.
#![cfg(feature = "mpi")]

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest any mpirun here may take.
const LIMIT: Duration = Duration::from_secs(120);

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

fn mpirun(np: usize, args: &[&str], envs: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new("mpirun");
    cmd.args(["-np", &np.to_string()])
        .arg(env!("CARGO_BIN_EXE_tandem-mpi"))
        .args(args)
        .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
        .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        .env("OMPI_MCA_rmaps_base_oversubscribe", "1")
        // One rayon thread per rank: ranks share this machine's cores.
        .env("RAYON_NUM_THREADS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout can end mpirun and every rank.
        .process_group(0);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("mpirun runs (install openmpi-bin for the MPI tests)");
    let (mut so, mut se) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("waiting on mpirun") {
            break Some(s);
        }
        if start.elapsed() > LIMIT {
            let _ = Command::new("kill")
                .args(["-KILL", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let run = Run {
        code: status.and_then(|s| s.code()),
        out: out_reader.join().unwrap_or_default(),
        err: err_reader.join().unwrap_or_default(),
    };
    assert!(
        status.is_some(),
        "mpirun -np {np} {args:?} ran past {LIMIT:?} and was killed (a hang):\n{}\n{}",
        run.out,
        run.err
    );
    run
}

fn ok_lines(r: &Run) -> usize {
    r.out.lines().filter(|l| l.starts_with("ok rank")).count()
}

#[test]
fn every_op_equals_one_context_on_1_2_and_3_ranks() {
    for np in [1, 2, 3] {
        let r = mpirun(np, &["check", "ops"], &[("TANDEM_BACKEND", "cpu")]);
        assert_eq!(r.code, Some(0), "np {np}:\n{}\n{}", r.out, r.err);
        assert_eq!(ok_lines(&r), np, "np {np}:\n{}\n{}", r.out, r.err);
    }
}

#[test]
fn an_error_on_one_rank_is_every_ranks_typed_error() {
    for np in [1, 2, 3] {
        let r = mpirun(np, &["check", "errors"], &[]);
        assert_eq!(r.code, Some(0), "np {np}:\n{}\n{}", r.out, r.err);
        assert_eq!(ok_lines(&r), np, "np {np}:\n{}\n{}", r.out, r.err);
    }
}

#[test]
fn a_panicking_rank_aborts_the_whole_job() {
    for np in [1, 2, 3] {
        let t = Instant::now();
        let r = mpirun(np, &["check", "panic"], &[]);
        assert_ne!(
            r.code,
            Some(0),
            "np {np}: the job should have failed:\n{}\n{}",
            r.out,
            r.err
        );
        let last = np - 1;
        assert!(
            r.err.contains(&format!("MPI rank {last} of {np} panicked")),
            "np {np}: no abort message:\n{}",
            r.err
        );
        assert!(r.err.contains("deliberate panic"), "np {np}:\n{}", r.err);
        // Not a hang: the other ranks were ended by the abort, long before
        // their 600 s sleep and well inside the limit.
        assert!(t.elapsed() < LIMIT, "np {np}");
    }
}
