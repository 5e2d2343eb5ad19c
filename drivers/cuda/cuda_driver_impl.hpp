// CudaDriverImpl: the CudaDriver (cuda_driver.hpp) on one device. One stream;
// every op is queued on it and returns at once; copy_to_host, synchronize and
// sample wait. Errors inside ops are kept in a StickyError (first one wins) and
// reported where the interface can (see CudaDriverOptions::abort_on_error).
// Split over cuda_driver.cpp (setup, memory, step metadata, small ops),
// cuda_matmul.cpp (weights, matmul) and cuda_attention.cpp (kv_store,
// attention, sampling). Not thread-safe, like every Driver.
#pragma once
#include <string>
#include <vector>

#include "cuda_check.hpp"
#include "cuda_resources.hpp"
#include "kernels.hpp"
#include "llmos/driver/cuda_driver.hpp"
#include "llmos/driver/step_bounds.hpp"
#include "step_plan.hpp"

namespace llmos::cuda {

using driver::CudaDriverOptions;
using driver::DeviceBuffer;
using driver::DriverInfo;
using driver::StepBatch;

class CudaDriverImpl final : public driver::CudaDriver {
 public:
  static Result<std::unique_ptr<CudaDriverImpl>> create(const CudaDriverOptions& options);
  ~CudaDriverImpl() override;

  DriverInfo info() const override;
  Status status() const override { return err_.status(); }
  size_t arena_bytes() const override { return pool_.bytes(); }

  // ---- memory ---------------------------------------------------------------
  Result<Weight> upload_weight(const Weight& host) override;
  Result<std::unique_ptr<DeviceBuffer>> alloc(size_t bytes) override;
  void copy_to_host(void* host_dst, const void* device_src, size_t bytes) override;
  void copy_to_device(void* device_dst, const void* host_src, size_t bytes) override;
  void synchronize() override;

  // ---- step -----------------------------------------------------------------
  void begin_step(const StepBatch& batch) override;
  void embed(const Weight& table, float* out) override;
  void matmul(const Weight& w, const float* x, float* y, int n) override;
  void rms_norm(const float* x, const Weight& gain, float* y, int n, int dim, float eps) override;
  void rope(float* x, int n_heads, int head_dim, const driver::RopeSpec& spec) override;
  void swiglu(const float* gate, const float* up, float* out, int64_t n_elems) override;
  void add(float* x, const float* y, int64_t n_elems) override;
  // Model-family ops (cuda_family_ops.cpp).
  void geglu(const float* gate, const float* up, float* out, int64_t n_elems) override;
  void add_bias(float* x, const Weight& bias, int n) override;
  void scale(float* x, float s, int64_t n_elems) override;
  void copy_columns(const float* src, int src_cols, int col0, int cols, float* dst, int n) override;
  void moe_route(const float* logits, int n, int n_experts, int k, int32_t* ids, float* weights) override;
  void moe_ffn(const driver::ExpertWeights& w, const float* x, const int32_t* ids, const float* weights, int n,
               int k, float* y, float* scratch) override;
  void kv_store(const KvGeometry& layout, void* kv, int layer, const float* k, const float* v,
                int window) override;
  void attention(const KvGeometry& layout, const void* kv, int layer, const float* q, float* out, int n_heads,
                 float scale, int window) override;
  void gather_outputs(const float* x, float* y, int dim) override;

  Status sample(const float* logits, int n_rows, int n_vocab, std::span<const driver::DeviceSampleRow> rows,
                int32_t* out) override;

