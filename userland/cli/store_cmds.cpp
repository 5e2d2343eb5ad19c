// `llmos list`, `show`, `rm`, `cp`, `import`: the model store (model/store),
// read and changed in this process; no running system is needed. The folder
// is --models-dir, else $LLMOS_MODELS, else the per-user default.
#include <boost/program_options.hpp>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "llmos/common/progress_text.hpp"
#include "llmos/model/model_store.hpp"
#include "system_context.hpp"

namespace llmos::cli {
namespace {

namespace po = boost::program_options;

struct StoreArgs {
  std::optional<std::string> models_dir;
  bool json = false;
  std::vector<std::string> names;  // the positional arguments
};

// Parses the options every store command shares plus `extra`; returns an exit
// code when the command should stop (help: 0, bad usage: 2), or -1 to go on.
int parse_store_args(const char* cmd, const char* usage, int argc, char** argv, size_t n_positional,
                     StoreArgs& args, po::options_description extra = po::options_description()) {
  po::options_description opts(std::string("usage: llmos ") + usage + "\noptions");
  opts.add_options()("help,h", "show this help")(
      "models-dir", po::value<std::string>()->value_name("DIR"),
      "the model store (default: $LLMOS_MODELS, else $XDG_DATA_HOME/llmos/models or ~/.local/share/llmos/models)");
  opts.add(extra);
  po::options_description hidden;
  hidden.add_options()("names", po::value<std::vector<std::string>>(&args.names));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("names", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    return report(cmd, std::string(e.what()) + " (try `llmos " + cmd + " --help`)", 2);
  }
  if (vm.count("help")) {
    std::cout << opts << "\n";
    return 0;
  }
  if (vm.count("models-dir")) args.models_dir = vm["models-dir"].as<std::string>();
  if (args.names.size() != n_positional)
    return report(cmd, std::string("usage: llmos ") + usage + " (try `llmos " + cmd + " --help`)", 2);
  return -1;
}

Result<model::ModelStore> open_store(const StoreArgs& args) {
  LLMOS_ASSIGN_OR_RETURN(std::string dir, model::resolve_models_dir(args.models_dir, std::getenv("LLMOS_MODELS"),
                                                                    std::getenv("XDG_DATA_HOME"), std::getenv("HOME")));
  return model::ModelStore::open(dir);
}

nlohmann::ordered_json manifest_json(const model::ModelStore& store, const model::ModelManifest& m) {
  auto j = nlohmann::ordered_json::parse(model::manifest_to_json(m));
  j["path"] = store.blob_path(m);
  return j;
}

}  // namespace

int cmd_list(int argc, char** argv) {
  StoreArgs args;
  po::options_description extra;
  extra.add_options()("json", po::bool_switch(&args.json), "one JSON array of the manifests");
  if (int rc = parse_store_args("list", "list [--json] [--models-dir DIR]", argc, argv, 0, args, extra); rc >= 0)
    return rc;
  auto store = open_store(args);
  if (!store.ok()) return report("list", store.status());
  auto models = store->list();
  if (!models.ok()) return report("list", models.status());
  if (args.json) {
    auto j = nlohmann::ordered_json::array();
    for (const auto& m : *models) j.push_back(manifest_json(*store, m));
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::printf("%-32s  %-12s  %10s  %-12s  %s\n", "NAME", "ID", "SIZE", "ARCH", "CREATED");
  for (const auto& m : *models)
    std::printf("%-32s  %-12s  %10s  %-12s  %s\n", m.name.str().c_str(), m.sha256.substr(0, 12).c_str(),
                format_bytes(m.size).c_str(), m.facts.hparams.architecture.c_str(), m.created.c_str());
  return 0;
}

int cmd_show(int argc, char** argv) {
  StoreArgs args;
  po::options_description extra;
  extra.add_options()("json", po::bool_switch(&args.json), "the manifest as JSON");
  if (int rc = parse_store_args("show", "show NAME[:TAG] [--json] [--models-dir DIR]", argc, argv, 1, args, extra);
      rc >= 0)
    return rc;
  auto name = model::parse_model_name(args.names[0]);
  if (!name.ok()) return report("show", name.status(), 2);
  auto store = open_store(args);
  if (!store.ok()) return report("show", store.status());
  auto m = store->find(*name);
  if (!m.ok()) return report("show", m.status());
  if (args.json) {
    std::cout << manifest_json(*store, *m).dump(2) << "\n";
    return 0;
  }
  const model::Hyperparameters& h = m->facts.hparams;
  std::printf("name:          %s\n", m->name.str().c_str());
  std::printf("file:          %s\n", store->blob_path(*m).c_str());
  std::printf("size:          %" PRIu64 " bytes (%s)\n", m->size, format_bytes(m->size).c_str());
  std::printf("sha256:        %s\n", m->sha256.c_str());
  std::printf("source:        %s\n", m->source.c_str());
  std::printf("created:       %s\n", m->created.c_str());
  std::printf("architecture:  %s%s%s\n", h.architecture.c_str(), h.name.empty() ? "" : ", general.name ",
              h.name.c_str());
  std::printf("gguf:          version %u, %" PRIu64 " tensors, file type %" PRId64 "\n", m->facts.gguf_version,
              m->facts.tensor_count, m->facts.file_type);
  std::printf("hyperparameters: context %d, embedding %d, blocks %d, ffn %d, heads %d, kv heads %d, head dim %d, "
              "vocab %d\n",
              h.ctx_len, h.dim, h.n_layers, h.ffn_dim, h.n_heads, h.n_kv_heads, h.head_dim, h.n_vocab);
  std::printf("memory:        weights %s + f16 KV cache %s for %d tokens = %s\n",
              format_bytes(m->facts.weights_bytes).c_str(), format_bytes(m->facts.kv_cache_bytes).c_str(), h.ctx_len,
              format_bytes(m->facts.weights_bytes + m->facts.kv_cache_bytes).c_str());
  return 0;
}

int cmd_rm(int argc, char** argv) {
  StoreArgs args;
  if (int rc = parse_store_args("rm", "rm NAME[:TAG] [--models-dir DIR]", argc, argv, 1, args); rc >= 0) return rc;
  auto name = model::parse_model_name(args.names[0]);
  if (!name.ok()) return report("rm", name.status(), 2);
  auto store = open_store(args);
  if (!store.ok()) return report("rm", store.status());
  if (Status st = store->remove(*name); !st.ok()) return report("rm", st);
  std::printf("deleted '%s'\n", name->str().c_str());
  return 0;
}

int cmd_cp(int argc, char** argv) {
  StoreArgs args;
  if (int rc = parse_store_args("cp", "cp SRC[:TAG] DST[:TAG] [--models-dir DIR]", argc, argv, 2, args); rc >= 0)
    return rc;
  auto src = model::parse_model_name(args.names[0]);
  if (!src.ok()) return report("cp", src.status(), 2);
  auto dst = model::parse_model_name(args.names[1]);
  if (!dst.ok()) return report("cp", dst.status(), 2);
  auto store = open_store(args);
  if (!store.ok()) return report("cp", store.status());
  auto m = store->copy(*src, *dst);
  if (!m.ok()) return report("cp", m.status());
  std::printf("copied '%s' to '%s'\n", src->str().c_str(), dst->str().c_str());
  return 0;
}

int cmd_import(int argc, char** argv) {
  StoreArgs args;
  std::string name_text;
  po::options_description extra;
  extra.add_options()("name", po::value(&name_text)->value_name("NAME[:TAG]"),
                      "the model's name (default: the file name without .gguf)");
  if (int rc = parse_store_args("import", "import FILE.gguf [--name NAME[:TAG]] [--models-dir DIR]", argc, argv, 1,
                                args, extra);
      rc >= 0)
    return rc;
  const std::string& file = args.names[0];
  auto name = name_text.empty() ? model::model_name_from_file(file) : model::parse_model_name(name_text);
  if (!name.ok()) return report("import", name.status(), 2);
  auto store = open_store(args);
  if (!store.ok()) return report("import", store.status());
  auto m = store->import_file(file, *name);
  if (!m.ok()) return report("import", m.status());
  std::printf("imported %s as '%s' (%s, sha256 %s)\n", file.c_str(), m->name.str().c_str(),
              format_bytes(m->size).c_str(), m->sha256.c_str());
  return 0;
}

}  // namespace llmos::cli
