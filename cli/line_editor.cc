// The repl's terminal: line editing, history kept in a file, and tab completion, through libedit
// (BSD licence; Debian's libedit-dev). What the lines mean is repl.cc's business, and which
// names complete is completion.cc's.
//
// Keys are libedit's emacs bindings (arrows, Home/End, Ctrl-A/E/K/U/W, Ctrl-R...) plus:
//   Tab     completes the word before the cursor, or lists the candidates when it cannot
//   Ctrl-C  cancels the line being typed (the terminal's interrupt character is switched off
//           while a line is edited, so Ctrl-C arrives here as a key instead of a signal)
//   Ctrl-Z  suspends the process, as the shell's job control expects
//   Ctrl-D  on an empty line: end of input
#include <histedit.h>
#include <langinfo.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <clocale>
#include <csignal>
#include <cstring>
#include <iostream>
#include <string>

#include "cli.hh"

namespace quickbox::cli {

/// The most entries kept in the history (and its file).
constexpr int kHistorySize = 1000;
/// The most completion candidates listed at once.
constexpr size_t kMaxListed = 200;

struct LineEditor::State {
  EditLine *editor = nullptr;
  History *history = nullptr;
  HistEvent event{};
  std::string history_file;
  Completer completer;
  std::string prompt;
  bool cancelled = false;
  bool warned_about_history = false;
};

namespace {

LineEditor::State &state_of(EditLine *editor) {
  void *data = nullptr;
  el_get(editor, EL_CLIENTDATA, &data);
  return *static_cast<LineEditor::State *>(data);
}

char *prompt_of(EditLine *editor) { return state_of(editor).prompt.data(); }

unsigned char cancel_line(EditLine *editor, int) {
  state_of(editor).cancelled = true;
  return CC_NEWLINE;
}

unsigned char suspend_process(EditLine *editor, int) {
  el_set(editor, EL_PREP_TERM, 0);  // the shell gets the terminal back as it gave it
  raise(SIGTSTP);
  el_set(editor, EL_PREP_TERM, 1);  // continued (fg): edit again
  return CC_REDISPLAY;
}

size_t terminal_width() {
  winsize size{};
  if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

/// The candidates in columns, as a shell lists completions.
void list_candidates(const std::vector<std::string> &candidates) {
  size_t shown = std::min(candidates.size(), kMaxListed);
  size_t widest = 0;
  for (size_t i = 0; i < shown; i++) widest = std::max(widest, candidates[i].size());
  size_t column_width = widest + 2;
  size_t columns = std::max<size_t>(1, terminal_width() / column_width);
  size_t rows = (shown + columns - 1) / columns;
  std::cout << '\n';
  for (size_t row = 0; row < rows; row++) {
    std::string line;
    for (size_t column = 0; column < columns; column++) {
      size_t i = column * rows + row;
      if (i >= shown) break;
      line += candidates[i];
      if (column + 1 < columns && i + rows < shown) line.append(column_width - candidates[i].size(), ' ');
    }
    std::cout << line << '\n';
  }
  if (shown < candidates.size()) std::cout << "... and " << candidates.size() - shown << " more\n";
  std::cout << std::flush;
}

unsigned char complete_word(EditLine *editor, int) {
  LineEditor::State &state = state_of(editor);
  const LineInfo *line = el_line(editor);
  std::string_view before(line->buffer, static_cast<size_t>(line->cursor - line->buffer));
  Completions found = state.completer(before);
  if (found.candidates.empty()) return CC_REFRESH_BEEP;
  std::string_view typed = before.substr(before.size() - std::min(found.word_length, before.size()));
  std::string common = found.candidates.front();
  for (const std::string &candidate : found.candidates) {
    size_t same = 0;
    while (same < common.size() && same < candidate.size() && common[same] == candidate[same]) same++;
    common.resize(same);
  }
  if (common.size() > typed.size() && common.starts_with(typed)) {
    if (el_insertstr(editor, common.c_str() + typed.size()) != 0) return CC_ERROR;
    return CC_REFRESH;
  }
  if (found.candidates.size() == 1) return CC_NORM;  // already complete
  list_candidates(found.candidates);
  return CC_REDISPLAY;
}

/// libedit reads and writes multibyte text as the locale's LC_CTYPE says; JavaScript is UTF-8.
void use_utf8() {
  std::setlocale(LC_CTYPE, "");
  if (std::strcmp(nl_langinfo(CODESET), "UTF-8") != 0) std::setlocale(LC_CTYPE, "C.UTF-8");
}

}  // namespace

LineEditor::LineEditor(std::string history_file, Completer completer) : state_(std::make_unique<State>()) {
  use_utf8();
  State &s = *state_;
  s.history_file = std::move(history_file);
  s.completer = std::move(completer);
  s.history = history_init();
  history(s.history, &s.event, H_SETSIZE, kHistorySize);
  history(s.history, &s.event, H_SETUNIQUE, 1);
  // A missing file is a first session; anything else unreadable shows when saving fails.
  if (!s.history_file.empty()) history(s.history, &s.event, H_LOAD, s.history_file.c_str());
  s.editor = el_init("quickbox", stdin, stdout, stderr);
  el_set(s.editor, EL_CLIENTDATA, &s);
  el_set(s.editor, EL_EDITOR, "emacs");
  el_set(s.editor, EL_PROMPT, prompt_of);
  el_set(s.editor, EL_HIST, history, s.history);
  // While a line is edited the terminal sends no signals: Ctrl-C and Ctrl-Z arrive as keys.
  el_set(s.editor, EL_SETTY, "-d", "-isig", nullptr);
  el_set(s.editor, EL_ADDFN, "qb-cancel-line", "cancel the line being typed", cancel_line);
  el_set(s.editor, EL_BIND, "^C", "qb-cancel-line", nullptr);
  el_set(s.editor, EL_ADDFN, "qb-suspend", "suspend quickbox (job control)", suspend_process);
  el_set(s.editor, EL_BIND, "^Z", "qb-suspend", nullptr);
  el_set(s.editor, EL_ADDFN, "qb-complete", "complete a name", complete_word);
  el_set(s.editor, EL_BIND, "^I", "qb-complete", nullptr);
  el_source(s.editor, nullptr);  // the person's own ~/.editrc, if any
}

LineEditor::~LineEditor() {
  el_end(state_->editor);
  history_end(state_->history);
}

LineEditor::Line LineEditor::read(const std::string &prompt) {
  State &s = *state_;
  s.prompt = prompt;
  s.cancelled = false;
  el_resize(s.editor);  // the window may have changed size since the last line
  std::cout << std::flush;
  int count = 0;
  const char *text = el_gets(s.editor, &count);
  if (s.cancelled) {
    std::cout << '\n';  // libedit leaves the cursor after the cancelled text
    std::string cancelled(text && count > 0 ? text : "", text && count > 0 ? static_cast<size_t>(count) : 0);
    return {Line::Kind::Cancelled, std::move(cancelled)};
  }
  if (!text || count <= 0) return {Line::Kind::End, ""};
  std::string line(text, static_cast<size_t>(count));
  if (line.ends_with('\n')) line.pop_back();
  return {Line::Kind::Text, std::move(line)};
}

void LineEditor::remember(const std::string &entry) {
  State &s = *state_;
  std::string text = entry;
  while (text.ends_with('\n')) text.pop_back();
  if (text.empty()) return;
  history(s.history, &s.event, H_ENTER, text.c_str());
  // Saved after every entry, so a session that is killed keeps what it typed. libedit writes
  // the file readable by its owner only: entries can hold secrets.
  if (s.history_file.empty() || history(s.history, &s.event, H_SAVE, s.history_file.c_str()) >= 0) return;
  if (!s.warned_about_history) {
    std::cerr << "quickbox: cannot save the repl history to '" << s.history_file << "': " << std::strerror(errno)
              << " (set QUICKBOX_REPL_HISTORY to another file, or to nothing to keep none)\n";
    s.warned_about_history = true;
  }
}

}  // namespace quickbox::cli
