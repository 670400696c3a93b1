// mha2mla_native: a thin C ABI over libtorch's C++ API.
//
// Conventions (every entry point follows them):
//  * A tensor is an opaque `mm_tensor*` owning one torch::Tensor; free it with mm_free.
//  * No C++ exception ever crosses this boundary. A function that fails returns NULL
//    (tensor results) or -1 (status results) and leaves a message for mm_last_error().
//  * dtypes are c10::ScalarType values (Float = 6, BFloat16 = 15, ...), as in TorchSharp.
//  * devices are (type, index) with type 0 = CPU, 1 = CUDA.
//  * No model logic lives here: only tensor operations and engine facts.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MM_API __attribute__((visibility("default")))

typedef struct mm_tensor mm_tensor;

// ---- errors and engine -------------------------------------------------------------
MM_API const char* mm_last_error(void);
MM_API void mm_clear_error(void);
MM_API const char* mm_torch_version(void);
MM_API const char* mm_build_config(void);  // at::show_config(): BLAS, LAPACK, CPU capability
MM_API int mm_set_num_threads(int n);
MM_API int mm_get_num_threads(void);
MM_API int mm_cuda_is_available(void);
MM_API int mm_cuda_device_count(void);
// CUDA facts (src/cuda_facts.cpp); each fails (-1, mm_last_error) in a build without CUDA.
MM_API int mm_cuda_device_properties(int index, char* name, int name_capacity, int* major, int* minor, int64_t* total_memory);
MM_API int64_t mm_cuda_peak_allocated(int index);  // bytes, since the last mm_cuda_reset_peak
MM_API int mm_cuda_reset_peak(int index);
MM_API int mm_cuda_empty_cache(void);
MM_API int64_t mm_cuda_runtime_version(void);       // e.g. 13000; -1 without CUDA
MM_API int64_t mm_cudnn_version(void);              // e.g. 91000; -1 without cuDNN
MM_API int mm_sdp_kernel_enabled(int kind);         // 0 flash, 1 memory-efficient: libtorch's switch (0 before 2.0)
MM_API int mm_manual_seed(uint64_t seed);
MM_API int mm_set_grad_enabled(int enabled);  // returns the previous state
MM_API int64_t mm_live_tensors(void);         // handles created and not yet freed

// ---- creation ------------------------------------------------------------------------
MM_API void mm_free(mm_tensor* t);
// Copies `data` (contiguous, of dtype `src_dtype`) into a new CPU tensor of `dst_dtype`,
// converting on the way (bf16 on disk -> fp32 in memory is one pass, no intermediate copy).
MM_API mm_tensor* mm_from_buffer(const void* data, const int64_t* shape, int ndim, int src_dtype, int dst_dtype);
MM_API mm_tensor* mm_zeros(const int64_t* shape, int ndim, int dtype, int dev_type, int dev_index);
MM_API mm_tensor* mm_ones(const int64_t* shape, int ndim, int dtype, int dev_type, int dev_index);
MM_API mm_tensor* mm_randn(const int64_t* shape, int ndim, int dtype, int dev_type, int dev_index);
MM_API mm_tensor* mm_eye(int64_t n, int dtype, int dev_type, int dev_index);
MM_API mm_tensor* mm_arange(double start, double end, double step, int dtype, int dev_type, int dev_index);

// ---- facts -----------------------------------------------------------------------------
MM_API int mm_dim(const mm_tensor* t);
MM_API int mm_shape(const mm_tensor* t, int64_t* out, int capacity);
MM_API int mm_dtype(const mm_tensor* t);
MM_API int mm_device_type(const mm_tensor* t);
MM_API int mm_device_index(const mm_tensor* t);  // -1 for CPU; -2 on error
MM_API int64_t mm_numel(const mm_tensor* t);
MM_API int mm_requires_grad(const mm_tensor* t);
// Copies the tensor's elements (converted to `dtype`, moved to CPU) into `out` of `nbytes`.
MM_API int mm_copy_to_buffer(const mm_tensor* t, int dtype, void* out, int64_t nbytes);
MM_API int mm_item_double(const mm_tensor* t, double* out);
// The first byte of a contiguous CPU tensor (NULL otherwise), for writing it out without a copy.
MM_API void* mm_data_ptr(const mm_tensor* t);

// ---- conversion and layout ---------------------------------------------------------
MM_API mm_tensor* mm_to(const mm_tensor* t, int dtype, int dev_type, int dev_index);
MM_API mm_tensor* mm_contiguous(const mm_tensor* t);
MM_API mm_tensor* mm_clone(const mm_tensor* t);
MM_API mm_tensor* mm_reshape(const mm_tensor* t, const int64_t* shape, int ndim);
MM_API mm_tensor* mm_view(const mm_tensor* t, const int64_t* shape, int ndim);  // fails where reshape would copy
MM_API mm_tensor* mm_transpose(const mm_tensor* t, int64_t d0, int64_t d1);
MM_API mm_tensor* mm_narrow(const mm_tensor* t, int64_t dim, int64_t start, int64_t length);
MM_API mm_tensor* mm_select(const mm_tensor* t, int64_t dim, int64_t index);
MM_API mm_tensor* mm_unsqueeze(const mm_tensor* t, int64_t dim);
MM_API mm_tensor* mm_expand(const mm_tensor* t, const int64_t* shape, int ndim);
MM_API mm_tensor* mm_cat(const mm_tensor* const* ts, int n, int64_t dim);
MM_API mm_tensor* mm_index_select(const mm_tensor* t, int64_t dim, const mm_tensor* index);

