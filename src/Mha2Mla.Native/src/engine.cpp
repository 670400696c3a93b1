// Engine facts and global switches: version, threads, CUDA, seeds, grad mode, errors.
#include "common.h"
#include <ATen/Version.h>

namespace mm {
std::atomic<int64_t> live_tensors{0};
thread_local std::string last_error;
thread_local bool has_error = false;

void set_error(const char* message) {
  last_error = message ? message : "unknown native error";
  has_error = true;
}
}  // namespace mm

extern "C" {

const char* mm_last_error(void) { return mm::has_error ? mm::last_error.c_str() : nullptr; }
void mm_clear_error(void) { mm::has_error = false; }

const char* mm_torch_version(void) {
  static const std::string version = TORCH_VERSION;
  return version.c_str();
}

const char* mm_build_config(void) {
  static const std::string config = at::show_config();
  return config.c_str();
}

int mm_set_num_threads(int n) { MM_STATUS(torch::set_num_threads(n)) }
int mm_get_num_threads(void) { return torch::get_num_threads(); }
int mm_cuda_is_available(void) { return torch::cuda::is_available() ? 1 : 0; }
int mm_cuda_device_count(void) { return static_cast<int>(torch::cuda::device_count()); }
int mm_manual_seed(uint64_t seed) { MM_STATUS(torch::manual_seed(seed)) }

int mm_set_grad_enabled(int enabled) {
  bool previous = torch::GradMode::is_enabled();
  torch::GradMode::set_enabled(enabled != 0);
  return previous ? 1 : 0;
}

int64_t mm_live_tensors(void) { return mm::live_tensors.load(); }

void mm_free(mm_tensor* t) {
  if (t == nullptr) return;
  delete t;
  mm::live_tensors.fetch_sub(1, std::memory_order_relaxed);
}

}  // extern "C"
