//! Pipelines: bind group layouts, built-in kernels composed with the prelude,
//! generated and user kernels, compiled once per device and cached.

use super::shader::{self, Binding, KernelSpec, Variant};
use super::stream::Pipeline;
use super::{poisoned, GpuBackend};
use crate::element::ScalarType;
use crate::error::{Error, Result};

impl GpuBackend {
    /// The bind group layout of a binding signature, created once per device.
    pub fn layout(&self, bindings: &[Binding]) -> Result<wgpu::BindGroupLayout> {
        // Before the cache's lock, which is held across a wgpu call (lock order: `gate`).
        let _gate = self.gate();
        let mut layouts = self.layouts.lock().map_err(|_| poisoned())?;
        if let Some(l) = layouts.get(bindings) {
            return Ok(l.clone());
        }
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match b {
                        Binding::Uniform => wgpu::BufferBindingType::Uniform,
                        Binding::ReadOnly => wgpu::BufferBindingType::Storage { read_only: true },
                        Binding::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = self.scoped("create bind group layout", || {
            Ok(self
                .device
                .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                    label: None,
                    entries: &entries,
                }))
        })?;
        layouts.insert(bindings.to_vec(), layout.clone());
        Ok(layout)
    }

    /// The compiled pipeline of one entry point, compiled once per device.
    pub fn pipeline(
        &self,
        kernel: &'static KernelSpec,
        entry: &'static str,
        scalar: ScalarType,
    ) -> Result<Pipeline> {
        let layout = self.layout(kernel.bindings)?;
        let key = (kernel.name, entry, scalar);
        let built = |pipeline: wgpu::ComputePipeline, layout| Pipeline {
            pipeline,
            layout,
            params: Some((kernel.params)(scalar)),
        };
        if let Some(p) = self.pipelines.lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(built(p.clone(), layout));
        }
        let variant = shader::variant_for(scalar, self.variant_subgroups);
        let source = shader::compose(kernel, scalar, variant);
        let name = format!("{}<{}>", kernel.name, scalar.wgsl());
        let pipeline = self.compile(&name, source, &layout, entry)?;
        self.pipelines
            .lock()
            .map_err(|_| poisoned())?
            .insert(key, pipeline.clone());
        Ok(built(pipeline, layout))
    }

    /// The pipeline of a generated or user kernel, identified by `id` (unique per
    /// kernel object) and compiled once per device from `source(variant)` (full
    /// WGSL), where the variant follows the same rule as built-in kernels
    /// ([`shader::variant_for`]: f64 never takes the subgroup one).
    pub fn pipeline_generated(
        &self,
        id: u64,
        name: &str,
        scalar: ScalarType,
        source: impl FnOnce(Variant) -> String,
        bindings: &[Binding],
        entry: &str,
    ) -> Result<Pipeline> {
        let layout = self.layout(bindings)?;
        let key = (id, entry.to_string());
        let built = |pipeline, layout| Pipeline {
            pipeline,
            layout,
            params: None,
        };
        if let Some(p) = self.generated.lock().map_err(|_| poisoned())?.get(&key) {
            return Ok(built(p.clone(), layout));
        }
        let variant = shader::variant_for(scalar, self.variant_subgroups);
        let pipeline = self.compile(name, source(variant), &layout, entry)?;
        self.generated
            .lock()
            .map_err(|_| poisoned())?
            .insert(key, pipeline.clone());
        Ok(built(pipeline, layout))
    }

    /// Validates `source` with naga (for a message with the line), then compiles it.
    fn compile(
        &self,
        name: &str,
        source: String,
        layout: &wgpu::BindGroupLayout,
        entry: &str,
    ) -> Result<wgpu::ComputePipeline> {
        self.count_one_off();
        shader::validate_wgsl(name, &source)?;
        self.scoped("compile shader", || {
            let module = self
                .device
                .create_shader_module(wgpu::ShaderModuleDescriptor {
                    label: Some(name),
                    source: wgpu::ShaderSource::Wgsl(source.into()),
                });
            let pl = self
                .device
                .create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                    label: Some(name),
                    bind_group_layouts: &[Some(layout)],
                    immediate_size: 0,
                });
            Ok(self
                .device
                .create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                    label: Some(name),
                    layout: Some(&pl),
                    module: &module,
                    entry_point: Some(entry),
                    compilation_options: Default::default(),
                    cache: None,
                }))
        })
        .map_err(|e| match e {
            Error::Gpu { message, .. } => Error::ShaderCompile {
                shader: name.to_string(),
                message,
            },
            other => other,
        })
    }

    /// Compiles every entry point of `kernels` for every scalar type this device runs.
    pub fn warm_up(&self, kernels: &[&'static KernelSpec]) -> Result<()> {
        for &kernel in kernels {
            for &scalar in kernel.scalars {
                if self.supports_scalar(scalar) {
                    for entry in kernel.entries {
                        self.pipeline(kernel, entry, scalar)?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::GpuOptions;

    /// Generated kernels follow `variant_for`: f64 takes the plain variant even
    /// on an adapter with subgroups (the drift issue 13 found), others the
    /// subgroup one where the adapter has it.
    #[test]
    fn generated_kernels_pick_the_variant_by_the_shared_rule() {
        let Ok(gpu) = GpuBackend::open(&GpuOptions::default()) else {
            eprintln!("GPU test skipped: no adapter");
            return;
        };
        for (id, scalar) in [
            (u64::MAX - 1, ScalarType::F32),
            (u64::MAX - 2, ScalarType::F64),
        ] {
            if !gpu.supports_scalar(scalar) {
                continue;
            }
            let mut seen = None;
            let src = format!(
                "@group(0) @binding(0) var<storage, read_write> o: array<{}>;\n@compute @workgroup_size(1) fn main() {{ o[0] = o[0]; }}",
                scalar.wgsl()
            );
            gpu.pipeline_generated(
                id,
                "variant probe",
                scalar,
                |v| {
                    seen = Some(v);
                    src
                },
                &[Binding::ReadWrite],
                "main",
            )
            .unwrap();
            assert_eq!(
                seen,
                Some(shader::variant_for(scalar, gpu.variant_subgroups))
            );
            if scalar == ScalarType::F64 {
                assert_eq!(seen, Some(Variant::Plain));
            }
        }
    }
}
