// CudaDriverImpl, part 1: device setup, memory, the staged step and the
// element-wise ops. Parts 2 and 3: cuda_matmul.cpp, cuda_attention.cpp.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "cuda_driver_impl.hpp"

namespace llmos::cuda {
namespace {

constexpr size_t kCublasWorkspaceBytes = size_t(32) << 20;  // what cuBLAS suggests for Hopper

class ArenaBuffer final : public DeviceBuffer {
 public:
  ArenaBuffer(ArenaSpan span, size_t size) : span_(std::move(span)), size_(size) {}
  void* data() override { return span_.ptr(); }
  size_t size() const override { return size_; }

 private:
  ArenaSpan span_;
  size_t size_;
};

}  // namespace

CudaDriverImpl::CudaDriverImpl(const CudaDriverOptions& o)
    : opts_(o), device_(o.device), pool_(o.device, o.arena_chunk_bytes > 0 ? o.arena_chunk_bytes : size_t(256) << 20) {
  opts_.quant_matvec_max_tokens = std::min(64, std::max(0, o.quant_matvec_max_tokens));
  plan_opts_.split_len = std::max(0, o.attention_split_len);
  plan_opts_.prefill_min_run = std::max(2, o.prefill_min_run);
  plan_opts_.prefill_tile = kPrefillTile;
}

CudaDriverImpl::~CudaDriverImpl() {
  if (stream_.s) cudaStreamSynchronize(stream_.s);  // nothing queued may outlive the buffers
}

Result<std::unique_ptr<CudaDriverImpl>> CudaDriverImpl::create(const CudaDriverOptions& options) {
  std::unique_ptr<CudaDriverImpl> d(new CudaDriverImpl(options));
  LLMOS_RETURN_IF_ERROR(d->init());
  return d;
}

Status CudaDriverImpl::init() {
  int count = 0;
  const cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess || count == 0) {
    cudaGetLastError();
    return unimplemented(std::string("no CUDA device: ") +
                         (err != cudaSuccess ? cudaGetErrorString(err) : "the CUDA runtime reports 0 devices"));
  }
  if (device_ < 0 || device_ >= count) {
    return invalid_argument("CUDA device " + std::to_string(device_) + " does not exist (" + std::to_string(count) +
                            " device" + (count == 1 ? "" : "s") + ")");
  }
  LLMOS_CUDA_RETURN_IF_ERROR(cudaSetDevice(device_));
  cudaDeviceProp prop;
  LLMOS_CUDA_RETURN_IF_ERROR(cudaGetDeviceProperties(&prop, device_));
  device_name_ = prop.name;
  sm_count_ = prop.multiProcessorCount;
  cc_major_ = prop.major;
  cc_minor_ = prop.minor;
  total_mem_ = prop.totalGlobalMem;
  if (cc_major_ < 8) {
    return unimplemented("CUDA device " + std::to_string(device_) + " (" + device_name_ + ") has compute capability " +
                         std::to_string(cc_major_) + "." + std::to_string(cc_minor_) +
                         "; llmos's CUDA kernels need 8.0 or later");
  }
  if (opts_.weight_arena && opts_.weight_arena->device() != device_) {
    return invalid_argument("weight arena lives on CUDA device " + std::to_string(opts_.weight_arena->device()) +
                            ", the driver on device " + std::to_string(device_));
  }
  if (opts_.weights_resident && !opts_.weight_arena) {
    return invalid_argument("weights_resident needs a weight_arena to find the weights in");
  }
  plan_opts_.target_blocks = opts_.attention_split_len > 0 ? 4 * sm_count_ : 0;
  int optin = 0;
  LLMOS_CUDA_RETURN_IF_ERROR(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device_));
  LLMOS_RETURN_IF_ERROR(cuda_status(init_attention_kernels(size_t(optin)), "cudaFuncSetAttribute (attention kernels)"));
  LLMOS_CUDA_RETURN_IF_ERROR(cudaStreamCreateWithFlags(&stream_.s, cudaStreamNonBlocking));
  LLMOS_CUDA_RETURN_IF_ERROR(cudaEventCreateWithFlags(&staged_.e, cudaEventDisableTiming));
  LLMOS_CUBLAS_RETURN_IF_ERROR(cublasCreate(&blas_.h));
  LLMOS_CUBLAS_RETURN_IF_ERROR(cublasSetStream(blas_.h, stream_.s));
  // Plain f32 arithmetic for f32 weights (no TF32): the CPU driver is the reference.
  LLMOS_CUBLAS_RETURN_IF_ERROR(cublasSetMathMode(blas_.h, CUBLAS_DEFAULT_MATH));
  LLMOS_RETURN_IF_ERROR(blas_workspace_.ensure(pool_, stream_.s, kCublasWorkspaceBytes));
  LLMOS_CUBLAS_RETURN_IF_ERROR(cublasSetWorkspace(blas_.h, blas_workspace_.data(), blas_workspace_.size()));
  return ok_status();
}

