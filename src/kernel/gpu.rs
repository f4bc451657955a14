//! WGSL generation and launch for expression kernels.
//!
//! Bindings: 0 the uniform block (n, groups, out_offset, then the parameters),
//! 1.. the inputs, last the output. Entry
//! points: `map_main` (one element per invocation) and `map_sum_main` (a first
//! reduction pass like `reduce.wgsl`'s, over the mapped values; the partials are
//! then summed by the built-in reduction).

use std::sync::Arc;

use crate::element::Element;
use crate::element::ScalarType;
use crate::error::Result;
use crate::gpu::pool::Output;
use crate::gpu::shader::{Binding, Variant, WORKGROUP_SIZE};
use crate::gpu::stream::{Bind, Stream};
use crate::gpu::GpuBackend;

const ITEMS: u64 = 8;

/// The kernel text for `expr` over `inputs` and `params` (without the prelude).
pub(crate) fn kernel_source(
    expr: &str,
    inputs: &[&str],
    params: &[&str],
    scalar: ScalarType,
) -> String {
    let mut s = String::new();
    // Parameters live in the uniform block (constant for every invocation, no
    // bounds checks).
    s.push_str(&format!(
        "struct Meta_ {{ n: u32, groups: u32, out_offset: u32, pad: u32, p: array<vec4<T>, {}> }}\n",
        param_vecs(params.len())
    ));
    s.push_str("@group(0) @binding(0) var<uniform> meta_: Meta_;\n");
    for j in 0..inputs.len() {
        s.push_str(&format!(
            "@group(0) @binding({}) var<storage, read> in{j}_: array<T>;\n",
            1 + j
        ));
    }
    s.push_str(&format!(
        "@group(0) @binding({}) var<storage, read_write> out_: array<T>;\n",
        1 + inputs.len()
    ));
    // `select` over T: its typed parameters convert integer literals to T
    // (`select(0, 1, c)` in a u32 kernel), where the builtin would make them i32.
    // Expression kernels are scalar, so nothing is lost.
    s.push_str("fn select_t_(f: T, t: T, c: bool) -> T {\n    if (c) {\n        return t;\n    }\n    return f;\n}\n");
    s.push_str(defined_fns(scalar));
    let mut expr = expr.to_string();
    for f in ["select", "min", "max", "clamp", "div", "rem"] {
        expr = rename_call(&expr, f);
    }
    if matches!(scalar, ScalarType::I32 | ScalarType::U32) {
        // Plain `/` and `%` as the same defined helpers (see `int_ops`).
        if let Some(spelled) = super::int_ops::spell_out_division(&expr) {
            expr = spelled;
        }
    }
    let args: Vec<String> = inputs
        .iter()
        .chain(params)
        .map(|a| format!("{a}: T"))
        .collect();
    s.push_str(&format!(
        "fn user_fn_({}) -> T {{\n    return ({expr});\n}}\n",
        args.join(", ")
    ));
    let mut call: Vec<String> = (0..inputs.len()).map(|j| format!("in{j}_[i]")).collect();
    call.extend((0..params.len()).map(|p| format!("meta_.p[{}][{}]", p / 4, p % 4)));
    let call = call.join(", ");
    s.push_str(&format!(
        "@compute @workgroup_size(WG)
fn map_main(inv: Inv) {{
    let i = group_index(inv) * WG + inv.lid;
    if (i < meta_.n) {{
        out_[i] = user_fn_({call});
    }}
}}

const ITEMS_: u32 = {ITEMS}u;

@compute @workgroup_size(WG)
fn map_sum_main(inv: Inv) {{
    let g = group_index(inv);
    var acc = T(0);
    if (g < meta_.groups) {{
        let start = g * WG * ITEMS_ + inv.lid;
        for (var j = 0u; j < ITEMS_; j = j + 1u) {{
            let i = start + j * WG;
            if (i < meta_.n) {{
                acc = acc + user_fn_({call});
            }}
        }}
    }}
    let total = wg_sum(acc, inv);
    if (inv.lid == 0u && g < meta_.groups) {{
        out_[meta_.out_offset + g] = total;
    }}
}}
"
    ));
    s
}

