//! Which adapters exist and which one tandem opens: discrete, then integrated,
//! then virtual, then software; native APIs before GL.

/// One adapter, as `tandem info` lists it.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    /// Name.
    pub name: String,
    /// Graphics API.
    pub backend: String,
    /// Device type.
    pub device_type: String,
    /// Driver.
    pub driver: String,
}

fn device_type_rank(t: wgpu::DeviceType) -> u32 {
    match t {
        wgpu::DeviceType::DiscreteGpu => 4,
        wgpu::DeviceType::IntegratedGpu => 3,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 1,
        wgpu::DeviceType::Other => 0,
    }
}

fn backend_rank(b: wgpu::Backend) -> u32 {
    match b {
        wgpu::Backend::Vulkan | wgpu::Backend::Metal | wgpu::Backend::Dx12 => 2,
        wgpu::Backend::Gl => 1,
        _ => 0,
    }
}

pub(super) fn new_instance() -> wgpu::Instance {
    wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env())
}

/// Every adapter wgpu finds (honouring `WGPU_BACKEND`), best first.
pub fn list_adapters() -> Vec<AdapterSummary> {
    let instance = new_instance();
    let mut adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
    sort_adapters(&mut adapters);
    adapters
        .iter()
        .map(|a| {
            let i = a.get_info();
            AdapterSummary {
                name: i.name,
                backend: format!("{:?}", i.backend),
                device_type: format!("{:?}", i.device_type),
                driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
            }
        })
        .collect()
}

pub(super) fn sort_adapters(adapters: &mut [wgpu::Adapter]) {
    adapters.sort_by_key(|a| {
        let i = a.get_info();
        std::cmp::Reverse((device_type_rank(i.device_type), backend_rank(i.backend)))
    });
}
