#include "llmos/model/model_store.hpp"

#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "llmos/model/sha256.hpp"
#include "llmos/modelgen/model_gen.hpp"

using namespace llmos;
using namespace llmos::model;
namespace fs = std::filesystem;

namespace {

// A fresh folder under /tmp with a tiny synthetic model in it, removed at the end.
struct Scratch {
  std::string dir;
  std::string model;
  Scratch() {
    static int n = 0;
    dir = "/tmp/llmos_store_test_" + std::to_string(::getpid()) + "_" + std::to_string(n++);
    fs::remove_all(dir);
    fs::create_directories(dir);
    model = dir + "/tiny.gguf";
    auto spec = modelgen::preset_spec("tiny");
    REQUIRE(spec.ok());
    REQUIRE(modelgen::write_model(*spec, model).ok());
  }
  ~Scratch() { fs::remove_all(dir); }
  std::string store_dir() const { return dir + "/store"; }
};

ModelName name_of(const char* text) { return *parse_model_name(text); }

size_t count_files(const std::string& dir) {
  size_t n = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file() && e.path().filename() != ".lock") ++n;
  return n;
}

}  // namespace

TEST_CASE("the store folder comes from the flag, LLMOS_MODELS, XDG_DATA_HOME, then HOME") {
  CHECK(*resolve_models_dir(std::string("/a"), "/b", "/c", "/d") == "/a");
  CHECK(*resolve_models_dir(std::nullopt, "/b", "/c", "/d") == "/b");
  CHECK(*resolve_models_dir(std::nullopt, "", "/c", "/d") == "/c/llmos/models");
  CHECK(*resolve_models_dir(std::nullopt, nullptr, nullptr, "/d") == "/d/.local/share/llmos/models");
  CHECK_FALSE(resolve_models_dir(std::nullopt, nullptr, nullptr, nullptr).ok());
}

TEST_CASE("import stores the file under its sha256 with a manifest of its facts") {
  Scratch s;
  auto store = ModelStore::open(s.store_dir());
  REQUIRE(store.ok());
  auto m = store->import_file(s.model, name_of("tiny:q"));
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  const std::string sha = *sha256_file(s.model);
  CHECK(m->sha256 == sha);
  CHECK(m->file == "blobs/sha256-" + sha);
  CHECK(m->size == fs::file_size(s.model));
  CHECK(m->source == "file:" + s.model);
  CHECK(m->facts.hparams.architecture == "llama");
  CHECK(m->facts.hparams.n_layers == 2);
  CHECK(m->facts.hparams.ctx_len == 256);
  CHECK(m->facts.weights_bytes > 0);
  CHECK(m->facts.kv_cache_bytes == 2u * 2 * 256 * 2 * 16 * 2);  // layers x K,V x ctx x kv heads x head dim x f16
  CHECK(*sha256_file(store->blob_path(*m)) == sha);

  auto found = store->find(name_of("tiny:q"));
  REQUIRE(found.ok());
  CHECK(found->sha256 == sha);
  CHECK(found->facts.hparams.dim == m->facts.hparams.dim);
  CHECK(found->created == m->created);
  auto missing = store->find(name_of("tiny"));
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().code() == ErrorCode::kNotFound);
  CHECK(missing.status().message() == "model 'tiny:latest' is not in the store " + s.store_dir());
  CHECK(count_files(store->temp_dir()) == 0);
}

TEST_CASE("copy shares the blob; rm removes the blob with its last name") {
  Scratch s;
  auto store = ModelStore::open(s.store_dir());
  REQUIRE(store.ok());
  auto m = store->import_file(s.model, name_of("a"));
  REQUIRE(m.ok());
  auto c = store->copy(name_of("a"), name_of("b:v2"));
  REQUIRE(c.ok());
  CHECK(c->file == m->file);
  auto all = store->list();
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].name.str() == "a:latest");
  CHECK((*all)[1].name.str() == "b:v2");
  CHECK(count_files(s.store_dir() + "/blobs") == 1);

  REQUIRE(store->remove(name_of("a")).ok());
  CHECK(fs::exists(store->blob_path(*m)));  // b:v2 still uses it
  CHECK(store->remove(name_of("a")).code() == ErrorCode::kNotFound);
  REQUIRE(store->remove(name_of("b:v2")).ok());
  CHECK_FALSE(fs::exists(store->blob_path(*m)));
  CHECK(store->list()->empty());
  CHECK(count_files(s.store_dir()) == 0);
  CHECK(store->copy(name_of("a"), name_of("c")).status().code() == ErrorCode::kNotFound);
}

TEST_CASE("importing a file that is not a GGUF model leaves nothing in the store") {
  Scratch s;
  auto store = ModelStore::open(s.store_dir());
  REQUIRE(store.ok());
  const std::string junk = s.dir + "/junk.gguf";
  std::ofstream(junk) << "<html>not found</html>";
  auto r = store->import_file(junk, name_of("junk"));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == ErrorCode::kInvalidArgument);
  CHECK(r.status().message().find(junk) == 0);  // names the file the user gave, not the temp copy
  // A GGUF whose hyper-parameters are missing is refused too.
  const std::string truncated = s.dir + "/truncated.gguf";
  {
    std::ifstream in(s.model, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  CHECK_FALSE(store->import_file(truncated, name_of("t")).ok());
  CHECK(store->import_file(s.dir + "/absent.gguf", name_of("x")).status().message().find("absent.gguf") !=
        std::string::npos);
  CHECK(store->list()->empty());
  CHECK(count_files(s.store_dir()) == 0);
}

TEST_CASE("adopt moves a verified download in, and removes a rejected one") {
  Scratch s;
  auto store = ModelStore::open(s.store_dir());
  REQUIRE(store.ok());
  const std::string part = store->temp_dir() + "/dl.partial";
  fs::copy_file(s.model, part);
  auto m = store->adopt(part, *sha256_file(s.model), name_of("dl"), "https://example/tiny.gguf");
  REQUIRE_MESSAGE(m.ok(), m.status().to_string());
  CHECK(m->source == "https://example/tiny.gguf");
  CHECK_FALSE(fs::exists(part));
  CHECK(fs::exists(store->blob_path(*m)));

  std::ofstream(part) << "nope";
  auto bad = store->adopt(part, std::string(64, 'a'), name_of("bad"), "https://example/bad.gguf");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("https://example/bad.gguf") == 0);
  CHECK_FALSE(fs::exists(part));
  CHECK(store->list()->size() == 1);
}

TEST_CASE("a corrupt manifest is reported naming its file") {
  Scratch s;
  auto store = ModelStore::open(s.store_dir());
  REQUIRE(store.ok());
  fs::create_directories(s.store_dir() + "/manifests/m");
  const std::string path = s.store_dir() + "/manifests/m/latest.json";
  for (const char* text : {"{", "[]", "{\"name\":\"m\"}",
                           "{\"name\":\"m\",\"tag\":\"latest\",\"file\":\"../../etc/passwd\",\"size\":1,"
                           "\"sha256\":\"\",\"source\":\"\",\"created\":\"\"}"}) {
    CAPTURE(text);
    std::ofstream(path) << text;
    auto r = store->find(name_of("m"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.status().message().find(path) == 0);
    CHECK_FALSE(store->list().ok());
  }
}