DriverInfo CudaDriverImpl::info() const {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%s, sm_%d%d, %.1f GiB, %d SMs", device_name_.c_str(), cc_major_, cc_minor_,
                double(total_mem_) / double(1u << 30), sm_count_);
  return {"cuda", buf};
}

void CudaDriverImpl::report_errors(void* dst, size_t bytes) {
  if (err_.ok()) return;
  if (opts_.abort_on_error) {
    std::fprintf(stderr, "llmos cuda driver: %s\n", err_.status().to_string().c_str());
    std::abort();
  }
  if (!reported_) {
    std::fprintf(stderr, "llmos cuda driver: %s (later ops are skipped)\n", err_.status().to_string().c_str());
    reported_ = true;
  }
  if (dst && bytes) std::memset(dst, 0xFF, bytes);
}

// ---- memory -------------------------------------------------------------------

Result<std::unique_ptr<DeviceBuffer>> CudaDriverImpl::alloc(size_t bytes) {
  auto span = pool_.allocate(bytes);
  if (!span.ok()) {
    return Status(span.status().code(), "cuda alloc of " + std::to_string(bytes) + " bytes: " + span.status().message());
  }
  return std::unique_ptr<DeviceBuffer>(std::make_unique<ArenaBuffer>(std::move(*span), bytes));
}

void CudaDriverImpl::copy_to_device(void* dst, const void* src, size_t bytes) {
  if (!err_.ok() || bytes == 0 || !use_device()) return;
  // From pageable memory the copy is staged before the call returns: src may be reused.
  err_.cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_.s), "cudaMemcpyAsync (copy_to_device)");
}

void CudaDriverImpl::copy_to_host(void* dst, const void* src, size_t bytes) {
  if (err_.ok() && bytes > 0 && use_device()) {
    if (err_.cuda(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_.s),
                  "cudaMemcpyAsync (copy_to_host)")) {
      err_.cuda(cudaStreamSynchronize(stream_.s), "cudaStreamSynchronize (copy_to_host)");
    }
  }
  report_errors(dst, bytes);
}

void CudaDriverImpl::synchronize() {
  if (err_.ok() && use_device()) err_.cuda(cudaStreamSynchronize(stream_.s), "cudaStreamSynchronize");
  report_errors(nullptr, 0);
}

// ---- the step -----------------------------------------------------------------

void CudaDriverImpl::begin_step(const StepBatch& b) {
  bounds_.begin_step(b);
  batch_ = b;
  rope_valid_ = false;
  if (!err_.ok() || !use_device()) return;
  upload_.release();  // the weights are in; their staging is not needed any more

  plan_.build(b, plan_opts_);
  const PlanLayout& L = plan_.layout();
  const size_t bytes = L.total * sizeof(int32_t);
  if (bytes == 0) return;
  // The previous step's upload may still read the staging buffer.
  if (!err_.cuda(cudaEventSynchronize(staged_.e), "cudaEventSynchronize (step staging)")) return;
  if (!err_.record(staging_.reserve(bytes))) return;
  plan_.pack(b, static_cast<int32_t*>(staging_.data()));
  if (!err_.record(meta_.ensure(pool_, stream_.s, bytes))) return;
  if (!err_.cuda(cudaMemcpyAsync(meta_.data(), staging_.data(), bytes, cudaMemcpyHostToDevice, stream_.s),
                 "cudaMemcpyAsync (step metadata)"))
    return;
  err_.cuda(cudaEventRecord(staged_.e, stream_.s), "cudaEventRecord (step staging)");
  const int32_t* m = meta_.as<int32_t>();
  d_token_ids_ = m + L.token_ids;
  d_positions_ = m + L.positions;
  d_seq_index_ = m + L.seq_index;
  d_kv_slots_ = m + L.kv_slots;
  d_output_rows_ = m + L.output_rows;
  d_block_tables_ = m + L.block_tables;
  d_window_kv_slots_ = b.window_block_tables != nullptr ? m + L.window_kv_slots : nullptr;
  d_window_block_tables_ = b.window_block_tables != nullptr ? m + L.window_block_tables : nullptr;
  d_work_ = reinterpret_cast<const DecodeWork*>(m + L.work);
  d_reduce_ = reinterpret_cast<const ReduceItem*>(m + L.reduce);
  d_tiles_ = reinterpret_cast<const PrefillTile*>(m + L.tiles);
}

