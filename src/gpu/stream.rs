//! The one launch path: every GPU kernel of tandem is recorded into a
//! [`Stream`] (dispatches with their bindings, buffer copies, a readback),
//! and the stream turns the recording into one encoder and one submission.
//!
//! Ops only describe work: which pipeline, which parameter block, which
//! buffer ranges, how many workgroups. Uniform packing, bind groups, grid
//! folding, error scopes, submission and waiting happen here, once. A stream
//! owns clones of every buffer it binds, so the recording stays valid after the
//! op returns. Inside an op the dispatcher defers (see `super::deferred`),
//! [`Stream::submit`] hands the recording to the device's open batch and
//! returns at once; elsewhere it submits (after whatever the batch holds) and
//! waits. [`Stream::read`] always submits the batch, the recording and the
//! readback copy together and waits once.

use super::shader::WORKGROUP_SIZE;
use super::timing::BatchTiming;
use super::GpuBackend;
use crate::error::{Error, Result};

/// A compiled entry point with its bind group layout and, for a built-in
/// kernel, the size of its `Params` block.
#[derive(Clone)]
pub(crate) struct Pipeline {
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) layout: wgpu::BindGroupLayout,
    /// Bytes of the WGSL `Params` struct at binding 0 (`KernelSpec::params`);
    /// None for generated and user kernels, whose uniforms are given as bytes.
    pub(crate) params: Option<usize>,
}

/// One binding of a dispatch, in binding order.
#[derive(Clone, Debug)]
pub(crate) enum Bind {
    /// A uniform block holding these bytes (packed with the stream's other blocks).
    Uniform(Vec<u8>),
    /// A storage range: buffer, byte offset, byte size.
    Storage(wgpu::Buffer, u64, u64),
    /// A read-only storage slot the entry point does not read.
    Unused,
    /// A read-write storage slot the entry point does not write (a scratch
    /// buffer, since the shared read-only dummy may be bound in the same pass).
    UnusedWritable,
}

impl Bind {
    /// All of `buffer`.
    pub fn whole(buffer: &wgpu::Buffer) -> Bind {
        Bind::Storage(buffer.clone(), 0, buffer.size())
    }

    /// Elements `start..start + len` of `buffer`, elements of `elem_size` bytes.
    /// `start` must be a window start (see [`GpuBackend::windows`]) or aligned.
    pub fn elems(buffer: &wgpu::Buffer, (start, len): (usize, usize), elem_size: usize) -> Bind {
        Bind::Storage(
            buffer.clone(),
            (start * elem_size) as u64,
            (len.max(1) * elem_size) as u64,
        )
    }

    /// `bytes` bytes of `buffer` from byte `offset`.
    pub fn bytes(buffer: &wgpu::Buffer, offset: u64, bytes: u64) -> Bind {
        Bind::Storage(buffer.clone(), offset, bytes)
    }

    /// The parameter block `p` (a `#[repr(C)]` mirror of the WGSL struct).
    pub fn params<P: bytemuck::Pod>(p: &P) -> Bind {
        Bind::Uniform(bytemuck::bytes_of(p).to_vec())
    }
}

/// One recorded command; a batch is a list of them in program order.
#[derive(Clone)]
pub(crate) enum Command {
    Dispatch {
        pipeline: wgpu::ComputePipeline,
        layout: wgpu::BindGroupLayout,
        bindings: Vec<Bind>,
        groups: u64,
    },
    Copy {
        src: wgpu::Buffer,
        src_offset: u64,
        dst: wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    },
}

impl Command {
    /// A copy of `bytes` bytes from `src` at `src_offset` to `dst` at `dst_offset`.
    pub fn copy(
        src: &wgpu::Buffer,
        src_offset: u64,
        dst: &wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    ) -> Self {
        Command::Copy {
            src: src.clone(),
            src_offset,
            dst: dst.clone(),
            dst_offset,
            bytes,
        }
    }
}

/// Records the GPU work of one op and submits it as one command buffer.
pub(crate) struct Stream<'g> {
    gpu: &'g GpuBackend,
    op: &'static str,
    commands: Vec<Command>,
    /// A recording mistake (a parameter block of the wrong size), reported at submission.
    fault: Option<String>,
}

impl<'g> Stream<'g> {
    /// An empty stream for `op` (the name errors carry).
    pub fn new(gpu: &'g GpuBackend, op: &'static str) -> Self {
        Stream {
            gpu,
            op,
            commands: Vec::new(),
            fault: None,
        }
    }

