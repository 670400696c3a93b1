// Reading facts and elements out of a tensor.
#include "common.h"

extern "C" {

int mm_dim(const mm_tensor* t) { MM_GUARD(-1, { return static_cast<int>(mm::unwrap(t).dim()); }) }

int mm_shape(const mm_tensor* t, int64_t* out, int capacity) {
  MM_GUARD(-1, {
    auto sizes = mm::unwrap(t).sizes();
    if (static_cast<int>(sizes.size()) > capacity) throw std::invalid_argument("shape buffer too small");
    for (size_t i = 0; i < sizes.size(); i++) out[i] = sizes[i];
    return static_cast<int>(sizes.size());
  })
}

int mm_dtype(const mm_tensor* t) { MM_GUARD(-1, { return static_cast<int>(mm::unwrap(t).scalar_type()); }) }

int mm_device_type(const mm_tensor* t) {
  MM_GUARD(-1, { return mm::unwrap(t).device().is_cuda() ? 1 : 0; })
}

// -1 is a real answer here (a CPU tensor has no device index), so failure is -2.
int mm_device_index(const mm_tensor* t) {
  MM_GUARD(-2, { return static_cast<int>(mm::unwrap(t).device().index()); })
}

int64_t mm_numel(const mm_tensor* t) { MM_GUARD(-1, { return mm::unwrap(t).numel(); }) }

int mm_requires_grad(const mm_tensor* t) { MM_GUARD(-1, { return mm::unwrap(t).requires_grad() ? 1 : 0; }) }

int mm_copy_to_buffer(const mm_tensor* t, int dtype, void* out, int64_t nbytes) {
  MM_STATUS({
    auto cpu = mm::unwrap(t).detach().to(torch::kCPU, static_cast<torch::ScalarType>(dtype)).contiguous();
    if (cpu.nbytes() != static_cast<size_t>(nbytes))
      throw std::invalid_argument("buffer holds " + std::to_string(nbytes) + " bytes but the tensor needs " +
                                  std::to_string(cpu.nbytes()));
    std::memcpy(out, cpu.data_ptr(), cpu.nbytes());
  })
}

void* mm_data_ptr(const mm_tensor* t) {
  MM_GUARD(nullptr, {
    const auto& v = mm::unwrap(t);
    if (!v.device().is_cpu() || !v.is_contiguous()) throw std::invalid_argument("data_ptr needs a contiguous CPU tensor");
    return v.data_ptr();
  })
}

int mm_item_double(const mm_tensor* t, double* out) { MM_STATUS(*out = mm::unwrap(t).item<double>()) }

}  // extern "C"
