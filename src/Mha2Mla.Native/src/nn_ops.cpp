// The torch.nn.functional pieces a Llama needs.
#include "common.h"
#include <torch/version.h>

using mm::unwrap;

extern "C" {

mm_tensor* mm_linear(const mm_tensor* x, const mm_tensor* weight, const mm_tensor* bias) {
  MM_TENSOR(bias ? torch::linear(unwrap(x), unwrap(weight), unwrap(bias)) : torch::linear(unwrap(x), unwrap(weight)))
}

mm_tensor* mm_silu(const mm_tensor* x) { MM_TENSOR(torch::silu(unwrap(x))) }
mm_tensor* mm_softmax(const mm_tensor* x, int64_t dim) { MM_TENSOR(torch::softmax(unwrap(x), dim)) }
mm_tensor* mm_embedding(const mm_tensor* weight, const mm_tensor* ids) {
  MM_TENSOR(torch::embedding(unwrap(weight), unwrap(ids)))
}

mm_tensor* mm_cross_entropy(const mm_tensor* logits, const mm_tensor* targets, int reduction) {
  MM_TENSOR(torch::cross_entropy_loss(unwrap(logits), unwrap(targets), c10::nullopt, reduction))
}

// softmax(q·kᵀ/√E + mask)·v. libtorch 2.0 made this public with fused kernels (flash and
// memory-efficient on CUDA, a flash kernel on CPU from 2.2); 1.13 has only the private,
// unfused form with the same mask convention, kept so the calling code can be tested there.
mm_tensor* mm_scaled_dot_product_attention(const mm_tensor* q, const mm_tensor* k, const mm_tensor* v,
                                           const mm_tensor* allowed, int is_causal) {
  MM_GUARD(nullptr, {
    c10::optional<torch::Tensor> mask;
    if (allowed) mask = unwrap(allowed);
#if TORCH_VERSION_MAJOR >= 2
    return mm::wrap(at::scaled_dot_product_attention(unwrap(q), unwrap(k), unwrap(v), mask, 0.0, is_causal != 0));
#else
    return mm::wrap(std::get<0>(at::_scaled_dot_product_attention(unwrap(q), unwrap(k), unwrap(v), mask, 0.0, false, is_causal != 0)));
#endif
  })
}

int mm_sdpa_is_fused(void) { return TORCH_VERSION_MAJOR >= 2 ? 1 : 0; }

}  // extern "C"
