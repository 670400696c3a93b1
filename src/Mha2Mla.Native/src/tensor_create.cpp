// Creating tensors: from caller memory (always copied, so the caller may unmap it) and factories.
#include "common.h"

extern "C" {

mm_tensor* mm_from_buffer(const void* data, const int64_t* shape, int ndim, int src_dtype, int dst_dtype) {
  MM_GUARD(nullptr, {
    auto view = torch::from_blob(const_cast<void*>(data), mm::to_vector(shape, ndim),
                                 torch::TensorOptions().dtype(static_cast<torch::ScalarType>(src_dtype)));
    auto target = static_cast<torch::ScalarType>(dst_dtype);
    return mm::wrap(target == view.scalar_type() ? view.clone() : view.to(target));
  })
}

mm_tensor* mm_zeros(const int64_t* shape, int ndim, int dtype, int dev_type, int dev_index) {
  MM_TENSOR(torch::zeros(mm::to_vector(shape, ndim), mm::options(dtype, dev_type, dev_index)))
}

mm_tensor* mm_ones(const int64_t* shape, int ndim, int dtype, int dev_type, int dev_index) {
  MM_TENSOR(torch::ones(mm::to_vector(shape, ndim), mm::options(dtype, dev_type, dev_index)))
}

mm_tensor* mm_randn(const int64_t* shape, int ndim, int dtype, int dev_type, int dev_index) {
  MM_TENSOR(torch::randn(mm::to_vector(shape, ndim), mm::options(dtype, dev_type, dev_index)))
}

mm_tensor* mm_eye(int64_t n, int dtype, int dev_type, int dev_index) {
  MM_TENSOR(torch::eye(n, mm::options(dtype, dev_type, dev_index)))
}

mm_tensor* mm_arange(double start, double end, double step, int dtype, int dev_type, int dev_index) {
  MM_TENSOR(torch::arange(start, end, step, mm::options(dtype, dev_type, dev_index)))
}

}  // extern "C"
