// Implements doctest (the one translation unit that does) with a listener
// that notes which cases start, for skip() and run_tests() (skip.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include "skip.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <set>
#include <string>

namespace llmos::testing {
namespace {

struct SkipRecord {
  std::string current;            // the running case
  std::set<std::string> ran;      // every case started
  std::set<std::string> skipped;  // the cases that called skip()
};

SkipRecord& skip_record() {
  static SkipRecord record;
  return record;
}

struct SkipListener : doctest::IReporter {
  explicit SkipListener(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_start(const doctest::TestCaseData& tc) override {
    SkipRecord& record = skip_record();
    record.current = std::string(tc.m_file.c_str()) + ":" + tc.m_name;
    record.ran.insert(record.current);
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("llmos_skips", 1, SkipListener);

}  // namespace

void skip(std::string_view why, std::source_location where) {
  ADD_MESSAGE_AT(where.file_name(), static_cast<int>(where.line()), "skipped: " << std::string(why));
  skip_record().skipped.insert(skip_record().current);
}

int run_tests(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int failed = context.run();
  if (context.shouldExit() || failed != 0) return failed;
  const SkipRecord& record = skip_record();
  if (!record.ran.empty() && record.skipped.size() == record.ran.size()) {
    std::printf("SKIPPED: each of the %zu test cases that ran skipped (see their messages)\n", record.ran.size());
    return 77;
  }
  return 0;
}

}  // namespace llmos::testing
