//! Which precision the matrix products run in on this machine.
//!
//! bf16 pays off only where the hardware multiplies bf16 natively: on an AVX2-only CPU libtorch
//! emulates it, about 100x slower than fp32. `precision = "auto"` therefore asks libtorch what the
//! CPU can do (its dispatch capability and the bf16 instruction sets it detects) and, where bf16
//! units are present or the device is a GPU, times one bf16 and one fp32 product to decide: some
//! CPUs with AVX512-BF16 multiply bf16 no faster than fp32. The measurement is taken once per
//! device and process.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use tch::{Device, Kind, Tensor};

use crate::config::Precision;
use crate::native;

/// What the matrix products run in, once `auto` is decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compute {
    Fp32,
    Bf16,
}

impl Compute {
    pub fn kind(self) -> Kind {
        match self {
            Compute::Fp32 => Kind::Float,
            Compute::Bf16 => Kind::BFloat16,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Compute::Fp32 => "fp32",
            Compute::Bf16 => "bf16",
        }
    }
}

/// The precision a run uses and why; `warning` is set when an explicit choice is expected to be
/// much slower than the alternative on this device.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub compute: Compute,
    pub reason: String,
    pub warning: Option<String>,
}

/// What the decision rests on, gathered from libtorch ([`facts`]) or written by a test.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// libtorch's CPU capability (`AVX2`, `AVX512`, ...); empty on a GPU.
    pub cpu_capability: String,
    /// The bf16 instruction sets libtorch reports (`avx512_bf16`, `amx_bf16`, ...); empty on a GPU.
    pub bf16_isa: Vec<String>,
    /// bf16 matrix-product throughput over fp32's, measured on the device; `None` when not measured.
    pub bf16_speedup: Option<f64>,
    /// Why bf16 could not be measured (e.g. the GPU has no bf16 kernels).
    pub bf16_error: Option<String>,
}

/// `auto` picks bf16 only when bf16 products are at least this much faster than fp32 products:
/// below it the casts around them and bf16's coarser rounding cost more than the products save.
pub const BF16_MIN_SPEEDUP: f64 = 1.5;

/// The CPU features (as libtorch names them) that multiply bf16 in hardware.
const BF16_FEATURES: [&str; 3] = ["avx512_bf16", "amx_bf16", "amx_tile"];

/// Decides the precision for `requested` on `device`, measuring bf16 only when the decision or
/// its warning needs it.
pub fn resolve(requested: Precision, device: Device) -> Resolved {
    let mut facts = facts(device);
    let probe = match requested {
        Precision::Fp32 => false,
        Precision::Auto => device != Device::Cpu || !facts.bf16_isa.is_empty(),
        Precision::Bf16 => device == Device::Cpu,
    };
    if probe {
        match measured_bf16_speedup(device) {
            Ok(s) => facts.bf16_speedup = Some(s),
            Err(e) => facts.bf16_error = Some(e),
        }
    }
    decide(requested, &facts)
}

/// The decision itself, a pure function of `facts`.
pub fn decide(requested: Precision, facts: &Facts) -> Resolved {
    let on_cpu = facts.device == "cpu";
    let native_cpu_bf16 = on_cpu && !facts.bf16_isa.is_empty() && facts.cpu_capability.starts_with("AVX512");
    let measured = facts.bf16_speedup.map(|s| format!("bf16 matrix products measured {} fp32's speed", times(s)));
    let hardware = if on_cpu {
        if facts.bf16_isa.is_empty() {
            format!("cpu capability {}, no AVX512-BF16 or AMX", facts.cpu_capability)
        } else if !native_cpu_bf16 {
            format!("cpu capability {}, set below the CPU's {}", facts.cpu_capability, facts.bf16_isa.join(", "))
        } else {
            format!("cpu capability {} with {}", facts.cpu_capability, facts.bf16_isa.join(", "))
        }
    } else {
        facts.device.clone()
    };
    match requested {
        Precision::Fp32 => Resolved { compute: Compute::Fp32, reason: "fp32 (set explicitly)".into(), warning: None },
        Precision::Bf16 => {
            let slow = facts.bf16_speedup.is_some_and(|s| s < 1.0);
            let warning = (on_cpu && (!native_cpu_bf16 || slow)).then(|| {
                let how = match facts.bf16_speedup {
                    Some(s) if s < 1.0 => {
                        format!("bf16 matrix products measured {} slower than fp32 here", times(1.0 / s))
                    }
                    _ => "without bf16 units, bf16 matrix products run up to ~100x slower than fp32".into(),
                };
                format!(
                    "precision = \"bf16\" on this CPU ({hardware}): {how}. \
                     Fix: set training.precision = \"auto\" or \"fp32\" (e.g. --set training.precision=auto)."
                )
            });
            Resolved { compute: Compute::Bf16, reason: "bf16 (set explicitly)".into(), warning }
        }
        Precision::Auto => {
            let (compute, why) = match (&facts.bf16_error, facts.bf16_speedup) {
                _ if on_cpu && !native_cpu_bf16 => (Compute::Fp32, hardware),
                (Some(error), _) => (Compute::Fp32, format!("{hardware}: no bf16 matrix products ({error})")),
                (None, Some(s)) => {
                    let compute = if s >= BF16_MIN_SPEEDUP { Compute::Bf16 } else { Compute::Fp32 };
                    (compute, format!("{hardware}; {}", measured.unwrap_or_default()))
                }
                (None, None) => (Compute::Fp32, format!("{hardware}; bf16 speed not measured")),
            };
            Resolved { compute, reason: format!("auto: {why} -> {}", compute.name()), warning: None }
        }
    }
}

