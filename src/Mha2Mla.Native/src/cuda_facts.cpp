// What a CUDA device is and how much of it libtorch uses: doctor's facts and the conversion
// report's GPU peaks. The device queries need CUDA's headers, so they are compiled only where
// CMake found a CUDA libtorch (MM_WITH_CUDA); elsewhere each says so through mm_last_error().
#include "common.h"
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>
#ifdef MM_WITH_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#endif
#include <cstring>

namespace {
#ifdef MM_WITH_CUDA
c10::DeviceIndex checked(int index) {
  if (index < 0 || index >= static_cast<int>(torch::cuda::device_count()))
    throw std::invalid_argument("no CUDA device " + std::to_string(index));
  return static_cast<c10::DeviceIndex>(index);
}
#else
[[noreturn]] void no_cuda() { throw std::runtime_error("this native library was built against a libtorch without CUDA"); }
#endif
}  // namespace

extern "C" {

int mm_cuda_device_properties(int index, char* name, int name_capacity, int* major, int* minor, int64_t* total_memory) {
  MM_STATUS({
#ifdef MM_WITH_CUDA
    const auto* p = at::cuda::getDeviceProperties(checked(index));
    std::strncpy(name, p->name, static_cast<size_t>(name_capacity) - 1);
    name[name_capacity - 1] = '\0';
    *major = p->major;
    *minor = p->minor;
    *total_memory = static_cast<int64_t>(p->totalGlobalMem);
#else
    no_cuda();
#endif
  })
}

// Peak bytes libtorch's caching allocator handed out on the device since the last reset.
int64_t mm_cuda_peak_allocated(int index) {
  MM_GUARD(-1, {
#ifdef MM_WITH_CUDA
    // Index 0 is StatType::AGGREGATE (all pools); the enum moved namespaces across 2.x, its value did not.
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(checked(index));
    return stats.allocated_bytes[0].peak;
#else
    no_cuda();
#endif
  })
}

int mm_cuda_reset_peak(int index) {
  MM_STATUS({
#ifdef MM_WITH_CUDA
    c10::cuda::CUDACachingAllocator::resetPeakStats(checked(index));
#else
    no_cuda();
#endif
  })
}

// Returns cached, unused blocks to the driver (torch.cuda.empty_cache()).
int mm_cuda_empty_cache(void) {
  MM_STATUS({
#ifdef MM_WITH_CUDA
    c10::cuda::CUDACachingAllocator::emptyCache();
#endif
  })
}

// CUDA runtime and cuDNN versions as libtorch reports them (e.g. 13000, 91000); -1 without CUDA.
int64_t mm_cuda_runtime_version(void) { MM_GUARD(-1, { return at::detail::getCUDAHooks().versionCUDART(); }) }
int64_t mm_cudnn_version(void) { MM_GUARD(-1, { return at::detail::getCUDAHooks().versionCuDNN(); }) }

// libtorch's switches for the fused attention kernels (kind 0 flash, 1 memory-efficient):
// 1 on, 0 off or absent (before 2.0). Whether a GPU can run them is its compute capability's say.
int mm_sdp_kernel_enabled(int kind) {
#if TORCH_VERSION_MAJOR >= 2
  auto& context = at::globalContext();
  return (kind == 0 ? context.userEnabledFlashSDP() : context.userEnabledMemEfficientSDP()) ? 1 : 0;
#else
  (void)kind;
  return 0;
#endif
}

}  // extern "C"
