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

/// A built-in shader file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shader {
    /// `shaders/elementwise.wgsl`: add, sub, mul, scale, axpy.
    Elementwise,
    /// `shaders/fill.wgsl`.
    Fill,
    /// `shaders/reduce.wgsl`: sum and dot passes.
    Reduce,
    /// `shaders/reduce_order.wgsl`: min, max, argmin, argmax passes.
    ReduceOrder,
}

impl Shader {
    /// Every built-in shader.
    pub const ALL: [Shader; 4] = [
        Shader::Elementwise,
        Shader::Fill,
        Shader::Reduce,
        Shader::ReduceOrder,
    ];

    /// The file name under `shaders/`.
    pub fn name(self) -> &'static str {
        match self {
            Shader::Elementwise => "elementwise",
            Shader::Fill => "fill",
            Shader::Reduce => "reduce",
            Shader::ReduceOrder => "reduce_order",
        }
    }

    fn source(self) -> &'static str {
        match self {
            Shader::Elementwise => include_str!("../../shaders/elementwise.wgsl"),
            Shader::Fill => include_str!("../../shaders/fill.wgsl"),
            Shader::Reduce => include_str!("../../shaders/reduce.wgsl"),
            Shader::ReduceOrder => include_str!("../../shaders/reduce_order.wgsl"),
        }
    }

    /// The entry points of the file.
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            Shader::Elementwise => &["add", "sub", "mul", "scale", "axpy"],
            Shader::Fill => &["fill"],
            Shader::Reduce => &["sum_pass", "dot_pass"],
            Shader::ReduceOrder => &["min_first", "max_first", "pair_pass"],
        }
    }

    /// Whether the shader exists for this scalar type. Order reductions use
    /// 32-bit keys, so they have no f64 instantiation.
    pub fn supports(self, scalar: ScalarType) -> bool {
        !(self == Shader::ReduceOrder && scalar == ScalarType::F64)
    }
}

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

/// The full WGSL text of `shader` for `scalar` and `variant`.
pub fn compose(shader: Shader, scalar: ScalarType, variant: Variant) -> String {
    let mut s = String::with_capacity(8192);
    s.push_str(&format!(
        "// tandem prelude: {} for {}, {:?}\nalias T = {};\nconst WG: u32 = {}u;\n",
        shader.name(),
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
    s.push_str(shader.source());
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
    fn every_builtin_shader_validates_in_every_instantiation() {
        let mut count = 0;
        for shader in Shader::ALL {
            for scalar in ScalarType::ALL {
                if !shader.supports(scalar) {
                    continue;
                }
                for variant in [Variant::Subgroup, Variant::Plain] {
                    let src = compose(shader, scalar, variant);
                    let name = format!("{}<{}>/{:?}", shader.name(), scalar.wgsl(), variant);
                    if let Err(e) = validate_wgsl(&name, &src) {
                        panic!("{e}");
                    }
                    count += 1;
                }
            }
        }
        assert_eq!(count, 4 * 4 * 2 - 2);
    }

    #[test]
    fn a_broken_shader_reports_naga_message_with_line() {
        let err = validate_wgsl("broken", "fn f() -> u32 { return 1.5; }").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("broken"), "{msg}");
        assert!(msg.contains(":1:"), "{msg}");
    }
}
