//! Safe wrappers over `csrc/native.cpp`: libtorch calls that tch does not expose.

use std::ffi::{c_char, CStr};

use tch::Tensor;

use crate::error::{Result, TatError};

type Handle = *mut torch_sys::C_tensor;

extern "C" {
    fn tat_cpu_capability(buf: *mut c_char, cap: usize) -> usize;
    fn tat_cpu_features(buf: *mut c_char, cap: usize) -> usize;
    fn tat_fused_adamw(
        params: *const Handle,
        grads: *const Handle,
        exp_avgs: *const Handle,
        exp_avg_sqs: *const Handle,
        n: usize,
        step: Handle,
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
        eps: f64,
        err: *mut c_char,
        cap: usize,
    ) -> i32;
    fn tat_clip_grad_norm(
        grads: *const Handle,
        n: usize,
        max_norm: f64,
        total: *mut f64,
        err: *mut c_char,
        cap: usize,
    ) -> i32;
    fn tat_word_dropout(
        x: Handle,
        words: Handle,
        threshold: i64,
        scale: f64,
        out: *mut Handle,
        err: *mut c_char,
        cap: usize,
    ) -> i32;
    fn tat_clear_grads(tensors: *const Handle, n: usize, err: *mut c_char, cap: usize) -> i32;
    fn tat_set_grads(tensors: *const Handle, grads: *const Handle, n: usize, err: *mut c_char, cap: usize) -> i32;
    fn tat_to_dlpack(tensor: Handle, err: *mut c_char, cap: usize) -> *mut std::ffi::c_void;
    fn tat_dlpack_release(view: *mut std::ffi::c_void);
}

const TEXT_CAP: usize = 4096;

fn text(fill: impl FnOnce(*mut c_char, usize) -> usize) -> String {
    let mut buf = vec![0 as c_char; TEXT_CAP];
    fill(buf.as_mut_ptr(), buf.len());
    // SAFETY: the C++ side always NUL-terminates within `TEXT_CAP`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

/// Runs a C++ call that reports failure as a non-zero return with a message in its buffer.
fn checked(what: &str, call: impl FnOnce(*mut c_char, usize) -> i32) -> Result<()> {
    let mut failed = 0;
    let message = text(|buf, cap| {
        failed = call(buf, cap);
        0
    });
    if failed == 0 {
        Ok(())
    } else {
        Err(TatError::Torch(format!("{what}: {message}")))
    }
}

fn handles(tensors: &[&Tensor]) -> Vec<Handle> {
    tensors.iter().map(|t| t.as_ptr() as Handle).collect()
}

/// libtorch's CPU capability: the kernel set its dispatcher uses (`AVX2`, `AVX512`, `DEFAULT`).
pub fn cpu_capability() -> String {
    // SAFETY: writes at most `cap` bytes into the buffer.
    text(|buf, cap| unsafe { tat_cpu_capability(buf, cap) })
}

/// The CPU features libtorch reports as present, e.g. `avx512_bf16`, `amx_tile`.
pub fn cpu_features() -> Vec<String> {
    // SAFETY: writes at most `cap` bytes into the buffer.
    let names = text(|buf, cap| unsafe { tat_cpu_features(buf, cap) });
    names.split(',').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// The tensors of one AdamW update, parallel lists of equal length.
pub struct AdamWGroup<'a> {
    pub params: &'a [&'a Tensor],
    pub grads: &'a [&'a Tensor],
    pub exp_avgs: &'a [&'a Tensor],
    pub exp_avg_sqs: &'a [&'a Tensor],
}

/// The hyperparameters of one AdamW update; `step` is a float scalar on the parameters' device
/// holding the number of this update (1 for the first).
pub struct AdamWStep<'a> {
    pub step: &'a Tensor,
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    pub eps: f64,
}

