//! A data-parallel run's process group, from Python: the engine's [`Collective`] calls go to a
//! Python object (`tiny_agent_trainer.distributed.TorchCollective`) that runs torch.distributed's
//! collectives on the engine's own tensors, handed over as DLPack capsules (the memory is shared,
//! nothing is copied).

use std::ffi::CStr;
use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use tat_core::train::Collective;
use tat_core::TatError;
use tch::Tensor;

use crate::errors::to_py;

/// The capsule name DLPack consumers take (and rename to `used_dltensor` once they own it).
const DLTENSOR: &CStr = c"dltensor";

/// A capsule's destructor: frees the view unless a consumer took it.
unsafe extern "C" fn release_unused(capsule: *mut ffi::PyObject) {
    // SAFETY: Python calls this with the capsule it is destroying; a capsule still named
    // `dltensor` owns the view it holds.
    unsafe {
        if ffi::PyCapsule_IsValid(capsule, DLTENSOR.as_ptr()) == 1 {
            let view = ffi::PyCapsule_GetPointer(capsule, DLTENSOR.as_ptr());
            tat_core::native::dlpack_release(view);
        }
    }
}

/// `tensor` as a DLPack capsule: `torch.from_dlpack` makes a torch tensor of the same memory.
fn capsule<'py>(py: Python<'py>, tensor: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let view = tat_core::native::to_dlpack(tensor).map_err(to_py)?;
    // SAFETY: `view` is a fresh DLManagedTensor that the capsule owns until a consumer takes it.
    unsafe {
        let object = ffi::PyCapsule_New(view, DLTENSOR.as_ptr(), Some(release_unused));
        if object.is_null() {
            tat_core::native::dlpack_release(view);
            return Err(PyErr::fetch(py));
        }
        Ok(Bound::from_owned_ptr(py, object))
    }
}

/// The methods a process group object has.
const METHODS: [&str; 2] = ["all_reduce", "broadcast"];

/// A Python process group object: `rank`, `world_size`, `all_reduce(capsule)` (a sum, in place)
/// and `broadcast(capsule)` (rank 0's values, in place).
pub struct PyCollective {
    object: Py<PyAny>,
    rank: usize,
    world: usize,
}

impl PyCollective {
    pub fn new(object: &Bound<'_, PyAny>) -> PyResult<Self> {
        let kind = object.get_type().name().map(|n| n.to_string()).unwrap_or_default();
        let number = |name: &str| -> PyResult<usize> {
            object.getattr(name).and_then(|v| v.extract()).map_err(|_| {
                to_py(TatError::Usage(format!(
                    "train: collective (a {kind}) has no whole-number `{name}`. Fix: pass \
                     tiny_agent_trainer.distributed.TorchCollective() after torch.distributed.init_process_group()."
                )))
            })
        };
        let (rank, world) = (number("rank")?, number("world_size")?);
        if rank >= world {
            return Err(to_py(TatError::Usage(format!(
                "train: collective has rank {rank} of world_size {world}. Fix: a rank from 0 to world_size - 1."
            ))));
        }
        if let Some(method) = METHODS.iter().find(|m| !object.getattr(**m).is_ok_and(|f| f.is_callable())) {
            return Err(to_py(TatError::Usage(format!(
                "train: collective (a {kind}) has no {method}() method. Fix: pass \
                 tiny_agent_trainer.distributed.TorchCollective()."
            ))));
        }
        Ok(Self { object: object.clone().unbind(), rank, world })
    }

    fn call(&self, method: &str, buffer: &Tensor) -> tat_core::Result<()> {
        Python::attach(|py| {
            let result = capsule(py, buffer).and_then(|c| self.object.call_method1(py, method, (c,)));
            result.map(drop).map_err(|e| {
                TatError::Torch(format!(
                    "rank {} of {}: the process group's {method} failed: {}: {}. The other processes stop \
                     when torchrun ends the group; `last` holds the state saved at the last epoch.",
                    self.rank,
                    self.world,
                    e.get_type(py).name().map(|n| n.to_string()).unwrap_or_default(),
                    e.value(py)
                ))
            })
        })
    }
}

impl Collective for PyCollective {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world(&self) -> usize {
        self.world
    }

    fn all_reduce_sum(&mut self, buffer: &Tensor) -> tat_core::Result<()> {
        self.call("all_reduce", buffer)
    }

    fn broadcast(&mut self, buffer: &Tensor) -> tat_core::Result<()> {
        self.call("broadcast", buffer)
    }
}

/// Set by [`SigintGuard`]'s handler: Ctrl-C reached this process during a data-parallel run.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

extern "C" fn note_sigint(_signal: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Takes SIGINT from Python for a data-parallel run's length, and gives it back when dropped.
///
/// Python runs its SIGINT handler at the next bytecode of the main thread, and during a run that
/// is most often inside a collective (`TorchCollective.all_reduce` is Python): the
/// KeyboardInterrupt would break the collective on this process alone, and the others would fail
/// in theirs without saving. Under torchrun every process gets Ctrl-C twice (the terminal's, then
/// torchrun's forward). With this guard a SIGINT only raises a flag that the learner reads
/// between steps ([`interrupted`]); the processes agree to stop at the same step and rank 0 saves
/// `last`.
pub struct SigintGuard {
    previous: libc::sigaction,
}

impl SigintGuard {
    pub fn install() -> std::io::Result<Self> {
        INTERRUPTED.store(false, Ordering::SeqCst);
        // SAFETY: a zeroed sigaction is a valid value to fill; the handler only stores to an
        // atomic, which is async-signal-safe.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = note_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
            action.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut action.sa_mask);
            let mut previous: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGINT, &action, &mut previous) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Self { previous })
        }
    }
}

impl Drop for SigintGuard {
    fn drop(&mut self) {
        // SAFETY: restores the handler `install` replaced (Python's own).
        unsafe {
            libc::sigaction(libc::SIGINT, &self.previous, std::ptr::null_mut());
        }
    }
}

/// Whether Ctrl-C reached this process while a [`SigintGuard`] was installed.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}
