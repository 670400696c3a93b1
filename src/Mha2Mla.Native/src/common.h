// Shared plumbing for every entry point: the handle type, the live-handle count, and the
// guard that turns any C++ exception into a message for mm_last_error().
#pragma once
#include <torch/torch.h>
#include <atomic>
#include <string>
#include <vector>
#include "mha2mla_native.h"

struct mm_tensor {
  torch::Tensor value;
};

namespace mm {

extern std::atomic<int64_t> live_tensors;
void set_error(const char* message);

inline mm_tensor* wrap(torch::Tensor t) {
  live_tensors.fetch_add(1, std::memory_order_relaxed);
  return new mm_tensor{std::move(t)};
}

inline const torch::Tensor& unwrap(const mm_tensor* t) {
  if (t == nullptr) throw std::invalid_argument("null tensor handle");
  return t->value;
}

inline std::vector<int64_t> to_vector(const int64_t* values, int n) {
  if (n < 0 || (n > 0 && values == nullptr)) throw std::invalid_argument("bad shape array");
  return std::vector<int64_t>(values, values + n);
}

inline torch::Device device_of(int type, int index) {
  if (type == 0) return torch::Device(torch::kCPU);
  if (type == 1) {
    if (!torch::cuda::is_available())
      throw std::runtime_error("CUDA is not available in this libtorch build");
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  }
  throw std::invalid_argument("unknown device type " + std::to_string(type));
}

inline torch::TensorOptions options(int dtype, int dev_type, int dev_index) {
  return torch::TensorOptions()
      .dtype(static_cast<torch::ScalarType>(dtype))
      .device(device_of(dev_type, dev_index));
}

}  // namespace mm

// Runs `body`; on any exception records the message and returns `failure`.
#define MM_GUARD(failure, body)                                       \
  try {                                                               \
    body                                                              \
  } catch (const c10::Error& e) {                                     \
    mm::set_error(e.what_without_backtrace());                        \
  } catch (const std::exception& e) {                                 \
    mm::set_error(e.what());                                          \
  } catch (...) {                                                     \
    mm::set_error("unknown native error");                            \
  }                                                                   \
  return failure;

#define MM_TENSOR(expr) MM_GUARD(nullptr, { return mm::wrap(expr); })
#define MM_STATUS(stmt) MM_GUARD(-1, { stmt; return 0; })
