// Gradients, the optimizer update and linear algebra: what training and conversion need beyond the forward pass.
#include "common.h"
#include <ATen/autocast_mode.h>
#include <torch/version.h>
#include <cmath>

using mm::unwrap;

extern "C" {

int mm_set_requires_grad(mm_tensor* t, int requires_grad) { MM_STATUS(t->value.requires_grad_(requires_grad != 0)) }

int mm_backward(const mm_tensor* loss) { MM_STATUS(unwrap(loss).backward()) }

int mm_has_grad(const mm_tensor* t) { MM_GUARD(-1, { return unwrap(t).grad().defined() ? 1 : 0; }) }

mm_tensor* mm_grad(const mm_tensor* t) {
  MM_GUARD(nullptr, {
    auto g = unwrap(t).grad();
    if (!g.defined()) throw std::invalid_argument("tensor has no gradient");
    return mm::wrap(g);
  })
}

int mm_zero_grad(mm_tensor* t) { MM_STATUS(t->value.mutable_grad().reset()) }

int mm_copy_(mm_tensor* dst, const mm_tensor* src) {
  MM_STATUS({
    torch::NoGradGuard no_grad;
    dst->value.copy_(unwrap(src));
  })
}

int mm_adamw_step(mm_tensor* param, const mm_tensor* grad, mm_tensor* exp_avg, mm_tensor* exp_avg_sq,
                  int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay) {
  MM_STATUS({
    torch::NoGradGuard no_grad;
    auto& p = param->value;
    const auto& g = unwrap(grad);
    auto& m = exp_avg->value;
    auto& v = exp_avg_sq->value;
    // The same sequence of operations as torch 1.13's torch/optim/adamw.py (_single_tensor_adamw).
    p.mul_(1 - lr * weight_decay);
    m.mul_(beta1).add_(g, 1 - beta1);
    v.mul_(beta2).addcmul_(g, g, 1 - beta2);
    const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
    const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
    const double step_size = lr / bias_correction1;
    const double bias_correction2_sqrt = std::sqrt(bias_correction2);
    auto denom = (v.sqrt() / bias_correction2_sqrt).add_(eps);
    p.addcdiv_(m, denom, -step_size);
  })
}

int mm_svd(const mm_tensor* a, mm_tensor** u, mm_tensor** s, mm_tensor** vh) {
  MM_STATUS({
    // at::linalg_svd, not torch::linalg::svd: libtorch 2.x no longer declares the latter via torch/torch.h.
    auto result = at::linalg_svd(unwrap(a), /*full_matrices=*/false);
    *u = mm::wrap(std::get<0>(result));
    *s = mm::wrap(std::get<1>(result));
    *vh = mm::wrap(std::get<2>(result));
  })
}

mm_tensor* mm_cholesky(const mm_tensor* a) { MM_TENSOR(at::linalg_cholesky(unwrap(a))) }

mm_tensor* mm_solve_triangular(const mm_tensor* a, const mm_tensor* b, int upper, int left) {
  MM_TENSOR(at::linalg_solve_triangular(unwrap(a), unwrap(b), upper != 0, left != 0))
}

// Autocast on one device type (0 CPU, 1 CUDA). libtorch 2.4 generalized the API to a device
// type and deprecated the per-device calls (each use prints a warning), so both spellings are
// kept, by version. Returns whether autocast was on before.
int mm_set_autocast(int dev_type, int enabled, int dtype) {
  MM_GUARD(-1, {
    const auto type = static_cast<at::ScalarType>(dtype);
    const bool on = enabled != 0;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
    const auto device = dev_type == 1 ? at::kCUDA : at::kCPU;
    const int previous = at::autocast::is_autocast_enabled(device) ? 1 : 0;
    at::autocast::set_autocast_enabled(device, on);
    at::autocast::set_autocast_dtype(device, type);
#else
    int previous;
    if (dev_type == 1) {
      previous = at::autocast::is_enabled() ? 1 : 0;
      at::autocast::set_enabled(on);
      at::autocast::set_autocast_gpu_dtype(type);
    } else {
      previous = at::autocast::is_cpu_enabled() ? 1 : 0;
      at::autocast::set_cpu_enabled(on);
      at::autocast::set_autocast_cpu_dtype(type);
    }
#endif
    if (!on) at::autocast::clear_cache();
    return previous;
  })
}

}  // extern "C"
