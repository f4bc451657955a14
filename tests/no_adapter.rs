//! A machine without an adapter: Policy::Gpu fails at build time with a clear
//! error, and Auto runs everything on the CPU. Simulated by restricting wgpu to
//! a backend this platform does not have; a test binary of its own, because it
//! sets a process-wide variable.

use tandem::{Context, ErrorKind, Policy, Side};

#[test]
fn no_adapter_means_a_build_error_under_gpu_and_cpu_under_auto() {
    // Metal exists only on Apple platforms, DX12 only on Windows.
    let absent = if cfg!(target_os = "macos") {
        "dx12"
    } else {
        "metal"
    };
    // SAFETY: this is the only test in this binary, so no other thread reads the environment.
    unsafe { std::env::set_var("WGPU_BACKEND", absent) };

    let e = Context::builder().policy(Policy::Gpu).build().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoAdapter, "{e}");
    assert!(
        e.to_string().contains("Policy::Cpu"),
        "the message says what to do: {e}"
    );

    let auto = Context::builder().policy(Policy::Auto).build().unwrap();
    assert!(!auto.has_gpu());
    assert!(auto.gpu_info().is_none());
    let x = auto.upload(&[3.0f32, -1.0, 2.0]).unwrap();
    assert_eq!(auto.sum(&x).unwrap(), 4.0);
    assert_eq!(auto.argmin(&x).unwrap(), Some(1));
    let r = auto.last_run().unwrap();
    assert_eq!(r.side, Side::Cpu);
    assert_eq!(r.reason, tandem::dispatch::Reason::NoAdapter);
}
