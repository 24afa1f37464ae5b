// The few libtorch calls tch does not expose: what libtorch reports about the CPU, and the
// multi-tensor kernels (fused AdamW, foreach norms) that update every parameter in one call.
// Tensors arrive as tch's `at::Tensor*` handles. Every function catches C++ exceptions and
// returns their message through `err`, so none unwinds into Rust.

#include <ATen/ATen.h>
#include <ATen/DLConvertor.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/cpu/Utils.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <cstring>
#include <string>
#include <vector>

namespace {

// Copies `s` into `buf` (NUL-terminated, truncated to `cap`) and returns the length of `s`.
size_t copy_out(const std::string& s, char* buf, size_t cap) {
  if (cap > 0) {
    size_t n = s.size() < cap - 1 ? s.size() : cap - 1;
    std::memcpy(buf, s.data(), n);
    buf[n] = '\0';
  }
  return s.size();
}

template <typename F>
int guarded(char* err, size_t cap, F f) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    copy_out(e.what(), err, cap);
    return 1;
  }
}

std::vector<at::Tensor> list(at::Tensor** tensors, size_t n) {
  std::vector<at::Tensor> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(*tensors[i]);
  return out;
}

// `x * factor`, the factor `scale` where `words >= threshold` and 0 elsewhere (both in x's
// kind), in one pass over contiguous CPU tensors of the same number of elements. The same
// arithmetic as building the factor tensor and multiplying by it: x * 0 stays NaN for a NaN x.
at::Tensor masked_scale(const at::Tensor& x, const at::Tensor& words, int64_t threshold, double scale) {
  RECORD_FUNCTION("tat::masked_scale", std::vector<c10::IValue>({x}));
  auto input = x.contiguous();
  auto out = at::empty_like(input, at::MemoryFormat::Contiguous);
  const int16_t* w = words.data_ptr<int16_t>();
  const auto cut = static_cast<int16_t>(threshold);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, input.scalar_type(), "tat_masked_scale", [&] {
    const scalar_t keep = static_cast<scalar_t>(static_cast<float>(scale));
    const scalar_t drop = static_cast<scalar_t>(0);
    const scalar_t* in = input.data_ptr<scalar_t>();
    scalar_t* o = out.data_ptr<scalar_t>();
    at::parallel_for(0, input.numel(), 1 << 15, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) o[i] = in[i] * (w[i] >= cut ? keep : drop);
    });
  });
  return out;
}

// Dropout whose mask is `words >= threshold` (16-bit random words, one per element), applied in
// one pass forward and one backward; only the words are kept for the backward.
struct WordDropout : public torch::autograd::Function<WordDropout> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& words,
                            int64_t threshold, double scale) {
    ctx->save_for_backward({words});
    ctx->saved_data["threshold"] = threshold;
    ctx->saved_data["scale"] = scale;
    return masked_scale(x, words, threshold, scale);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto words = ctx->get_saved_variables()[0];
    auto grad = masked_scale(grads[0], words, ctx->saved_data["threshold"].toInt(), ctx->saved_data["scale"].toDouble());
    return {grad, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

extern "C" {

// libtorch's CPU capability: the kernel set its dispatcher chose ("AVX2", "AVX512", "DEFAULT").
size_t tat_cpu_capability(char* buf, size_t cap) { return copy_out(at::get_cpu_capability(), buf, cap); }

// The CPU features libtorch reports as present (e.g. "avx512_bf16", "amx_tile"), comma separated.
size_t tat_cpu_features(char* buf, size_t cap) {
  std::string names;
  try {
    for (const auto& [name, value] : at::cpu::get_cpu_capabilities()) {
      if (value.isBool() && value.toBool()) {
        if (!names.empty()) names += ",";
        names += name;
      }
    }
  } catch (const std::exception&) {
  }
  return copy_out(names, buf, cap);
}

// One AdamW step over `n` parameters with libtorch's fused kernel. `step` is a float scalar
// tensor on the parameters' device holding the step number after this update (1 for the first).
int tat_fused_adamw(at::Tensor** params, at::Tensor** grads, at::Tensor** exp_avgs, at::Tensor** exp_avg_sqs,
                    size_t n, at::Tensor* step, double lr, double beta1, double beta2, double weight_decay,
                    double eps, char* err, size_t cap) {
  return guarded(err, cap, [&] {
    std::vector<at::Tensor> steps(n, *step);
    at::_fused_adamw_(list(params, n), list(grads, n), list(exp_avgs, n), list(exp_avg_sqs, n), {}, steps, lr,
                      beta1, beta2, weight_decay, eps, /*amsgrad=*/false, /*maximize=*/false);
  });
}

// The global L2 norm of `n` gradients (into `total`), then, when `max_norm > 0` and the norm is
// above it, every gradient scaled in place by `max_norm / (norm + 1e-6)`.
int tat_clip_grad_norm(at::Tensor** grads, size_t n, double max_norm, double* total, char* err, size_t cap) {
  return guarded(err, cap, [&] {
    auto gs = list(grads, n);
    auto norms = at::_foreach_norm(gs, 2);
    *total = at::linalg_vector_norm(at::stack(norms).to(at::kDouble), 2).item<double>();
    if (max_norm > 0.0 && *total > max_norm) {
      at::_foreach_mul_(gs, at::Scalar(max_norm / (*total + 1e-6)));
    }
  });
}

// Inverted dropout of a CPU tensor with a given mask: `x * scale` where `words >= threshold`, 0
// elsewhere, differentiable in `x`. `words` holds one int16 per element of `x` (contiguous).
// Writes the new tensor's handle into `out`.
int tat_word_dropout(at::Tensor* x, at::Tensor* words, int64_t threshold, double scale, at::Tensor** out, char* err,
                     size_t cap) {
  return guarded(err, cap, [&] {
    TORCH_CHECK(words->scalar_type() == at::kShort && words->is_contiguous() && words->numel() == x->numel(),
                "the dropout words must be one contiguous int16 per element");
    TORCH_CHECK(x->device().is_cpu(), "the word dropout runs on the CPU");
    *out = new at::Tensor(WordDropout::apply(*x, *words, threshold, scale));
  });
}

// Drops the gradients of `n` tensors (as PyTorch's `zero_grad(set_to_none=True)`): the next
// backward writes fresh ones instead of adding into zero-filled buffers.
int tat_clear_grads(at::Tensor** tensors, size_t n, char* err, size_t cap) {
  return guarded(err, cap, [&] {
    for (size_t i = 0; i < n; ++i) tensors[i]->mutable_grad().reset();
  });
}

// Sets each tensor's gradient to the matching one of `grads` (the same memory, not a copy).
int tat_set_grads(at::Tensor** tensors, at::Tensor** grads, size_t n, char* err, size_t cap) {
  return guarded(err, cap, [&] {
    for (size_t i = 0; i < n; ++i) tensors[i]->mutable_grad() = *grads[i];
  });
}

// A DLPack view of a tensor (its memory, shared, kept alive until the view's deleter runs): how
// a front hands an engine tensor to another library in the same process (torch.distributed).
void* tat_to_dlpack(at::Tensor* tensor, char* err, size_t cap) {
  void* out = nullptr;
  guarded(err, cap, [&] { out = at::toDLPack(*tensor); });
  return out;
}

// Releases a DLPack view no library took.
void tat_dlpack_release(void* view) {
  auto managed = static_cast<DLManagedTensor*>(view);
  if (managed != nullptr && managed->deleter != nullptr) managed->deleter(managed);
}

}  // extern "C"
