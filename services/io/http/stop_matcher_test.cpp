#include "llmos/http/stop_matcher.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace llmos::http {
namespace {

// Feeds `chunks` one at a time; returns what a streaming client would see.
std::vector<std::string> feed(StopMatcher& m, const std::vector<std::string>& chunks) {
  std::vector<std::string> out;
  for (const auto& c : chunks) out.push_back(m.push(c));
  out.push_back(m.flush());
  return out;
}

TEST_CASE("without stop strings text passes through unchanged") {
  StopMatcher m;
  CHECK(feed(m, {"Once", " upon", " a time"}) == std::vector<std::string>{"Once", " upon", " a time", ""});
  CHECK_FALSE(m.stopped());
}

TEST_CASE("text stops right before a stop string inside one chunk") {
  StopMatcher m({"\n\n"});
  CHECK(m.push("The end.\n\nNext story") == "The end.");
  CHECK(m.stopped());
  CHECK(m.push("more") == "");
  CHECK(m.flush() == "");
}

TEST_CASE("a stop string split over chunks is never shown, even partly") {
  StopMatcher m({"Lily"});
  CHECK(m.push("a girl named L") == "a girl named ");
  CHECK(m.push("i") == "");
  CHECK(m.push("ly. She") == "");
  CHECK(m.stopped());
}

TEST_CASE("a held-back prefix that does not complete the stop string is released") {
  StopMatcher m({"Lily"});
  CHECK(m.push("a girl named L") == "a girl named ");
  CHECK(m.push("ucy") == "Lucy");
  CHECK(m.push(" and Li") == " and ");
  CHECK(m.flush() == "Li");
  CHECK_FALSE(m.stopped());
}

TEST_CASE("the earliest of several stop strings wins, and empty ones are ignored") {
  StopMatcher m({"", "dog", "cat"});
  CHECK(m.push("a cat and a dog") == "a ");
  CHECK(m.stopped());
}

TEST_CASE("a stop string at the very start gives no text") {
  StopMatcher m({"Once"});
  CHECK(m.push("On") == "");
  CHECK(m.push("ce upon") == "");
  CHECK(m.stopped());
}

TEST_CASE("the held tail is the longest prefix over all stop strings") {
  StopMatcher m({"abc", "bcd"});
  CHECK(m.push("xab") == "x");  // "ab" may grow into "abc"
  CHECK(m.push("cd") == "");    // "abc" appears first
  CHECK(m.stopped());
}

TEST_CASE("multi-byte UTF-8 stop strings cut at character boundaries") {
  StopMatcher m({"\xC3\xA9t\xC3\xA9"});  // "été"
  CHECK(m.push("un \xC3\xA9") == "un ");
  CHECK(m.push("l\xC3\xA8ve") == "\xC3\xA9l\xC3\xA8ve");
  CHECK(m.flush() == "");
}

}  // namespace
}  // namespace llmos::http