// ---- arithmetic ------------------------------------------------------------------------
MM_API mm_tensor* mm_add(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_sub(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_mul(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_div(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_add_scalar(const mm_tensor* a, double s);
MM_API mm_tensor* mm_mul_scalar(const mm_tensor* a, double s);
MM_API mm_tensor* mm_pow_scalar(const mm_tensor* a, double s);
MM_API mm_tensor* mm_matmul(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_outer(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_neg(const mm_tensor* a);
MM_API mm_tensor* mm_sqrt(const mm_tensor* a);
MM_API mm_tensor* mm_rsqrt(const mm_tensor* a);
MM_API mm_tensor* mm_sin(const mm_tensor* a);
MM_API mm_tensor* mm_cos(const mm_tensor* a);
MM_API mm_tensor* mm_mean(const mm_tensor* a, const int64_t* dims, int ndims, int keepdim);
MM_API mm_tensor* mm_sum(const mm_tensor* a, const int64_t* dims, int ndims, int keepdim);
MM_API mm_tensor* mm_abs(const mm_tensor* a);
MM_API mm_tensor* mm_round(const mm_tensor* a);
MM_API mm_tensor* mm_floor(const mm_tensor* a);
MM_API mm_tensor* mm_clamp(const mm_tensor* a, double min, double max);
MM_API mm_tensor* mm_amax(const mm_tensor* a, int64_t dim, int keepdim);
MM_API mm_tensor* mm_triu(const mm_tensor* a, int64_t diagonal);
MM_API mm_tensor* mm_tril(const mm_tensor* a, int64_t diagonal);
MM_API mm_tensor* mm_logical_or(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_logical_and(const mm_tensor* a, const mm_tensor* b);
MM_API mm_tensor* mm_logical_not(const mm_tensor* a);

// in place (return 0, or -1 on error): they let hot loops free memory as they go
MM_API int mm_add_(mm_tensor* a, const mm_tensor* b);
MM_API int mm_mul_(mm_tensor* a, const mm_tensor* b);
MM_API int mm_mul_scalar_(mm_tensor* a, double s);
MM_API int mm_masked_fill_(mm_tensor* a, const mm_tensor* mask, double value);

// ---- neural-network functions ------------------------------------------------------
MM_API mm_tensor* mm_linear(const mm_tensor* x, const mm_tensor* weight, const mm_tensor* bias /* nullable */);
MM_API mm_tensor* mm_silu(const mm_tensor* x);
MM_API mm_tensor* mm_softmax(const mm_tensor* x, int64_t dim);
MM_API mm_tensor* mm_embedding(const mm_tensor* weight, const mm_tensor* ids);
// reduction: 0 none, 1 mean, 2 sum (torch::Reduction)
MM_API mm_tensor* mm_cross_entropy(const mm_tensor* logits, const mm_tensor* targets, int reduction);
// torch.nn.functional.scaled_dot_product_attention: scale 1/sqrt(q.size(-1)); `allowed` (nullable)
// is true where a query may attend (PyTorch's convention); is_causal = top-left causal, no mask tensor.
MM_API mm_tensor* mm_scaled_dot_product_attention(const mm_tensor* q, const mm_tensor* k, const mm_tensor* v,
                                                  const mm_tensor* allowed, int is_causal);
// 1 when the libtorch has the public, fused kernels (2.0+); 0 on 1.13 (the unfused private form).
MM_API int mm_sdpa_is_fused(void);

// ---- autograd and optimization ------------------------------------------------------
MM_API int mm_set_requires_grad(mm_tensor* t, int requires_grad);
MM_API int mm_backward(const mm_tensor* loss);
MM_API int mm_has_grad(const mm_tensor* t);            // 1 if a gradient is stored, 0 if not
MM_API mm_tensor* mm_grad(const mm_tensor* t);          // the stored gradient (shares memory)
MM_API int mm_zero_grad(mm_tensor* t);                  // forgets the gradient (as set_to_none)
MM_API int mm_copy_(mm_tensor* dst, const mm_tensor* src);
// One decoupled-weight-decay Adam step on one parameter, exactly torch.optim.AdamW's
// single-tensor update (step is the 1-based step count after this update).
MM_API int mm_adamw_step(mm_tensor* param, const mm_tensor* grad, mm_tensor* exp_avg, mm_tensor* exp_avg_sq,
                         int64_t step, double lr, double beta1, double beta2, double eps, double weight_decay);
// ---- linear algebra ------------------------------------------------------------------
// Reduced SVD of a matrix: a = u · diag(s) · vh. Outputs are new tensors.
MM_API int mm_svd(const mm_tensor* a, mm_tensor** u, mm_tensor** s, mm_tensor** vh);
// Lower Cholesky factor L of a symmetric positive-definite matrix: a = L·Lᵀ.
MM_API mm_tensor* mm_cholesky(const mm_tensor* a);
// X with a·X = b (left) or X·a = b (right) for a triangular a.
MM_API mm_tensor* mm_solve_triangular(const mm_tensor* a, const mm_tensor* b, int upper, int left);

// Autocast on dev_type (0 CPU, 1 CUDA) to `dtype` (e.g. BFloat16) for matmuls while weights stay
// fp32. Returns the previous enabled state (0/1), so a scope can restore it, or -1 on error.
MM_API int mm_set_autocast(int dev_type, int enabled, int dtype);

#ifdef __cplusplus
}
#endif
