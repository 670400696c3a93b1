// The torch.nn.functional pieces a Llama needs.
#include "common.h"

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

}  // extern "C"
