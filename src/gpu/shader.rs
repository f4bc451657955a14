//! WGSL sources and their composition.
//!
//! Shaders are generic over the element type through a prelude the loader
//! prepends (`alias T = f32;`), never by string templating inside a kernel.
//! The prelude also brings the invocation builtins and workgroup reductions, in
//! a subgroup variant or a plain one, and the order-key helpers of the type.
//! Every composition is validated with naga, here and in a test without a GPU.

use crate::element::ScalarType;
use crate::error::{Error, Result};

/// Threads per workgroup of every built-in kernel.
pub(crate) const WORKGROUP_SIZE: u32 = 256;

/// How a kernel reads one binding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Binding {
    /// `var<uniform>`: the parameter block.
    Uniform,
    /// `var<storage, read>`.
    ReadOnly,
    /// `var<storage, read_write>`.
    ReadWrite,
}

/// One WGSL file under `shaders/`: its source, entry points, bindings (group 0,
/// numbered from 0 in this order) and the element types it is instantiated for.
/// Each op declares its kernels in its own `gpu.rs`; `crate::ops::builtin_kernels`
/// lists them all for warm-up and validation.
#[derive(Debug)]
pub struct KernelSpec {
    /// The file name under `shaders/`, without `.wgsl`.
    pub name: &'static str,
    /// The WGSL text (`include_str!`), without the prelude.
    pub source: &'static str,
    /// The entry points.
    pub entries: &'static [&'static str],
    /// The bindings of group 0, in binding order.
    pub bindings: &'static [Binding],
    /// The element types `T` may be.
    pub scalars: &'static [ScalarType],
    /// Bytes of the WGSL `Params` struct at binding 0 for an element type:
    /// `size_of` of the `#[repr(C)]` mirror its op passes to `Stream::kernel`
    /// (a test checks it against the size naga reflects).
    pub params: fn(ScalarType) -> usize,
}

/// [`KernelSpec::params`] of a kernel whose `Params` does not depend on `T`.
pub(crate) fn params_of<P>(_: ScalarType) -> usize {
    std::mem::size_of::<P>()
}

impl KernelSpec {
    /// Whether the kernel has an instantiation for `scalar`.
    pub fn supports(&self, scalar: ScalarType) -> bool {
        self.scalars.contains(&scalar)
    }
}

/// Every scalar type.
pub const ALL_SCALARS: &[ScalarType] = &ScalarType::ALL;
/// The 32-bit scalar types (kernels that use 32-bit order keys).
pub const SCALARS_32: &[ScalarType] = &[ScalarType::F32, ScalarType::I32, ScalarType::U32];

/// Whether a kernel uses the subgroup builtins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Subgroup operations (needs `Features::SUBGROUP`).
    Subgroup,
    /// Shared-memory trees only; runs everywhere.
    Plain,
}

/// The variant to use for `scalar` on a device that has subgroups or not.
/// f64 always takes the plain variant: subgroup arithmetic on f64 is not portable.
pub(crate) fn variant_for(scalar: ScalarType, has_subgroups: bool) -> Variant {
    if has_subgroups && scalar != ScalarType::F64 {
        Variant::Subgroup
    } else {
        Variant::Plain
    }
}

/// The full WGSL text of `kernel` for `scalar` and `variant`.
pub fn compose(kernel: &KernelSpec, scalar: ScalarType, variant: Variant) -> String {
    let mut s = prelude(kernel.name, scalar, variant);
    s.push_str(kernel.source);
    s
}

/// The prelude every kernel starts with: `alias T`, `WG`, the invocation
/// builtins and workgroup reductions of `variant`, grid folding, and the order
/// keys of 32-bit types.
pub fn prelude(name: &str, scalar: ScalarType, variant: Variant) -> String {
    let mut s = String::with_capacity(8192);
    s.push_str(&format!(
        "// tandem prelude: {} for {}, {:?}\nalias T = {};\nconst WG: u32 = {}u;\n",
        name,
        scalar.wgsl(),
        variant,
        scalar.wgsl(),
        WORKGROUP_SIZE
    ));
    s.push_str(match variant {
        Variant::Subgroup => include_str!("../../shaders/common/invocation_subgroup.wgsl"),
        Variant::Plain => include_str!("../../shaders/common/invocation_plain.wgsl"),
    });
    s.push_str(include_str!("../../shaders/common/grid.wgsl"));
    s.push_str(match scalar {
        ScalarType::F32 => include_str!("../../shaders/common/keys_f32.wgsl"),
        ScalarType::I32 => include_str!("../../shaders/common/keys_i32.wgsl"),
        ScalarType::U32 => include_str!("../../shaders/common/keys_u32.wgsl"),
        ScalarType::F64 => "",
    });
    s.push_str("// ---- kernel ----\n");
    s
}

/// Parses and validates WGSL with naga, with every capability tandem may use.
///
/// # Errors
/// [`Error::ShaderCompile`] with naga's message, which names the line.
pub fn validate_wgsl(name: &str, source: &str) -> Result<()> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::ShaderCompile {
        shader: name.to_string(),
        message: e.emit_to_string_with_path(source, name),
    })?;
    let mut validator = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    );
    validator
        .subgroup_stages(naga::valid::ShaderStages::all())
        .subgroup_operations(naga::valid::SubgroupOperationSet::all());
    validator
        .validate(&module)
        .map_err(|e| Error::ShaderCompile {
            shader: name.to_string(),
            message: e.emit_to_string_with_path(source, name),
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_kernel_validates_in_every_instantiation() {
        let mut count = 0;
        for kernel in crate::ops::builtin_kernels() {
            for &scalar in kernel.scalars {
                for variant in [Variant::Subgroup, Variant::Plain] {
                    let src = compose(kernel, scalar, variant);
                    let name = format!("{}<{}>/{:?}", kernel.name, scalar.wgsl(), variant);
                    if let Err(e) = validate_wgsl(&name, &src) {
                        panic!("{e}");
                    }
                    count += 1;
                }
            }
        }
        assert!(count >= 30, "only {count} instantiations");
    }

    /// The size naga lays out for the uniform at group 0, binding 0.
    fn reflected_params_size(source: &str) -> Option<u32> {
        let module = naga::front::wgsl::parse_str(source).ok()?;
        let mut layouter = naga::proc::Layouter::default();
        layouter.update(module.to_ctx()).ok()?;
        let size = module.global_variables.iter().find_map(|(_, g)| {
            let b = g.binding.as_ref()?;
            (g.space == naga::AddressSpace::Uniform && b.group == 0 && b.binding == 0)
                .then(|| layouter[g.ty].size)
        });
        size
    }

    #[test]
    fn every_params_mirror_has_the_size_of_its_wgsl_struct() {
        let mut wrong = Vec::new();
        for kernel in crate::ops::builtin_kernels() {
            for &scalar in kernel.scalars {
                let src = compose(kernel, scalar, Variant::Plain);
                let size = reflected_params_size(&src);
                let rust = (kernel.params)(scalar);
                if size != Some(rust as u32) {
                    wrong.push(format!(
                        "{}<{}>: Rust {rust} bytes, WGSL {size:?}",
                        kernel.name,
                        scalar.wgsl(),
                    ));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_broken_shader_reports_naga_message_with_line() {
        let err = validate_wgsl("broken", "fn f() -> u32 { return 1.5; }").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("broken"), "{msg}");
        assert!(msg.contains(":1:"), "{msg}");
    }
}
