//! Choosing the libtorch device and threads.

use tch::Device;

use crate::config::DeviceChoice;
use crate::error::{Result, TatError};

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
