//! Choosing the libtorch device and threads, and reporting what is there.

use std::path::Path;

use tch::Device;

use crate::config::{DeviceChoice, Precision};
use crate::error::{Result, TatError};
use crate::{native, precision};

pub fn resolve(choice: DeviceChoice) -> Result<Device> {
    match choice {
        DeviceChoice::Cpu => Ok(Device::Cpu),
        DeviceChoice::Auto => Ok(Device::cuda_if_available()),
        DeviceChoice::Cuda if tch::Cuda::is_available() => Ok(Device::Cuda(0)),
        DeviceChoice::Cuda => Err(TatError::Usage(
            "device `cuda` was asked for, but libtorch sees no CUDA device. \
             Fix: use `--device cpu` or `auto`, or check the driver with `tiny-agent-trainer check`."
                .into(),
        )),
    }
}

pub fn name(device: Device) -> String {
    match device {
        Device::Cpu => format!("cpu ({} threads)", tch::get_num_threads()),
        Device::Cuda(i) => format!("cuda:{i}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

/// Sets libtorch's CPU threads when `threads > 0`.
pub fn set_threads(threads: usize) {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
}

/// Lets the C allocator keep freed memory for reuse instead of handing it back to the system,
/// once per process, before a run or when a trained agent is loaded (unless
/// `TAT_MALLOC_DEFAULTS=1`).
///
/// A training step allocates and frees tensors of tens to hundreds of MB (the output head's
/// logits over 50,304 tokens are 400 MB a batch). glibc serves each from a fresh `mmap` and
/// unmaps it when freed, so every step page-faults that memory in again: a third of the CPU
/// time of a masked-diffusion run went to the kernel. Served from the heap and kept there, the
/// same steps run about 1.5x faster (BENCHMARKS.md); the process keeps its peak memory until
/// it exits. Only glibc (Linux) has these knobs; elsewhere this does nothing.
pub fn keep_freed_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if std::env::var("TAT_MALLOC_DEFAULTS").as_deref() == Ok("1") {
            return;
        }
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: mallopt only changes glibc's allocation thresholds; it is called before the
        // run allocates and is safe to call at any time.
        unsafe {
            libc::mallopt(libc::M_MMAP_MAX, 0);
            libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        }
    });
}

/// What `check` prints: the libtorch this was built against (version and folder), CPU threads,
/// the CPU capability and the precision `auto` picks on each device (with why), and the CUDA
/// devices with their names and memory when `nvidia-smi` is there.
pub fn report() -> String {
    let lib = env!("TAT_LIBTORCH_LIB");
    let version = std::fs::read_to_string(Path::new(lib).join("../version.py"))
        .ok()
        .and_then(|v| {
            v.lines().find_map(|l| l.strip_prefix("__version__ = ").map(|s| s.trim_matches('\'').to_string()))
        })
        .unwrap_or_else(|| "unknown".into());
    let cuda = tch::Cuda::is_available();
    let mut out =
        format!("libtorch: {version} ({lib})\ncpu threads: {}\ncuda available: {cuda}\n", tch::get_num_threads());
    let cpu = precision::resolve(Precision::Auto, Device::Cpu);
    out.push_str(&format!("cpu capability: {}\n", native::cpu_capability()));
    out.push_str(&format!("precision on cpu: {} ({})\n", cpu.compute.name(), cpu.reason));
    if cuda {
        let gpu = precision::resolve(Precision::Auto, Device::Cuda(0));
        out.push_str(&format!("precision on cuda:0: {} ({})\n", gpu.compute.name(), gpu.reason));
        out.push_str(&format!("cuda devices: {}\n", tch::Cuda::device_count()));
        if let Ok(smi) = std::process::Command::new("nvidia-smi")
            .args(["--query-gpu=index,name,memory.total", "--format=csv,noheader"])
            .output()
        {
            out.push_str(&String::from_utf8_lossy(&smi.stdout));
        }
    }
    out
}
