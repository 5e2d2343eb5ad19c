// llmos-model: one process per loaded model (started by llmosd). Loads the
// GGUF file (mmapped), registers with the kernel, maps the KV arena the kernel
// made for it and runs the continuous-batching engine over it.
#include <boost/asio/io_context.hpp>
#include <boost/program_options.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "llmos/driver/device.hpp"
#include "llmos/driver/driver.hpp"
#include "llmos/gguf/gguf_file.hpp"
#include "llmos/tokenizer/tokenizer.hpp"
#include "llmos/ipc/runtime_dir.hpp"
#include "model_service.hpp"
#include "llmos/ipc/service_main.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
  std::string runtime_dir, name, path, device = "cpu";
  int ctx = 0, threads = 0, max_seqs = 8;
  po::options_description opts("llmos-model options (started by llmosd)");
  opts.add_options()
      ("help,h", "show this help")
      ("runtime-dir", po::value(&runtime_dir)->required(), "the system's runtime directory")
      ("name", po::value(&name)->required(), "the model's name")
      ("path", po::value(&path)->required(), "the GGUF file")
      ("ctx", po::value(&ctx)->required(), "context length in tokens")
      ("threads", po::value(&threads)->default_value(0), "CPU threads; 0 = all cores")
      ("max-seqs", po::value(&max_seqs)->default_value(8), "sequences run at once")
      ("device", po::value(&device)->default_value("cpu"), "cpu, cuda, or auto (CUDA when usable, else the CPU)");
  po::variables_map vm;
  if (auto code = llmos::ipc::parse_service_flags("llmos-model", opts, vm, argc, argv)) return *code;
  llmos::ipc::Logger log("llmos-model:" + name);
  auto kernel_endpoint = llmos::ipc::ipc_endpoint(runtime_dir, llmos::ipc::kKernelSocket);
  if (!kernel_endpoint.ok()) {
    log.error(kernel_endpoint.status().message());
    return 1;
  }
  llmos::ipc::Context zmq;
  const std::string service = "model:" + name;

  auto load = [&]() -> llmos::Result<std::unique_ptr<llmos::engine::Model>> {
    LLMOS_ASSIGN_OR_RETURN(auto kind, llmos::driver::parse_device(device));
    LLMOS_ASSIGN_OR_RETURN(auto file, llmos::gguf::GgufFile::open(path));
    // A model whose vocabulary llmos cannot read is refused here, at load,
    // naming the file and key (llmos-io reads the same vocabulary to serve it).
    LLMOS_RETURN_IF_ERROR(llmos::tokenizer::tokenizer_from_gguf(*file).status());
    llmos::driver::DriverOptions dopts;
    dopts.threads = threads;
    LLMOS_ASSIGN_OR_RETURN(auto drv, llmos::driver::make_driver(kind, dopts));
    llmos::engine::ModelOptions mopts;
    mopts.max_outputs = std::max(1, max_seqs);
    return llmos::engine::load_model(std::move(file), std::move(drv), mopts);
  };
  auto model = load();
  if (!model.ok()) {
    log.error("loading " + path + ": " + model.status().to_string());
    llmos::model_service::ModelService::report_load_failure(zmq, *kernel_endpoint, service, model.status());
    return 1;
  }

  llmos::model_service::ModelServiceConfig config;
  config.name = name;
  config.ctx = ctx;
  config.max_seqs = max_seqs;
  config.on_cuda = (*model)->driver().info().name == "cuda";
  config.kv_in_arena = !config.on_cuda;
  if (const char* d = std::getenv("LLMOS_TEST_STEP_DELAY_MS")) config.step_delay_ms = std::atoi(d);
  if (const char* s = std::getenv("LLMOS_KV_SWAP")) config.swap_to_memory = std::string(s) != "0";
  if (const char* s = std::getenv("LLMOS_PREFIX_CACHE")) config.prefix_cache = std::string(s) != "0";

  boost::asio::io_context io;
  llmos::model_service::ModelService svc(io, zmq, log, **model, config);
  if (auto st = svc.start(*kernel_endpoint); !st.ok()) {
    log.error(st.to_string());
    return 1;
  }
  llmos::ipc::run_until_terminated(io, [&] { svc.stop(); });
  return 0;
}
