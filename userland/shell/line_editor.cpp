#include "line_editor.hpp"

#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iostream>

namespace llmos::shell {

std::string common_prefix(const std::vector<std::string>& words) {
  if (words.empty()) return {};
  std::string p = words.front();
  for (const auto& w : words) {
    size_t n = 0;
    while (n < p.size() && n < w.size() && p[n] == w[n]) ++n;
    p.resize(n);
  }
  return p;
}

void EditState::reset() {
  line_.clear();
  cursor_ = 0;
  history_pos_.reset();
  saved_line_.clear();
  listing_.clear();
}

void EditState::complete(const Completer& completer) {
  if (!completer) return;
  const std::string before = line_.substr(0, cursor_);
  auto candidates = completer(before);
  if (candidates.empty()) return;
  size_t word_start = before.find_last_of(' ');
  word_start = word_start == std::string::npos ? 0 : word_start + 1;
  std::string replacement = candidates.size() == 1 ? candidates[0] : common_prefix(candidates);
  if (candidates.size() == 1 && (replacement.empty() || replacement.back() != '/')) replacement += ' ';
  if (replacement.size() >= cursor_ - word_start) {
    line_.replace(word_start, cursor_ - word_start, replacement);
    cursor_ = word_start + replacement.size();
  }
  if (candidates.size() > 1) listing_ = std::move(candidates);
}

EditState::Outcome EditState::apply(const KeyEvent& e, const Completer& completer) {
  listing_.clear();
  switch (e.key) {
    case Key::kChar:
      line_.insert(cursor_++, 1, e.ch);
      break;
    case Key::kEnter:
      return Outcome::kAccepted;
    case Key::kBackspace:
      if (cursor_ > 0) line_.erase(--cursor_, 1);
      break;
    case Key::kDelete:
      if (cursor_ < line_.size()) line_.erase(cursor_, 1);
      break;
    case Key::kLeft:
      if (cursor_ > 0) --cursor_;
      break;
    case Key::kRight:
      if (cursor_ < line_.size()) ++cursor_;
      break;
    case Key::kHome:
      cursor_ = 0;
      break;
    case Key::kEnd:
      cursor_ = line_.size();
      break;
    case Key::kUp:
      if (history_ && !history_->empty() && (!history_pos_ || *history_pos_ > 0)) {
        if (!history_pos_) {
          saved_line_ = line_;
          history_pos_ = history_->size();
        }
        line_ = (*history_)[--*history_pos_];
        cursor_ = line_.size();
      }
      break;
    case Key::kDown:
      if (history_ && history_pos_) {
        if (++*history_pos_ >= history_->size()) {
          line_ = saved_line_;
          history_pos_.reset();
        } else {
          line_ = (*history_)[*history_pos_];
        }
        cursor_ = line_.size();
      }
      break;
    case Key::kTab:
      complete(completer);
      break;
    case Key::kCtrlC:
      return Outcome::kInterrupted;
    case Key::kCtrlD:
      if (line_.empty()) return Outcome::kEof;
      if (cursor_ < line_.size()) line_.erase(cursor_, 1);
      break;
    case Key::kKillToEnd:
      line_.erase(cursor_);
      break;
    case Key::kKillToStart:
      line_.erase(0, cursor_);
      cursor_ = 0;
      break;
    case Key::kKillWord: {
      size_t start = cursor_;
      while (start > 0 && line_[start - 1] == ' ') --start;
      while (start > 0 && line_[start - 1] != ' ') --start;
      line_.erase(start, cursor_ - start);
      cursor_ = start;
      break;
    }
    case Key::kClearScreen:
    case Key::kIgnore:
      break;
  }
  return Outcome::kEditing;
}

std::optional<KeyEvent> KeyDecoder::feed(char byte) {
  if (!pending_.empty()) {
    pending_ += byte;
    if (pending_.size() == 2) {
      if (byte == '[' || byte == 'O') return std::nullopt;
      pending_.clear();
      return KeyEvent{Key::kIgnore};  // Alt+key: ignored
    }
    // ESC [ ... final byte in 0x40-0x7e
    if (byte < 0x40 || byte > 0x7e) {
      if (pending_.size() > 8) pending_.clear();
      return std::nullopt;
    }
    std::string seq = pending_.substr(2);
    pending_.clear();
    if (seq == "A") return KeyEvent{Key::kUp};
    if (seq == "B") return KeyEvent{Key::kDown};
    if (seq == "C") return KeyEvent{Key::kRight};
    if (seq == "D") return KeyEvent{Key::kLeft};
    if (seq == "H" || seq == "1~" || seq == "7~") return KeyEvent{Key::kHome};
    if (seq == "F" || seq == "4~" || seq == "8~") return KeyEvent{Key::kEnd};
    if (seq == "3~") return KeyEvent{Key::kDelete};
    return KeyEvent{Key::kIgnore};
  }
  switch (byte) {
    case 0x1b: pending_.assign(1, char(0x1b)); return std::nullopt;
    case '\r':
    case '\n': return KeyEvent{Key::kEnter};
    case 0x7f:
    case 0x08: return KeyEvent{Key::kBackspace};
    case '\t': return KeyEvent{Key::kTab};
    case 0x01: return KeyEvent{Key::kHome};
    case 0x05: return KeyEvent{Key::kEnd};
    case 0x02: return KeyEvent{Key::kLeft};
    case 0x06: return KeyEvent{Key::kRight};
    case 0x10: return KeyEvent{Key::kUp};
    case 0x0e: return KeyEvent{Key::kDown};
    case 0x03: return KeyEvent{Key::kCtrlC};
    case 0x04: return KeyEvent{Key::kCtrlD};
    case 0x0b: return KeyEvent{Key::kKillToEnd};
    case 0x15: return KeyEvent{Key::kKillToStart};
    case 0x17: return KeyEvent{Key::kKillWord};
    case 0x0c: return KeyEvent{Key::kClearScreen};
    default:
      if (static_cast<unsigned char>(byte) < 0x20) return KeyEvent{Key::kIgnore};
      return KeyEvent{Key::kChar, byte};
  }
}

LineEditor::LineEditor(std::string history_file, size_t history_limit)
    : history_file_(std::move(history_file)), history_limit_(history_limit) {
  if (history_file_.empty()) return;
  std::ifstream in(history_file_);
  for (std::string l; std::getline(in, l);) {
    if (!l.empty()) history_.push_back(l);
  }
  if (history_.size() > history_limit_) history_.erase(history_.begin(), history_.end() - long(history_limit_));
}

void LineEditor::add_history(const std::string& line) {
  if (line.empty() || (!history_.empty() && history_.back() == line)) return;
  history_.push_back(line);
  if (history_.size() > history_limit_) history_.erase(history_.begin());
  if (history_file_.empty()) return;
  std::ofstream out(history_file_, std::ios::app);
  out << line << "\n";
}

std::optional<std::string> LineEditor::read_line(const std::string& prompt, const Completer& completer,
                                                 bool* interrupted) {
  if (interrupted) *interrupted = false;
  if (::isatty(STDIN_FILENO) && ::isatty(STDOUT_FILENO)) return read_raw(prompt, completer, interrupted);
  std::fputs(prompt.c_str(), stdout);
  std::fflush(stdout);
  std::string line;
  if (!std::getline(std::cin, line)) return std::nullopt;
  return line;
}

void LineEditor::refresh(const std::string& prompt, const EditState& state) {
  std::string out = "\r\033[K" + prompt + state.line();
  const size_t back = state.line().size() - state.cursor();
  if (back > 0) out += "\033[" + std::to_string(back) + "D";
  ssize_t w = ::write(STDOUT_FILENO, out.data(), out.size());
  (void)w;
}

std::optional<std::string> LineEditor::read_raw(const std::string& prompt, const Completer& completer,
                                                bool* interrupted) {
  termios saved{};
  if (::tcgetattr(STDIN_FILENO, &saved) != 0) return std::nullopt;
  termios raw = saved;
  raw.c_iflag &= ~tcflag_t(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
  raw.c_lflag &= ~tcflag_t(ECHO | ICANON | IEXTEN | ISIG);  // Ctrl-C arrives as a byte
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
  std::fflush(stdout);
  EditState state(&history_);
  KeyDecoder decoder;
  refresh(prompt, state);
  std::optional<std::string> result;
  for (;;) {
    char c;
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n <= 0) break;  // end of input
    auto key = decoder.feed(c);
    if (!key) continue;
    auto outcome = state.apply(*key, completer);
    if (key->key == Key::kClearScreen) {
      ssize_t w = ::write(STDOUT_FILENO, "\033[H\033[2J", 7);
      (void)w;
    }
    if (!state.listing().empty()) {
      std::string list = "\r\n";
      for (const auto& cand : state.listing()) list += cand + "  ";
      list += "\r\n";
      ssize_t w = ::write(STDOUT_FILENO, list.data(), list.size());
      (void)w;
    }
    if (outcome == EditState::Outcome::kAccepted) {
      result = state.line();
      break;
    }
    if (outcome == EditState::Outcome::kInterrupted) {
      if (interrupted) *interrupted = true;
      ssize_t w = ::write(STDOUT_FILENO, "^C", 2);
      (void)w;
      result = std::string();
      break;
    }
    if (outcome == EditState::Outcome::kEof) break;
    refresh(prompt, state);
  }
  ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  ssize_t w = ::write(STDOUT_FILENO, "\n", 1);
  (void)w;
  return result;
}

}  // namespace llmos::shell