    /// The device the stream records for.
    pub fn gpu(&self) -> &'g GpuBackend {
        self.gpu
    }

    /// The op the stream records.
    pub fn op(&self) -> &'static str {
        self.op
    }

    /// A new device buffer of `bytes` bytes for this op's outputs or scratch.
    pub fn buffer(&self, bytes: u64) -> Result<wgpu::Buffer> {
        self.gpu.create_storage(self.op, bytes)
    }

    /// A device buffer for an output of this op that its kernels write in
    /// full (see [`GpuBackend::take_output`]): pooled, not zero-filled.
    pub fn output(&self, bytes: u64) -> Result<super::pool::Output> {
        self.gpu.take_output(self.op, bytes)
    }

    /// Records a dispatch of a built-in kernel: binding 0 is `params`, then
    /// `storage` in binding order; `groups` workgroups (folded into a 2-D grid
    /// past the per-dimension limit).
    pub fn kernel<P: bytemuck::Pod>(
        &mut self,
        pipeline: &Pipeline,
        params: &P,
        storage: impl IntoIterator<Item = Bind>,
        groups: u64,
    ) {
        if pipeline.params != Some(std::mem::size_of::<P>()) && self.fault.is_none() {
            self.fault = Some(format!(
                "internal error: a {}-byte parameter block for a kernel whose Params has {:?} bytes",
                std::mem::size_of::<P>(),
                pipeline.params
            ));
        }
        let mut bindings = vec![Bind::params(params)];
        bindings.extend(storage);
        self.dispatch(pipeline, bindings, groups);
    }

    /// Records a dispatch whose bindings (uniforms included) are all given.
    pub fn dispatch(&mut self, pipeline: &Pipeline, bindings: Vec<Bind>, groups: u64) {
        self.commands.push(Command::Dispatch {
            pipeline: pipeline.pipeline.clone(),
            layout: pipeline.layout.clone(),
            bindings,
            groups,
        });
    }

    /// Records one dispatch of a built-in kernel per binding window of `n`
    /// elements of `elem_size` bytes, one invocation per element:
    /// `window((start, len))` gives the window's parameters and storage bindings.
    pub fn per_window<P: bytemuck::Pod>(
        &mut self,
        pipeline: &Pipeline,
        n: usize,
        elem_size: usize,
        mut window: impl FnMut((usize, usize)) -> (P, Vec<Bind>),
    ) {
        for w in self.gpu.windows(n, elem_size) {
            let (params, storage) = window(w);
            let groups = (w.1 as u64).div_ceil(WORKGROUP_SIZE as u64);
            self.kernel(pipeline, &params, storage, groups);
        }
    }

    /// Records a buffer-to-buffer copy, in order with the dispatches.
    pub fn copy(
        &mut self,
        src: &wgpu::Buffer,
        src_offset: u64,
        dst: &wgpu::Buffer,
        dst_offset: u64,
        bytes: u64,
    ) {
        self.commands
            .push(Command::copy(src, src_offset, dst, dst_offset, bytes));
    }

    /// Fails with the recording mistake, if one was made.
    fn checked(self) -> Result<Vec<Command>> {
        match self.fault {
            Some(message) => Err(Error::Gpu {
                op: self.op,
                message,
            }),
            None => Ok(self.commands),
        }
    }

    /// Ends the recording: inside a deferred op it joins the device's batch
    /// and nothing waits; otherwise it is submitted (after the open batch) and
    /// waited for.
    pub fn submit(self) -> Result<()> {
        let (gpu, op) = (self.gpu, self.op);
        let commands = self.checked()?;
        match super::deferred::record_deferred(gpu, commands) {
            None => Ok(()),
            Some(commands) => {
                let s = gpu.submit_batch(op, commands)?;
                gpu.wait(op, Some(s))
            }
        }
    }

    /// Submits the recording followed by a readback of `len` elements of `src`
    /// from byte `offset`, and waits once; small reads share the submission.
    pub fn read<T: bytemuck::Pod + Default>(
        self,
        src: &wgpu::Buffer,
        offset: u64,
        len: usize,
    ) -> Result<Vec<T>> {
        let (gpu, op) = (self.gpu, self.op);
        let commands = self.checked()?;
        gpu.read_after(op, commands, src, offset, len)
    }
}