/// `min`, `max`, `clamp`, `div` and `rem` for `scalar`, computed as the CPU side
/// does (`crate::kernel::fns`), spelled out so that no compiler freedom changes
/// the bits: WGSL lets a compiler assume no NaN (Mesa's GL turns
/// `select(a, b, b < a)` into `fmin`, which drops a NaN and orders zeros its own
/// way), so NaNs and pairs of zeros are decided on the bits first; and naga's GL
/// output does not follow WGSL's integer `/` and `%` for a zero divisor or
/// negative operands, so those are spelled out on unsigned magnitudes (the
/// plain operators of integer kernels call them too: `super::int_ops`).
fn defined_fns(scalar: ScalarType) -> &'static str {
    match scalar {
        ScalarType::F32 => concat!(
            "fn nan_t_(x: T) -> bool {\n    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;\n}\n",
            "fn keep_first_t_(a: T, b: T) -> bool {\n",
            "    return nan_t_(a) || nan_t_(b) || ((bitcast<u32>(a) | bitcast<u32>(b)) & 0x7fffffffu) == 0u;\n}\n",
            "fn min_t_(a: T, b: T) -> T {\n    if (keep_first_t_(a, b)) {\n        return a;\n    }\n    return select(a, b, b < a);\n}\n",
            "fn max_t_(a: T, b: T) -> T {\n    if (keep_first_t_(a, b)) {\n        return a;\n    }\n    return select(a, b, b > a);\n}\n",
            "fn clamp_t_(x: T, lo: T, hi: T) -> T {\n    return min_t_(max_t_(x, lo), hi);\n}\n",
            "fn div_t_(a: T, b: T) -> T {\n    return a / b;\n}\n",
            "fn rem_t_(a: T, b: T) -> T {\n    return a - b * trunc(a / b);\n}\n",
        ),
        ScalarType::F64 => concat!(
            "fn min_t_(a: T, b: T) -> T {\n    return select(a, b, b < a);\n}\n",
            "fn max_t_(a: T, b: T) -> T {\n    return select(a, b, b > a);\n}\n",
            "fn clamp_t_(x: T, lo: T, hi: T) -> T {\n    return min_t_(max_t_(x, lo), hi);\n}\n",
            "fn div_t_(a: T, b: T) -> T {\n    return a / b;\n}\n",
            "fn rem_t_(a: T, b: T) -> T {\n    return a - b * trunc(a / b);\n}\n",
        ),
        ScalarType::I32 => concat!(
            "fn min_t_(a: T, b: T) -> T {\n    return select(a, b, b < a);\n}\n",
            "fn max_t_(a: T, b: T) -> T {\n    return select(a, b, b > a);\n}\n",
            "fn clamp_t_(x: T, lo: T, hi: T) -> T {\n    return min_t_(max_t_(x, lo), hi);\n}\n",
            // Magnitudes as u32 (|i32::MIN| = 2^31 fits), divided unsigned by a
            // nonzero divisor: defined on every backend. The quotient takes the
            // sign of a * b (wrapping, so i32::MIN / -1 is i32::MIN), the
            // remainder the sign of a.
            "fn mag_t_(x: T) -> u32 {\n    return select(bitcast<u32>(x), 0u - bitcast<u32>(x), x < 0i);\n}\n",
            "fn div_t_(a: T, b: T) -> T {\n    if (b == 0i) {\n        return a;\n    }\n",
            "    let q = mag_t_(a) / mag_t_(b);\n",
            "    return bitcast<i32>(select(q, 0u - q, (a < 0i) != (b < 0i)));\n}\n",
            "fn rem_t_(a: T, b: T) -> T {\n    if (b == 0i) {\n        return 0i;\n    }\n",
            "    let ma = mag_t_(a);\n    let mb = mag_t_(b);\n    let r = ma - (ma / mb) * mb;\n",
            "    return bitcast<i32>(select(r, 0u - r, a < 0i));\n}\n",
        ),
        ScalarType::U32 => concat!(
            "fn min_t_(a: T, b: T) -> T {\n    return select(a, b, b < a);\n}\n",
            "fn max_t_(a: T, b: T) -> T {\n    return select(a, b, b > a);\n}\n",
            "fn clamp_t_(x: T, lo: T, hi: T) -> T {\n    return min_t_(max_t_(x, lo), hi);\n}\n",
            "fn div_t_(a: T, b: T) -> T {\n    if (b == 0u) {\n        return a;\n    }\n    return a / b;\n}\n",
            "fn rem_t_(a: T, b: T) -> T {\n    if (b == 0u) {\n        return 0u;\n    }\n    return a - (a / b) * b;\n}\n",
        ),
    }
}