void CudaDriverImpl::embed(const Weight& table, float* out) {
  bounds_.check_embed(table);
  const int n = batch_.n_tokens;
  if (!err_.ok()) return;
  launched(launch_embed(table, d_token_ids_, n, out, stream_.s), "embed kernel");
}

void CudaDriverImpl::rms_norm(const float* x, const Weight& gain, float* y, int n, int dim, float eps) {
  LLMOS_REQUIRE(gain.type == DType::kF32 && gain.rows * gain.cols == dim, "gain must be f32 [dim]");
  if (!err_.ok()) return;
  launched(launch_rms_norm(x, static_cast<const float*>(gain.data), y, n, dim, eps, stream_.s), "rms_norm kernel");
}

void CudaDriverImpl::rope(float* x, int n_heads, int head_dim, const driver::RopeSpec& spec) {
  const int rope_dim = spec.rope_dim;
  const float freq_base = spec.freq_base;
  LLMOS_REQUIRE(rope_dim > 0 && rope_dim % 2 == 0 && rope_dim <= head_dim, "rope_dim must be even and <= head_dim");
  if (!err_.ok()) return;
  const int n = batch_.n_tokens;
  if (!rope_valid_ || rope_dim != rope_dim_ || freq_base != rope_base_ || spec.freq_factors != rope_factors_ ||
      spec.freq_scale != rope_scale_) {
    const size_t bytes = size_t(n) * size_t(rope_dim / 2) * 2 * sizeof(float);
    if (!err_.record(rope_table_.ensure(pool_, stream_.s, std::max<size_t>(bytes, 16)))) return;
    // The CPU driver's theta_scale, computed the same way on the host.
    const float theta_scale = std::pow(freq_base, -2.0f / float(rope_dim));
    if (!launched(launch_rope_table(d_positions_, n, rope_dim, theta_scale, spec.freq_factors, spec.freq_scale,
                                    rope_table_.as<float>(), stream_.s),
                  "rope table kernel"))
      return;
    rope_valid_ = true;
    rope_dim_ = rope_dim;
    rope_base_ = freq_base;
    rope_factors_ = spec.freq_factors;
    rope_scale_ = spec.freq_scale;
  }
  launched(launch_rope(x, rope_table_.as<float>(), n, n_heads, head_dim, rope_dim,
                       spec.mode == driver::RopeMode::kNeox, stream_.s),
           "rope kernel");
}

void CudaDriverImpl::swiglu(const float* gate, const float* up, float* out, int64_t n_elems) {
  if (!err_.ok()) return;
  launched(launch_swiglu(gate, up, out, n_elems, stream_.s), "swiglu kernel");
}

void CudaDriverImpl::add(float* x, const float* y, int64_t n_elems) {
  if (!err_.ok()) return;
  launched(launch_add(x, y, n_elems, stream_.s), "add kernel");
}

void CudaDriverImpl::gather_outputs(const float* x, float* y, int dim) {
  if (!err_.ok()) return;
  launched(launch_gather_rows(x, d_output_rows_, batch_.n_outputs, dim, y, stream_.s), "gather_outputs kernel");
}

}  // namespace llmos::cuda

namespace llmos::driver {

Result<std::unique_ptr<Driver>> make_cuda_driver(const CudaDriverOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(auto d, cuda::CudaDriverImpl::create(options));
  return std::unique_ptr<Driver>(std::move(d));
}

bool cuda_device_available() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) cudaGetLastError();
  return err == cudaSuccess && n > 0;
}

CudaDriver* as_cuda_driver(Driver& d) { return dynamic_cast<CudaDriver*>(&d); }

}  // namespace llmos::driver