/// Encodes `commands` into one encoder (inside error scopes), with every
/// uniform block packed into one buffer; returns the encoder and that buffer,
/// to be given back to the device's uniform pool once the encoder's
/// submission went to the queue.
pub(crate) fn encode(
    gpu: &GpuBackend,
    op: &'static str,
    commands: &[Command],
    timing: Option<&BatchTiming>,
) -> Result<(wgpu::CommandEncoder, Option<wgpu::Buffer>)> {
    let blocks: Vec<&[u8]> = commands
        .iter()
        .flat_map(|c| match c {
            Command::Dispatch { bindings, .. } => bindings.as_slice(),
            Command::Copy { .. } => &[],
        })
        .filter_map(|b| match b {
            Bind::Uniform(u) => Some(u.as_slice()),
            _ => None,
        })
        .collect();
    // A stream of copies alone binds nothing: no uniform buffer to make.
    let uniforms = match blocks.is_empty() {
        true => None,
        false => Some(gpu.create_uniforms(op, &blocks)?),
    };
    let enc = gpu.scoped(op, || {
        let mut enc = gpu.encoder(op);
        let mut block = 0u64;
        let mut pass_index = 0;
        for c in commands {
            match c {
                Command::Dispatch {
                    pipeline,
                    layout,
                    bindings,
                    groups,
                } => {
                    let mut unused_writable = 0;
                    let mut resources: Vec<(&wgpu::Buffer, u64, u64)> =
                        Vec::with_capacity(bindings.len());
                    for b in bindings {
                        resources.push(match b {
                            Bind::Uniform(u) => {
                                // Some: `blocks` holds every Uniform binding.
                                let Some((uniforms, stride)) = &uniforms else {
                                    return Err(Error::Gpu {
                                        op,
                                        message: "internal error: a uniform binding with no uniform block".into(),
                                    });
                                };
                                let at = block * stride;
                                block += 1;
                                (uniforms, at, (u.len() as u64).max(16).next_multiple_of(16))
                            }
                            Bind::Storage(buf, off, size) => (buf, *off, *size),
                            Bind::Unused => (gpu.dummy(), 0, gpu.dummy().size()),
                            Bind::UnusedWritable => {
                                unused_writable += 1;
                                let Some(s) = gpu.scratch(unused_writable - 1) else {
                                    return Err(Error::Gpu {
                                        op,
                                        message: "internal error: too many unused read-write bindings in one dispatch".into(),
                                    });
                                };
                                (s, 0, s.size())
                            }
                        });
                    }
                    let entries: Vec<wgpu::BindGroupEntry> = resources
                        .iter()
                        .enumerate()
                        .map(|(i, &(buffer, offset, size))| wgpu::BindGroupEntry {
                            binding: i as u32,
                            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                                buffer,
                                offset,
                                size: std::num::NonZeroU64::new(size),
                            }),
                        })
                        .collect();
                    let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: None,
                        layout,
                        entries: &entries,
                    });
                    let (x, y) = gpu.fold_grid(*groups)?;
                    let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: timing.and_then(|t| t.writes(pass_index)),
                    });
                    pass_index += 1;
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, &bind_group, &[]);
                    pass.dispatch_workgroups(x, y, 1);
                }
                Command::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    bytes,
                } => enc.copy_buffer_to_buffer(src, *src_offset, dst, *dst_offset, *bytes),
            }
        }
        if let Some(t) = timing {
            t.resolve(&mut enc);
        }
        Ok(enc)
    })?;
    Ok((enc, uniforms.map(|u| u.0)))
}

/// Cuts `n` elements into windows of at most `per_window` (at least 1):
/// (first element, count).
pub(crate) fn cut(n: usize, per_window: usize) -> Vec<(usize, usize)> {
    let w = per_window.max(1);
    (0..n).step_by(w).map(|s| (s, w.min(n - s))).collect()
}

impl GpuBackend {
    /// The alignment of every storage binding's offset, in bytes: the device's
    /// rule, and at least 16 so that a window of any element type starts on an
    /// element (16 is a multiple of every element size).
    pub fn storage_align(&self) -> u64 {
        (self.limits.min_storage_buffer_offset_alignment as u64).max(16)
    }

    /// The element count of one binding window: the largest multiple of the
    /// offset alignment that fits the binding and buffer limits.
    pub fn window_elems(&self, elem_size: usize) -> usize {
        let align = self.storage_align();
        let max = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        let bytes = (max / align) * align;
        (bytes / elem_size as u64).max(1) as usize
    }

    /// Cuts `n` elements of `elem_size` bytes into binding windows: (first element, count).
    pub fn windows(&self, n: usize, elem_size: usize) -> Vec<(usize, usize)> {
        cut(n, self.window_elems(elem_size))
    }

    /// A binding of `buffer` (holding `len` elements of `elem_size` bytes) that
    /// starts at the aligned element at or before `first` and is as long as a
    /// binding may be; returns it and the index of `first` inside it. For
    /// arrays whose windows need not start at an aligned element.
    pub fn window_at(
        &self,
        buffer: &wgpu::Buffer,
        len: usize,
        first: usize,
        elem_size: usize,
    ) -> (Bind, u32) {
        let align = (self.storage_align() as usize / elem_size).max(1);
        let start = first / align * align;
        let count = (len - start).min(self.window_elems(elem_size)).max(1);
        (
            Bind::elems(buffer, (start, count), elem_size),
            (first - start) as u32,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_cover_every_element_once() {
        for n in [0usize, 1, 5, 16, 17, 1000] {
            for w in [1usize, 3, 16, 2000] {
                let ws = cut(n, w);
                let mut next = 0;
                for (s, l) in ws {
                    assert_eq!(s, next);
                    assert!(l >= 1 && l <= w);
                    next = s + l;
                }
                assert_eq!(next, n);
            }
        }
    }
}