fn times(ratio: f64) -> String {
    if ratio >= 10.0 {
        format!("{ratio:.0}x")
    } else {
        format!("{ratio:.2}x")
    }
}

/// What libtorch reports about `device`, before anything is measured.
pub fn facts(device: Device) -> Facts {
    let (name, cpu_capability, bf16_isa) = match device {
        Device::Cpu => {
            let isa = native::cpu_features().into_iter().filter(|f| BF16_FEATURES.contains(&f.as_str())).collect();
            ("cpu".to_string(), native::cpu_capability(), isa)
        }
        Device::Cuda(i) => (format!("cuda:{i}"), String::new(), Vec::new()),
        other => (format!("{other:?}").to_lowercase(), String::new(), Vec::new()),
    };
    Facts { device: name, cpu_capability, bf16_isa, bf16_speedup: None, bf16_error: None }
}

/// [`measure_bf16_speedup`] once per device and process.
fn measured_bf16_speedup(device: Device) -> Result<f64, String> {
    static MEASURED: Mutex<Vec<(Device, Result<f64, String>)>> = Mutex::new(Vec::new());
    let mut cache = MEASURED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, m)) = cache.iter().find(|(d, _)| *d == device) {
        return m.clone();
    }
    let m = measure_bf16_speedup(device);
    cache.push((device, m.clone()));
    m
}

/// Times square products of the width the shipped models use in both kinds, best of a few rounds,
/// and returns fp32's time over bf16's. On the CPU the products run on one thread and are timed
/// in that thread's CPU time, so other processes on the machine do not skew the comparison (wall
/// time on a busy 2-core machine made bf16 look 35x faster one run and 2x slower the next). A
/// round stops early once it is clearly slow, so a CPU that emulates bf16 spends well under a
/// second here.
fn measure_bf16_speedup(device: Device) -> Result<f64, String> {
    const N: i64 = 512;
    let on_cpu = device == Device::Cpu;
    let clock = if on_cpu { thread_cpu_time } else { wall_time };
    let best = |kind: Kind| -> Result<Duration, String> {
        let a = Tensor::f_randn([N, N], (kind, device)).map_err(|e| e.to_string())?;
        let b = Tensor::f_randn([N, N], (kind, device)).map_err(|e| e.to_string())?;
        let mut best = Duration::MAX;
        for _ in 0..5 {
            let started = clock();
            let _ = a.f_matmul(&b).map_err(|e| e.to_string())?;
            if device.is_cuda() {
                tch::Cuda::synchronize(device_index(device));
            }
            best = best.min(clock().saturating_sub(started));
            if best > Duration::from_millis(50) {
                break;
            }
        }
        Ok(best)
    };
    let threads = tch::get_num_threads();
    if on_cpu {
        tch::set_num_threads(1);
    }
    let measured = (|| -> Result<(Duration, Duration), String> {
        let _ = best(Kind::Float)?; // warms up the kernels and the allocator
        let _ = best(Kind::BFloat16)?;
        Ok((best(Kind::Float)?, best(Kind::BFloat16)?))
    })();
    if on_cpu {
        tch::set_num_threads(threads);
    }
    let (fp32, bf16): (Duration, Duration) = measured?;
    Ok(fp32.as_secs_f64() / bf16.as_secs_f64().max(1e-9))
}

