//! TEMPORARY, while issue 13 moves every op onto [`super::stream::Stream`]:
//! the launch helpers ops used before it. Each op's port deletes its uses;
//! the file goes with the last one. Nothing new may use it.

use super::shader::{KernelSpec, WORKGROUP_SIZE};
use super::stream::{Bind, Pipeline, Stream};
use super::GpuBackend;
use crate::element::ScalarType;
use crate::error::Result;

/// A storage binding: buffer, byte offset, byte size.
pub(crate) type Slot = (wgpu::Buffer, u64, u64);

impl GpuBackend {
    /// The pipeline and layout of one entry point, as a pair.
    pub fn pipeline_pair(
        &self,
        kernel: &'static KernelSpec,
        entry: &'static str,
        scalar: ScalarType,
    ) -> Result<(wgpu::ComputePipeline, wgpu::BindGroupLayout)> {
        let p = self.pipeline(kernel, entry, scalar)?;
        Ok((p.pipeline, p.layout))
    }

    /// A new command encoder.
    pub fn legacy_encoder(&self) -> wgpu::CommandEncoder {
        self.encoder("tandem")
    }

    /// Records one dispatch of `groups` workgroups into `encoder`.
    pub fn dispatch(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        pipeline: &wgpu::ComputePipeline,
        bind_group: &wgpu::BindGroup,
        groups: u64,
    ) -> Result<()> {
        let (x, y) = self.fold_grid(groups)?;
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
            label: None,
            timestamp_writes: None,
        });
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, bind_group, &[]);
        pass.dispatch_workgroups(x, y, 1);
        Ok(())
    }

    /// Runs `pipeline` once per binding window of `n` elements, in one submission.
    #[allow(clippy::too_many_arguments)]
    pub fn run_windowed<'a>(
        &self,
        op: &'static str,
        pipeline: &wgpu::ComputePipeline,
        layout: &wgpu::BindGroupLayout,
        n: usize,
        elem_size: usize,
        uniform_len: u64,
        block: impl Fn(usize) -> Vec<u8>,
        storage: impl Fn(u64, u64) -> Vec<(&'a wgpu::Buffer, u64, u64)>,
    ) -> Result<()> {
        let _ = uniform_len;
        let p = Pipeline {
            pipeline: pipeline.clone(),
            layout: layout.clone(),
            params: None,
        };
        let mut s = Stream::new(self, op);
        for (start, len) in self.windows(n, elem_size) {
            let mut b = vec![Bind::Uniform(block(len))];
            b.extend(
                storage((start * elem_size) as u64, (len * elem_size) as u64)
                    .into_iter()
                    .map(|(buf, o, sz)| Bind::bytes(buf, o, sz)),
            );
            s.dispatch(&p, b, (len as u64).div_ceil(WORKGROUP_SIZE as u64));
        }
        s.submit()
    }

    /// A bind group over (uniform block, storage windows...).
    pub fn bind_group(
        &self,
        layout: &wgpu::BindGroupLayout,
        uniforms: (&wgpu::Buffer, u64, u64),
        storage: &[(&wgpu::Buffer, u64, u64)],
    ) -> wgpu::BindGroup {
        let mut all = vec![uniforms];
        all.extend_from_slice(storage);
        let entries: Vec<wgpu::BindGroupEntry> = all
            .iter()
            .enumerate()
            .map(|(i, (buffer, offset, size))| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer,
                    offset: *offset,
                    size: std::num::NonZeroU64::new(*size),
                }),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout,
            entries: &entries,
        })
    }
}

/// The old recorder API, over [`Stream`].
pub(crate) struct Recorder<'g> {
    /// The device.
    pub gpu: &'g std::sync::Arc<GpuBackend>,
    /// The op.
    pub op: &'static str,
    stream: Stream<'g>,
}

#[allow(dead_code)]
impl<'g> Recorder<'g> {
    /// An empty recorder.
    pub fn new(gpu: &'g std::sync::Arc<GpuBackend>, op: &'static str) -> Self {
        Recorder {
            gpu,
            op,
            stream: Stream::new(gpu, op),
        }
    }

    /// The stream it records into.
    pub fn stream(&mut self) -> &mut Stream<'g> {
        &mut self.stream
    }

    /// Adds a dispatch.
    pub fn pass(
        &mut self,
        (pipeline, layout): &(wgpu::ComputePipeline, wgpu::BindGroupLayout),
        params: Vec<u8>,
        storage: Vec<Slot>,
        groups: u64,
    ) {
        let p = Pipeline {
            pipeline: pipeline.clone(),
            layout: layout.clone(),
            params: None,
        };
        let mut b = vec![Bind::Uniform(params)];
        b.extend(
            storage
                .into_iter()
                .map(|(buf, o, s)| Bind::Storage(buf, o, s)),
        );
        self.stream.dispatch(&p, b, groups);
    }

    /// Adds a copy.
    pub fn copy(&mut self, src: &wgpu::Buffer, so: u64, dst: &wgpu::Buffer, d: u64, bytes: u64) {
        self.stream.copy(src, so, dst, d, bytes);
    }

    /// A small read-write buffer.
    pub fn scratch(&self) -> Result<wgpu::Buffer> {
        self.gpu.create_storage(self.op, 256)
    }

    /// Submits and waits.
    pub fn submit(self) -> Result<()> {
        self.stream.submit()
    }
}

/// See [`GpuBackend::window_at`].
pub(crate) fn bind_part(
    gpu: &GpuBackend,
    buf: &wgpu::Buffer,
    len: usize,
    first: usize,
    esize: usize,
) -> (Slot, u32) {
    match gpu.window_at(buf, len, first, esize) {
        (Bind::Storage(b, o, s), base) => ((b, o, s), base),
        _ => unreachable!("window_at always gives a storage range"),
    }
}

/// `KernelSpec::params` of a kernel not yet given its `Params` mirror (the
/// size test fails for it until its op is ported).
pub(crate) fn unported(_: ScalarType) -> usize {
    0
}
