// Layout changes and arithmetic: one line each, libtorch does the work.
#include "common.h"

using mm::unwrap;

#define MM_UNARY(name, expr) \
  mm_tensor* mm_##name(const mm_tensor* a) { MM_TENSOR(expr) }
#define MM_BINARY(name, expr) \
  mm_tensor* mm_##name(const mm_tensor* a, const mm_tensor* b) { MM_TENSOR(expr) }

extern "C" {

mm_tensor* mm_to(const mm_tensor* t, int dtype, int dev_type, int dev_index) {
  MM_TENSOR(unwrap(t).to(mm::device_of(dev_type, dev_index), static_cast<torch::ScalarType>(dtype)))
}
MM_UNARY(contiguous, unwrap(a).contiguous())
MM_UNARY(clone, unwrap(a).clone())

mm_tensor* mm_reshape(const mm_tensor* t, const int64_t* shape, int ndim) {
  MM_TENSOR(unwrap(t).reshape(mm::to_vector(shape, ndim)))
}
mm_tensor* mm_view(const mm_tensor* t, const int64_t* shape, int ndim) {
  MM_TENSOR(unwrap(t).view(mm::to_vector(shape, ndim)))
}
mm_tensor* mm_transpose(const mm_tensor* t, int64_t d0, int64_t d1) { MM_TENSOR(unwrap(t).transpose(d0, d1)) }
mm_tensor* mm_narrow(const mm_tensor* t, int64_t dim, int64_t start, int64_t length) {
  MM_TENSOR(unwrap(t).narrow(dim, start, length))
}
mm_tensor* mm_select(const mm_tensor* t, int64_t dim, int64_t index) { MM_TENSOR(unwrap(t).select(dim, index)) }
mm_tensor* mm_unsqueeze(const mm_tensor* t, int64_t dim) { MM_TENSOR(unwrap(t).unsqueeze(dim)) }
mm_tensor* mm_expand(const mm_tensor* t, const int64_t* shape, int ndim) {
  MM_TENSOR(unwrap(t).expand(mm::to_vector(shape, ndim)))
}

mm_tensor* mm_cat(const mm_tensor* const* ts, int n, int64_t dim) {
  MM_GUARD(nullptr, {
    std::vector<torch::Tensor> parts;
    parts.reserve(n);
    for (int i = 0; i < n; i++) parts.push_back(unwrap(ts[i]));
    return mm::wrap(torch::cat(parts, dim));
  })
}

mm_tensor* mm_index_select(const mm_tensor* t, int64_t dim, const mm_tensor* index) {
  MM_TENSOR(unwrap(t).index_select(dim, unwrap(index)))
}

MM_BINARY(add, unwrap(a) + unwrap(b))
MM_BINARY(sub, unwrap(a) - unwrap(b))
MM_BINARY(mul, unwrap(a) * unwrap(b))
MM_BINARY(div, unwrap(a) / unwrap(b))
MM_BINARY(matmul, torch::matmul(unwrap(a), unwrap(b)))
MM_BINARY(outer, torch::outer(unwrap(a), unwrap(b)))
mm_tensor* mm_add_scalar(const mm_tensor* a, double s) { MM_TENSOR(unwrap(a) + s) }
mm_tensor* mm_mul_scalar(const mm_tensor* a, double s) { MM_TENSOR(unwrap(a) * s) }
mm_tensor* mm_pow_scalar(const mm_tensor* a, double s) { MM_TENSOR(unwrap(a).pow(s)) }

MM_UNARY(neg, -unwrap(a))
MM_UNARY(sqrt, unwrap(a).sqrt())
MM_UNARY(rsqrt, unwrap(a).rsqrt())
MM_UNARY(sin, unwrap(a).sin())
MM_UNARY(cos, unwrap(a).cos())

mm_tensor* mm_mean(const mm_tensor* a, const int64_t* dims, int ndims, int keepdim) {
  MM_TENSOR(ndims == 0 ? unwrap(a).mean() : unwrap(a).mean(mm::to_vector(dims, ndims), keepdim != 0))
}
mm_tensor* mm_sum(const mm_tensor* a, const int64_t* dims, int ndims, int keepdim) {
  MM_TENSOR(ndims == 0 ? unwrap(a).sum() : unwrap(a).sum(mm::to_vector(dims, ndims), keepdim != 0))
}

MM_UNARY(abs, unwrap(a).abs())
MM_UNARY(round, unwrap(a).round())
MM_UNARY(floor, unwrap(a).floor())
mm_tensor* mm_clamp(const mm_tensor* a, double min, double max) { MM_TENSOR(unwrap(a).clamp(min, max)) }
mm_tensor* mm_amax(const mm_tensor* a, int64_t dim, int keepdim) { MM_TENSOR(unwrap(a).amax({dim}, keepdim != 0)) }
mm_tensor* mm_triu(const mm_tensor* a, int64_t diagonal) { MM_TENSOR(unwrap(a).triu(diagonal)) }
mm_tensor* mm_tril(const mm_tensor* a, int64_t diagonal) { MM_TENSOR(unwrap(a).tril(diagonal)) }
MM_BINARY(logical_or, unwrap(a).logical_or(unwrap(b)))
MM_BINARY(logical_and, unwrap(a).logical_and(unwrap(b)))
MM_UNARY(logical_not, unwrap(a).logical_not())

int mm_add_(mm_tensor* a, const mm_tensor* b) { MM_STATUS(a->value.add_(unwrap(b))) }
int mm_mul_(mm_tensor* a, const mm_tensor* b) { MM_STATUS(a->value.mul_(unwrap(b))) }
int mm_mul_scalar_(mm_tensor* a, double s) { MM_STATUS(a->value.mul_(s)) }
int mm_masked_fill_(mm_tensor* a, const mm_tensor* mask, double value) {
  MM_STATUS(a->value.masked_fill_(unwrap(mask), value))
}

}  // extern "C"
