// StopMatcher: ends a stream of generated text at the first stop string,
// holding back a tail that may still grow into one, so streamed text never
// shows (part of) a stop string. One per generation; not thread-safe.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace llmos::http {

class StopMatcher {
 public:
  StopMatcher() = default;
  // Empty strings are ignored.
  explicit StopMatcher(std::vector<std::string> stops);

  // Takes the next text and returns what may be shown now: text before a
  // match (then stopped() is true and later calls return ""), else the text
  // minus a held-back tail that is a proper prefix of some stop string.
  std::string push(std::string_view text);
  // The held-back tail, at the end of a generation that did not stop.
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace llmos::http
