// A small line editor on termios (no readline): a prompt, cursor movement and
// editing (arrows, Home/End, Backspace/Delete, Ctrl-A/E/B/F/K/U/W/L), history
// (Up/Down, kept in a file), and Tab completion through a callback. EditState
// is the terminal-free core (keys in, line out), unit-tested on its own;
// LineEditor puts it on a terminal. Single-thread objects.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace llmos::shell {

// Candidates for the word that ends at the cursor: given the line before the
// cursor, the full replacements of that last word (e.g. "stories" for "sto").
using Completer = std::function<std::vector<std::string>(const std::string& before_cursor)>;

enum class Key {
  kChar, kEnter, kBackspace, kDelete, kLeft, kRight, kHome, kEnd, kUp, kDown, kTab,
  kCtrlC, kCtrlD, kKillToEnd, kKillToStart, kKillWord, kClearScreen, kIgnore,
};

struct KeyEvent {
  Key key = Key::kIgnore;
  char ch = 0;  // kChar
};

class EditState {
 public:
  enum class Outcome { kEditing, kAccepted, kInterrupted, kEof };

  explicit EditState(const std::vector<std::string>* history = nullptr) : history_(history) {}

  // Applies one key; `completer` may be empty. After kTab with several
  // candidates, listing() holds them (to print under the line) until the next key.
  Outcome apply(const KeyEvent& e, const Completer& completer = {});

  const std::string& line() const { return line_; }
  size_t cursor() const { return cursor_; }
  const std::vector<std::string>& listing() const { return listing_; }
  void reset();

 private:
  void complete(const Completer& completer);

  const std::vector<std::string>* history_;
  std::string line_;
  size_t cursor_ = 0;
  std::optional<size_t> history_pos_;  // index into *history_ while browsing
  std::string saved_line_;             // the line being edited before browsing
  std::vector<std::string> listing_;
};

// Decodes terminal input bytes (UTF-8 passes through as kChar bytes; escape
// sequences for arrows, Home, End, Delete) into KeyEvents.
class KeyDecoder {
 public:
  // Feeds one byte; returns a key when one is complete.
  std::optional<KeyEvent> feed(char byte);

 private:
  std::string pending_;  // an escape sequence in progress
};

class LineEditor {
 public:
  // `history_file` empty: history is not kept between runs.
  explicit LineEditor(std::string history_file = {}, size_t history_limit = 500);

  // Reads a line. On a terminal it edits in raw mode; otherwise it reads a
  // plain line. nullopt at end of input (Ctrl-D on an empty line). Ctrl-C
  // gives an empty line and sets *interrupted (when given).
  std::optional<std::string> read_line(const std::string& prompt, const Completer& completer = {},
                                       bool* interrupted = nullptr);
  void add_history(const std::string& line);
  const std::vector<std::string>& history() const { return history_; }

 private:
  std::optional<std::string> read_raw(const std::string& prompt, const Completer& completer, bool* interrupted);
  void refresh(const std::string& prompt, const EditState& state);

  std::string history_file_;
  size_t history_limit_;
  std::vector<std::string> history_;
};

// The longest common prefix of `words` ("" when empty).
std::string common_prefix(const std::vector<std::string>& words);

}  // namespace llmos::shell