 private:
  explicit CudaDriverImpl(const CudaDriverOptions& options);
  Status init();
  // The CUDA runtime's current device is per thread: the engine thread may not
  // be the one that made the driver.
  bool use_device() { return err_.cuda(cudaSetDevice(device_), "cudaSetDevice"); }
  // Records a launch's result under `what`; false when the driver is (now) failed.
  bool launched(cudaError_t err, const char* what) { return err_.cuda(err, what); }
  // After a wait: aborts or NaN-fills `dst` when an error is recorded.
  void report_errors(void* dst, size_t bytes);
  Status upload_quantized(const Weight& host, void* dst);
  Status check_resident(const Weight& host, const void* dst);
  // y [n][rows] = rows [row0, row0 + rows) of the quantized w times x [n][cols]:
  // those rows dequantized to f16 tile by tile, each tile through cuBLAS.
  void matmul_dequant(const Weight& w, int64_t row0, int64_t rows, const float* x, float* y, int n);
  // matmul by rows [row0, row0 + rows) of w (an expert of a stacked tensor):
  // a view for float types, matmul_dequant for quantized ones (whose device
  // layout is re-laid out, so rows cannot be addressed by byte offset).
  void matmul_rows(const Weight& w, int64_t row0, int64_t rows, const float* x, float* y, int n);
  // y [n][rows] = op(A)^T x for a row-major A [rows][cols] of `a_type`; x of `x_type`.
  void gemm(const void* a, cudaDataType a_type, const void* x, cudaDataType x_type, int64_t rows, int64_t cols,
            int n, float* y, int64_t ldy);

  CudaDriverOptions opts_;
  int device_ = 0;
  std::string device_name_;
  int sm_count_ = 0;
  int cc_major_ = 0, cc_minor_ = 0;
  size_t total_mem_ = 0;
  StreamOwner stream_;
  EventOwner staged_;  // recorded after begin_step's upload from staging_
  CublasOwner blas_;
  ArenaPool pool_;
  StickyError err_;
  bool reported_ = false;

  std::vector<ArenaSpan> weights_;  // every uploaded weight, alive as long as the driver
  GrowingBuffer blas_workspace_;
  GrowingBuffer upload_;            // raw quantized rows on their way to the re-layout

  // The staged step: host view (valid until the next begin_step) and device copy.
  StepBatch batch_;
  StepPlan plan_;
  PlanOptions plan_opts_;
  PinnedBuffer staging_;  // [layout.total] int32
  GrowingBuffer meta_;    // same, on the device
  driver::StepBounds bounds_;  // the step's checks (shared with the CPU driver)
  const int32_t* d_token_ids_ = nullptr;
  const int32_t* d_positions_ = nullptr;
  const int32_t* d_seq_index_ = nullptr;
  const int32_t* d_kv_slots_ = nullptr;
  const int32_t* d_output_rows_ = nullptr;
  const int32_t* d_block_tables_ = nullptr;
  const int32_t* d_window_kv_slots_ = nullptr;      // the batch's window arrays (null: none)
  const int32_t* d_window_block_tables_ = nullptr;
  const DecodeWork* d_work_ = nullptr;
  const ReduceItem* d_reduce_ = nullptr;
  const PrefillTile* d_tiles_ = nullptr;

  GrowingBuffer rope_table_;  // [n_tokens][rope_dim / 2][2] cos, sin
  bool rope_valid_ = false;
  int rope_dim_ = 0;
  float rope_base_ = 0.0f;
  const float* rope_factors_ = nullptr;
  float rope_scale_ = 1.0f;

  // moe_ffn: the (token, slot) pairs grouped by expert, on the host and the device.
  std::vector<int32_t> moe_ids_host_;   // [n * k] expert ids copied back
  std::vector<int32_t> moe_start_;      // [n_experts + 1]
  std::vector<int32_t> moe_cursor_;     // [n_experts]
  PinnedBuffer moe_meta_host_;          // [2][n * k]: token of each grouped row, grouped row of each pair
  GrowingBuffer moe_meta_;              // same, on the device

  GrowingBuffer act16_;   // [n][cols] f16 or bf16 activations for cuBLAS
  GrowingBuffer actq_;    // quantized activations: xq [n][cols] int8, xd, xs [n][cols/32]
  GrowingBuffer wtile_;   // [tile_rows][cols] f16 dequantized weight rows
  int64_t wtile_elems_ = 0;
  GrowingBuffer partial_;  // attention splits: acc [n_work][n_heads][hd], ml [n_work][n_heads][2]

  GrowingBuffer sample_dev_;  // rows [n][SampleRowParams], then out [n] int32
  PinnedBuffer sample_host_;
};

}  // namespace llmos::cuda
