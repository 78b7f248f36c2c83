// What reaches a terminal: quickbox prints text a program chose (console lines, values, errors,
// the arguments of pending calls) next to its own (the pending-call listing a person approves
// from). A terminal obeys control sequences in whatever it is sent, so raw program text could
// clear the screen, move the cursor, rewrite or hide lines, or reorder text (bidi controls), and
// fake or hide what a person is asked to approve. When stdout or stderr is a terminal, every
// byte quickbox writes there passes through VisibleControls, which shows such characters as
// escapes instead of sending them. Pipes and files get the bytes unchanged.
//
// Shown as escapes: C0 controls other than line feed and tab (so ESC and CR), DEL, C1 controls
// (U+0080..U+009F, CSI among them), the bidi and invisible direction marks (U+061C, U+200E,
// U+200F, U+202A..U+202E, U+2066..U+2069), and bytes that are not UTF-8. quickbox's own text uses
// none of them, so the filter applies to everything without knowing whose text it is.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <streambuf>
#include <string>

#include "cli.hh"

namespace quickbox::cli {
namespace {

bool shown_as_escape(uint32_t code_point) {
  if (code_point < 0x20) return code_point != '\n' && code_point != '\t';
  if (code_point >= 0x7f && code_point <= 0x9f) return true;
  return code_point == 0x061c || code_point == 0x200e || code_point == 0x200f ||
         (code_point >= 0x202a && code_point <= 0x202e) || (code_point >= 0x2066 && code_point <= 0x2069);
}

/// "\x1b" for an ASCII control or a byte that is not UTF-8, "\u009b" for a character above ASCII.
std::string escape_for(uint32_t code_point, bool raw_byte = false) {
  char text[12];
  std::snprintf(text, sizeof text, raw_byte || code_point < 0x80 ? "\\x%02x" : "\\u%04x",
                static_cast<unsigned>(code_point));
  return text;
}

/// The length of the UTF-8 sequence starting at text[at] and its code point; 0 when the bytes
/// there are not UTF-8 (a stray continuation byte, an overlong form, a surrogate, a cut-off
/// sequence at the end of `text`), and -1 when `text` ends inside what may still become one.
int utf8_sequence(std::string_view text, size_t at, uint32_t &code_point) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t lead = byte(at);
  int length = lead < 0x80 ? 1 : lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3
             : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
  if (length <= 1) {
    code_point = lead;
    return length;
  }
  code_point = lead & (0x7f >> length);
  for (int i = 1; i < length; i++) {
    if (at + i >= text.size()) return -1;
    uint8_t next = byte(at + i);
    // The second byte's range rules out overlong forms, surrogates and code points past U+10FFFF.
    uint8_t low = 0x80, high = 0xbf;
    if (i == 1 && lead == 0xe0) low = 0xa0;
    if (i == 1 && lead == 0xed) high = 0x9f;
    if (i == 1 && lead == 0xf0) low = 0x90;
    if (i == 1 && lead == 0xf4) high = 0x8f;
    if (next < low || next > high) return 0;
    code_point = (code_point << 6) | (next & 0x3f);
  }
  return length;
}

/// Passes text on to `target` with the characters above shown as escapes. Holds back at most
/// the first bytes of a UTF-8 sequence that a later write completes.
class VisibleControls : public std::streambuf {
 public:
  explicit VisibleControls(std::streambuf *target) : target_(target) {}

 protected:
  int_type overflow(int_type c) override {
    if (traits_type::eq_int_type(c, traits_type::eof())) return sync() == 0 ? traits_type::not_eof(c) : c;
    pending_ += traits_type::to_char_type(c);
    if (c == '\n' || pending_.size() >= kBatch) pass_on(false);
    return c;
  }

  std::streamsize xsputn(const char *text, std::streamsize count) override {
    pending_.append(text, static_cast<size_t>(count));
    if (pending_.size() >= kBatch || pending_.find('\n') != std::string::npos) pass_on(false);
    return count;
  }

  int sync() override {
    pass_on(true);
    return target_->pubsync();
  }

 private:
  static constexpr size_t kBatch = 4096;

  /// Writes what is pending; `all`: a sequence cut off at the end is not waited for.
  void pass_on(bool all) {
    std::string out;
    out.reserve(pending_.size());
    size_t at = 0;
    while (at < pending_.size()) {
      uint32_t code_point = 0;
      int length = utf8_sequence(pending_, at, code_point);
      if (length < 0 && !all) break;
      if (length <= 0) {
        out += escape_for(static_cast<uint8_t>(pending_[at]), true);  // not UTF-8: the byte itself
        at++;
        continue;
      }
      if (shown_as_escape(code_point)) {
        out += escape_for(code_point);
      } else {
        out.append(pending_, at, static_cast<size_t>(length));
      }
      at += static_cast<size_t>(length);
    }
    pending_.erase(0, at);
    target_->sputn(out.data(), static_cast<std::streamsize>(out.size()));
  }

  std::streambuf *target_;
  std::string pending_;
};

void filter_if_terminal(std::ostream &stream, int fd) {
  if (!isatty(fd)) return;
  // Never freed: the standard streams are flushed after static objects are destroyed.
  stream.rdbuf(new VisibleControls(stream.rdbuf()));
}

}  // namespace

void show_controls_on_terminals() {
  filter_if_terminal(std::cout, STDOUT_FILENO);
  filter_if_terminal(std::cerr, STDERR_FILENO);
}

}  // namespace quickbox::cli