fn wall_time() -> Duration {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// CPU time this thread has run, which time spent waiting for a core does not add to.
fn thread_cpu_time() -> Duration {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec for the call to fill.
    if unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) } != 0 {
        return wall_time();
    }
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}

fn device_index(device: Device) -> i64 {
    match device {
        Device::Cuda(i) => i as i64,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu(capability: &str, isa: &[&str], speedup: Option<f64>) -> Facts {
        Facts {
            device: "cpu".into(),
            cpu_capability: capability.into(),
            bf16_isa: isa.iter().map(|s| s.to_string()).collect(),
            bf16_speedup: speedup,
            bf16_error: None,
        }
    }

    #[test]
    fn auto_is_fp32_on_a_cpu_without_bf16_units() {
        let r = decide(Precision::Auto, &cpu("AVX2", &[], None));
        assert_eq!(r.compute, Compute::Fp32);
        assert_eq!(r.reason, "auto: cpu capability AVX2, no AVX512-BF16 or AMX -> fp32");
        assert_eq!(r.warning, None);
    }

    #[test]
    fn auto_is_fp32_when_avx512_lacks_bf16_even_if_a_probe_says_otherwise() {
        let r = decide(Precision::Auto, &cpu("AVX512", &[], Some(3.0)));
        assert_eq!(r.compute, Compute::Fp32);
    }

    #[test]
    fn auto_follows_the_measurement_where_bf16_units_exist() {
        let fast = decide(Precision::Auto, &cpu("AVX512", &["amx_bf16", "avx512_bf16"], Some(9.0)));
        assert_eq!(fast.compute, Compute::Bf16);
        assert!(fast.reason.contains("amx_bf16") && fast.reason.ends_with("-> bf16"), "{}", fast.reason);
        let slow = decide(Precision::Auto, &cpu("AVX512", &["avx512_bf16"], Some(0.9)));
        assert_eq!(slow.compute, Compute::Fp32);
        assert!(slow.reason.contains("0.90x fp32's speed"), "{}", slow.reason);
    }

    #[test]
    fn lowered_capability_means_fp32() {
        // ATEN_CPU_CAPABILITY=avx2 on a bf16 CPU: libtorch runs its AVX2 kernels.
        let r = decide(Precision::Auto, &cpu("AVX2", &["avx512_bf16"], Some(2.0)));
        assert_eq!(r.compute, Compute::Fp32);
    }

    #[test]
    fn explicit_values_are_kept() {
        for facts in [cpu("AVX2", &[], Some(0.01)), cpu("AVX512", &["amx_bf16"], Some(9.0))] {
            assert_eq!(decide(Precision::Fp32, &facts).compute, Compute::Fp32);
            assert_eq!(decide(Precision::Bf16, &facts).compute, Compute::Bf16);
        }
    }

    #[test]
    fn explicit_bf16_without_bf16_units_warns_with_the_measured_slowdown() {
        let r = decide(Precision::Bf16, &cpu("AVX2", &[], Some(0.01)));
        let warning = r.warning.expect("a warning");
        assert!(warning.contains("measured 100x slower than fp32 here"), "{warning}");
        assert!(warning.contains("training.precision = \"auto\""), "{warning}");
        assert_eq!(decide(Precision::Bf16, &cpu("AVX512", &["amx_bf16"], Some(9.0))).warning, None);
    }

    #[test]
    fn gpu_auto_uses_bf16_where_it_is_faster_and_fp32_where_it_fails() {
        let gpu = |speedup, error: Option<&str>| Facts {
            device: "cuda:0".into(),
            cpu_capability: String::new(),
            bf16_isa: vec![],
            bf16_speedup: speedup,
            bf16_error: error.map(str::to_string),
        };
        assert_eq!(decide(Precision::Auto, &gpu(Some(6.0), None)).compute, Compute::Bf16);
        let failed = decide(Precision::Auto, &gpu(None, Some("no kernel")));
        assert_eq!(failed.compute, Compute::Fp32);
        assert!(failed.reason.contains("no kernel"), "{}", failed.reason);
        assert_eq!(decide(Precision::Bf16, &gpu(Some(6.0), None)).warning, None);
    }

    #[test]
    fn this_machine_resolves_and_says_why() {
        let r = resolve(Precision::Auto, Device::Cpu);
        assert!(r.reason.starts_with("auto: cpu capability "), "{}", r.reason);
        assert!(r.reason.ends_with(r.compute.name()), "{}", r.reason);
    }
}