/// The expression with each call of the function `name` renamed to `{name}_t_`
/// (a variable of that name, not followed by `(`, stays).
fn rename_call(expr: &str, name: &str) -> String {
    let mut out = String::with_capacity(expr.len() + 16);
    let mut rest = expr;
    while let Some(at) = rest.find(name) {
        let (before, after) = rest.split_at(at);
        let starts_word = !before
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_');
        let tail = &after[name.len()..];
        let is_call = tail.trim_start().starts_with('(')
            && !tail.starts_with(|c: char| c.is_alphanumeric() || c == '_');
        out.push_str(before);
        out.push_str(name);
        if starts_word && is_call {
            out.push_str("_t_");
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

fn bindings(n_inputs: usize) -> Vec<Binding> {
    let mut b = vec![Binding::Uniform];
    b.extend(std::iter::repeat_n(Binding::ReadOnly, n_inputs));
    b.push(Binding::ReadWrite);
    b
}

/// vec4s that hold `p` parameters (at least one: WGSL has no empty arrays).
fn param_vecs(p: usize) -> usize {
    p.div_ceil(4).max(1)
}

/// The uniform block: n, groups, out_offset, padding, then the parameters as
/// vec4s of T, at T's vec4 alignment (16 bytes, or 32 for f64).
fn meta<T: Element>(n: u64, groups: u64, out_offset: u64, params: &[T]) -> Vec<u8> {
    let size = std::mem::size_of::<T>();
    let mut b: Vec<u8> = [n as u32, groups as u32, out_offset as u32, 0]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    b.resize(4 * size, 0);
    b.extend_from_slice(bytemuck::cast_slice(params));
    b.resize(4 * size + param_vecs(params.len()) * 4 * size, 0);
    b
}

/// Runs `map_main` over `n` elements of `inputs`, one dispatch per binding window.
pub(crate) fn map<T: Element>(
    gpu: &Arc<GpuBackend>,
    id: u64,
    name: &str,
    source: impl FnOnce(Variant) -> String,
    inputs: &[wgpu::Buffer],
    n: usize,
    params: &[T],
) -> Result<Output> {
    let size = std::mem::size_of::<T>();
    let bindings = bindings(inputs.len());
    let pipeline = gpu.pipeline_generated(id, name, T::SCALAR, source, &bindings, "map_main")?;
    let mut s = Stream::new(gpu, "map");
    let out = s.output((n * size) as u64)?;
    for w in gpu.windows(n, size) {
        let mut b = vec![Bind::Uniform(meta(w.1 as u64, 0, 0, params))];
        b.extend(inputs.iter().map(|x| Bind::elems(x, w, size)));
        b.push(Bind::elems(&out, w, size));
        s.dispatch(&pipeline, b, (w.1 as u64).div_ceil(WORKGROUP_SIZE as u64));
    }
    s.submit()?;
    Ok(out)
}

/// Runs `map_sum_main` (one partial per workgroup), then sums the partials.
pub(crate) fn map_sum<T: Element>(
    gpu: &Arc<GpuBackend>,
    id: u64,
    name: &str,
    source: impl FnOnce(Variant) -> String,
    inputs: &[wgpu::Buffer],
    n: usize,
    params: &[T],
) -> Result<T> {
    let size = std::mem::size_of::<T>();
    let per_group = WORKGROUP_SIZE as u64 * ITEMS;
    let bindings = bindings(inputs.len());
    let pipeline =
        gpu.pipeline_generated(id, name, T::SCALAR, source, &bindings, "map_sum_main")?;
    let windows = gpu.windows(n, size);
    let total: u64 = windows
        .iter()
        .map(|w| (w.1 as u64).div_ceil(per_group))
        .sum();
    let mut s = Stream::new(gpu, "map_reduce");
    let partials = s.buffer(total * size as u64)?;
    let mut offset = 0;
    for w in windows {
        let groups = (w.1 as u64).div_ceil(per_group);
        let mut b = vec![Bind::Uniform(meta(w.1 as u64, groups, offset, params))];
        b.extend(inputs.iter().map(|x| Bind::elems(x, w, size)));
        b.push(Bind::whole(&partials));
        s.dispatch(&pipeline, b, groups);
        offset += groups;
    }
    let result = crate::ops::reduce::gpu::record_sum::<T>(&mut s, &partials, total as usize)?;
    Ok(s.read::<T>(&result, 0, 1)?[0])
}
