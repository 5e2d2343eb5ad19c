// The model quantizer (see quantize_model.hpp).
#include "llmos/quantize/quantize_model.hpp"

#include <algorithm>
#include <memory>
#include <thread>

#include "llmos/common/quant.hpp"
#include "llmos/gguf/gguf_writer.hpp"
#include "metadata_copy.hpp"

namespace llmos::quantize {
namespace {

constexpr char kFileTypeKey[] = "general.file_type";
constexpr char kQuantVersionKey[] = "general.quantization_version";
constexpr uint32_t kQuantizationVersion = 2;  // llama.cpp's current block layouts
constexpr int64_t kChunkElements = int64_t(1) << 20;  // elements converted between progress calls

int uint_or(const gguf::GgufFile& f, const std::string& key, int fallback) {
  auto v = f.get_uint(key);
  return v.ok() ? int(*v) : fallback;
}

// Shared by the fill callbacks of one write: they run one after another.
struct ProgressState {
  const std::function<void(const QuantizeProgress&)>* callback = nullptr;
  uint64_t done = 0, total = 0;
};

// Converts rows [r0, r1) of `t` from its type to `to` into `out`.
void convert_rows(const gguf::TensorInfo& t, DType to, int64_t r0, int64_t r1, uint8_t* out) {
  const int64_t cols = t.dims[0];
  const size_t in_row = size_t(dtype_row_bytes(t.type, cols)), out_row = size_t(dtype_row_bytes(to, cols));
  std::vector<float> row(static_cast<size_t>(cols));
  const auto* src = static_cast<const uint8_t*>(t.data);
  for (int64_t r = r0; r < r1; ++r) {
    dequantize_row(t.type, src + size_t(r) * in_row, row.data(), cols);
    quantize_row(to, row.data(), out + size_t(r - r0) * out_row, cols);
  }
}

gguf::TensorDataFn converter(const gguf::TensorInfo* t, DType to, int threads, ProgressState* progress) {
  return [t, to, threads, progress](gguf::TensorDataSink& sink) -> Status {
    const int64_t cols = t->dims[0], rows = t->n_elements / cols;
    const int64_t chunk_rows = std::max<int64_t>(threads, kChunkElements / cols);
    const size_t out_row = size_t(dtype_row_bytes(to, cols));
    std::vector<uint8_t> chunk(size_t(std::min(chunk_rows, rows)) * out_row);
    for (int64_t r0 = 0; r0 < rows; r0 += chunk_rows) {
      const int64_t n = std::min(chunk_rows, rows - r0);
      const int64_t per = (n + threads - 1) / threads;
      std::vector<std::thread> pool;
      for (int64_t a = per; a < n; a += per)  // the calling thread takes the first share
        pool.emplace_back(convert_rows, std::cref(*t), to, r0 + a, r0 + std::min(n, a + per),
                          chunk.data() + size_t(a) * out_row);
      convert_rows(*t, to, r0, r0 + std::min(n, per), chunk.data());
      for (auto& th : pool) th.join();
      LLMOS_RETURN_IF_ERROR(sink.write(chunk.data(), size_t(n) * out_row));
      progress->done += uint64_t(n * cols);
      if (*progress->callback) (*progress->callback)(QuantizeProgress{t->name, progress->done, progress->total});
    }
    return ok_status();
  };
}

}  // namespace

ModelShape model_shape(const gguf::GgufFile& in) {
  ModelShape s;
  std::string arch = "llama";
  if (auto a = in.get_string("general.architecture"); a.ok()) arch = std::string(*a);
  int layers = 0;
  for (const auto& t : in.tensors()) {
    if (t.name.rfind("blk.", 0) != 0) continue;
    layers = std::max(layers, std::atoi(t.name.c_str() + 4) + 1);
  }
  s.n_layers = uint_or(in, arch + ".block_count", layers);
  s.n_heads = std::max(1, uint_or(in, arch + ".attention.head_count", 1));
  s.n_kv_heads = std::max(1, uint_or(in, arch + ".attention.head_count_kv", s.n_heads));
  s.has_output = in.find_tensor("output.weight") != nullptr;
  return s;
}

Result<std::vector<TensorPlan>> plan_quantization(const gguf::GgufFile& in, Mix mix) {
  const ModelShape shape = model_shape(in);
  std::vector<TensorPlan> plan;
  for (const auto& t : in.tensors()) {
    TensorPlan p{t.name, t.dims, t.type, t.type};
    if (auto to = tensor_type(mix, shape, t.name, t.dims)) {
      p.to = *to;
      if (p.from != p.to && dtype_is_quantized(p.from))
        return invalid_argument(in.path() + ": tensor '" + t.name + "' is already " +
                                std::string(dtype_name(p.from)) + " (quantize wants F32, F16 or BF16 weights; "
                                "requantizing to " + std::string(dtype_name(p.to)) + " would add a second rounding error)");
    }
    plan.push_back(std::move(p));
  }
  return plan;
}

Result<QuantizeSummary> quantize_model(const std::string& in_path, const std::string& out_path,
                                       const QuantizeOptions& options) {
  LLMOS_ASSIGN_OR_RETURN(std::unique_ptr<gguf::GgufFile> in, gguf::GgufFile::open(in_path));
  LLMOS_ASSIGN_OR_RETURN(std::vector<TensorPlan> plan, plan_quantization(*in, options.mix));

  gguf::GgufWriter w(in->alignment());
  for (const auto& e : in->metadata()) {
    if (e.key == gguf::kAlignmentKey || e.key == kFileTypeKey || e.key == kQuantVersionKey) continue;
    LLMOS_RETURN_IF_ERROR(copy_metadata(*in, e, w));
  }
  w.add_uint32(kFileTypeKey, mix_file_type(options.mix));
  w.add_uint32(kQuantVersionKey, kQuantizationVersion);

  const int threads = options.threads > 0 ? options.threads
                                          : int(std::max(1u, std::thread::hardware_concurrency()));
  ProgressState progress{&options.progress, 0, 0};
  for (size_t i = 0; i < plan.size(); ++i) {
    const gguf::TensorInfo* t = &in->tensors()[i];
    const TensorPlan& p = plan[i];
    if (p.from == p.to) {
      w.add_tensor(p.name, p.to, p.dims, [t](gguf::TensorDataSink& sink) { return sink.write(t->data, t->n_bytes); });
    } else {
      progress.total += uint64_t(t->n_elements);
      w.add_tensor(p.name, p.to, p.dims, converter(t, p.to, threads, &progress));
    }
  }
  LLMOS_ASSIGN_OR_RETURN(uint64_t bytes, w.write(out_path));
  return QuantizeSummary{std::move(plan), bytes};
}

}  // namespace llmos::quantize