/// One AdamW update of every tensor in `group` with libtorch's fused multi-tensor kernel.
pub fn fused_adamw(group: &AdamWGroup, s: &AdamWStep) -> Result<()> {
    let n = group.params.len();
    assert!(
        [group.grads.len(), group.exp_avgs.len(), group.exp_avg_sqs.len()].iter().all(|&m| m == n),
        "AdamW lists differ in length"
    );
    let (p, g, m, v) =
        (handles(group.params), handles(group.grads), handles(group.exp_avgs), handles(group.exp_avg_sqs));
    checked("the fused AdamW step", |err, cap| {
        // SAFETY: every handle is a live tensor borrowed for the call; the lists have length `n`.
        unsafe {
            tat_fused_adamw(
                p.as_ptr(),
                g.as_ptr(),
                m.as_ptr(),
                v.as_ptr(),
                n,
                s.step.as_ptr() as Handle,
                s.lr,
                s.beta1,
                s.beta2,
                s.weight_decay,
                s.eps,
                err,
                cap,
            )
        }
    })
}

/// The global L2 norm of `grads`; when `max_norm > 0` and the norm is above it, scales every
/// gradient in place so that the norm becomes `max_norm`.
pub fn clip_grad_norm(grads: &[&Tensor], max_norm: f64) -> Result<f64> {
    if grads.is_empty() {
        return Ok(0.0);
    }
    let g = handles(grads);
    let mut total = 0.0;
    checked("the gradient-norm clip", |err, cap| {
        // SAFETY: live tensors borrowed for the call; `total` outlives it.
        unsafe { tat_clip_grad_norm(g.as_ptr(), g.len(), max_norm, &mut total, err, cap) }
    })?;
    Ok(total)
}

/// `x * scale` where `words >= threshold` and 0 elsewhere, differentiable in `x`, in one pass
/// forward and one backward (CPU). `words` holds one contiguous int16 per element of `x`.
pub fn word_dropout(x: &Tensor, words: &Tensor, threshold: i64, scale: f64) -> Result<Tensor> {
    let mut out: Handle = std::ptr::null_mut();
    checked("dropout", |err, cap| {
        // SAFETY: live tensors borrowed for the call; on success `out` is a new tensor handle.
        unsafe {
            tat_word_dropout(x.as_ptr() as Handle, words.as_ptr() as Handle, threshold, scale, &mut out, err, cap)
        }
    })?;
    // SAFETY: the handle was just made by the C++ side and is owned by nothing else.
    Ok(unsafe { Tensor::from_ptr(out) })
}

/// Drops the gradients of `tensors`, so the next backward writes new ones (PyTorch's
/// `zero_grad(set_to_none=True)`).
pub fn clear_grads(tensors: &[&Tensor]) -> Result<()> {
    let h = handles(tensors);
    checked("clearing gradients", |err, cap| {
        // SAFETY: live tensors borrowed for the call.
        unsafe { tat_clear_grads(h.as_ptr(), h.len(), err, cap) }
    })
}

/// Sets the gradient of each of `tensors` to the matching tensor of `grads` (shared, not copied).
pub fn set_grads(tensors: &[&Tensor], grads: &[&Tensor]) -> Result<()> {
    assert_eq!(tensors.len(), grads.len(), "one gradient per tensor");
    let (t, g) = (handles(tensors), handles(grads));
    checked("setting gradients", |err, cap| {
        // SAFETY: live tensors borrowed for the call; the gradients are reference-counted copies.
        unsafe { tat_set_grads(t.as_ptr(), g.as_ptr(), t.len(), err, cap) }
    })
}

/// A DLPack view of `tensor` (a `DLManagedTensor*` sharing its memory): a consumer such as
/// `torch.from_dlpack` takes ownership; one that is not consumed must go to [`dlpack_release`].
pub fn to_dlpack(tensor: &Tensor) -> Result<*mut std::ffi::c_void> {
    let h = handles(&[tensor]);
    let mut view = std::ptr::null_mut();
    checked("a DLPack view", |err, cap| {
        // SAFETY: a live tensor borrowed for the call; the view holds its own reference.
        view = unsafe { tat_to_dlpack(h[0], err, cap) };
        i32::from(view.is_null())
    })?;
    Ok(view)
}

/// Releases a DLPack view from [`to_dlpack`] that no consumer took.
///
/// # Safety
/// `view` must come from [`to_dlpack`] and be neither consumed nor released before.
pub unsafe fn dlpack_release(view: *mut std::ffi::c_void) {
    // SAFETY: the caller's contract.
    unsafe { tat_dlpack_release(view) }
}
