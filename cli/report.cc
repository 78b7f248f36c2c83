// Printing what an evaluation produced: as text the way Node would, or as one JSON object.
#include <ctime>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>

#include "cli.hh"

namespace quickbox::cli {

int exit_code_for(ErrorKind kind) {
  for (const ExitStatus &status : kExitStatuses) {
    if (status.kind == kind) return status.code;
  }
  return kExitInternal;  // every ErrorKind has a row; a kind without one would be our bug
}

namespace {

// ---- Text ------------------------------------------------------------------------------------------

/// Node sends console.warn and console.error to stderr, everything else to stdout.
std::ostream &stream_for(ConsoleLevel level) {
  return level == ConsoleLevel::Warn || level == ConsoleLevel::Error ? std::cerr : std::cout;
}

/// "Uncaught TypeError: x is not a function" (as Node's REPL says it), "Uncaught 'a string'" for a
/// thrown non-Error (evaluated with EvalOptions::display, its message is its util.inspect text),
/// or "Timeout: CPU time limit of 200 ms exceeded" for a limit.
std::string headline(const Error &error) {
  if (error.kind != ErrorKind::JSException) return std::string(to_string(error.kind)) + ": " + error.message;
  if (error.name.empty()) return "Uncaught " + error.message;
  if (error.message.empty()) return "Uncaught " + error.name;
  return "Uncaught " + error.name + ": " + error.message;
}

void print_error(const Error &error) {
  std::cerr << headline(error) << '\n' << error.stack;
  if (!error.stack.empty() && !error.stack.ends_with('\n')) std::cerr << '\n';
}

/// The final value as the sandbox formatted it (EvalOptions::display). `run` leaves out undefined:
/// its text is "undefined" with an undefined value (a value that cannot cross has its own text).
void print_value(const Result &result, ValueDisplay display) {
  // Every text-mode evaluation asks for display; JSON would stand in were one not to.
  std::string text = result.display ? *result.display : to_json(result.value());
  if (display == ValueDisplay::NodePrintUnlessUndefined && result.value().is_undefined() && text == "undefined") return;
  std::cout << text << '\n';
}

// ---- JSON ------------------------------------------------------------------------------------------

Value error_object(const Error &error) {
  Value::Object object{{"kind", to_string(error.kind)},
                       {"name", error.name},
                       {"message", error.message},
                       {"stack", error.stack}};
  // `throw {code: 42}`: keep the thrown value itself for machine readers.
  if (error.thrown) object.emplace_back("thrown", *error.thrown);
  return object;
}

Value console_array(const std::vector<ConsoleLine> &lines) {
  Value::Array array;
  array.reserve(lines.size());
  for (const ConsoleLine &line : lines) {
    array.emplace_back(Value::Object{{"level", to_string(line.level)}, {"text", line.text}});
  }
  return array;
}

// ---- The audit log ---------------------------------------------------------------------------------

/// "2025-06-01T10:00:00.123Z"
std::string iso8601(std::chrono::system_clock::time_point time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::ostringstream out;
  out << std::put_time(&utc, "%Y-%m-%dT%H:%M:%S") << '.' << std::setw(3) << std::setfill('0') << ms % 1000 << 'Z';
  return out.str();
}

// Enough of the SHA-256 to tell calls apart by eye; --json has all of it.
constexpr size_t kDigestPrefix = 12;

/// "  #3 readText ok 2025-06-01T10:00:00.123Z 0.104ms args 18B sha256:1a2b3c4d5e6f - detail".
/// Calls refused before they got an id (budgets, size caps) show "#-".
void print_audit(const std::vector<AuditEntry> &audit) {
  std::cerr << "audit log: " << audit.size() << (audit.size() == 1 ? " host call\n" : " host calls\n");
  for (const AuditEntry &entry : audit) {
    std::cerr << "  #" << (entry.call_id ? std::to_string(entry.call_id) : "-") << ' ' << entry.capability << ' '
              << to_string(entry.outcome) << ' ' << iso8601(entry.start) << ' ' << std::fixed
              << std::setprecision(3) << static_cast<double>(entry.duration.count()) / 1000 << "ms args "
              << entry.argument_bytes << "B sha256:" << entry.argument_digest.substr(0, kDigestPrefix);
    if (!entry.detail.empty()) std::cerr << " - " << entry.detail;
    std::cerr << '\n';
    // fetch(): one line per HTTP request, "    GET https://... -> 200, 1234B in 35.120ms".
    for (const NetworkRequest &r : entry.requests) {
      std::cerr << "    " << r.method << ' ' << r.url << " -> " << (r.status ? std::to_string(r.status) : "no response")
                << ", " << r.request_bytes << "B sent, " << r.response_bytes << "B received in " << std::fixed
                << std::setprecision(3) << static_cast<double>(r.duration.count()) / 1000 << "ms";
      if (!r.error.empty()) std::cerr << " - " << r.error;
      std::cerr << '\n';
    }
  }
}

Value requests_array(const std::vector<NetworkRequest> &requests) {
  Value::Array array;
  for (const NetworkRequest &r : requests)
    array.emplace_back(Value::Object{{"method", r.method},
                                     {"url", r.url},
                                     {"status", static_cast<double>(r.status)},
                                     {"request_bytes", static_cast<double>(r.request_bytes)},
                                     {"response_bytes", static_cast<double>(r.response_bytes)},
                                     {"duration_us", static_cast<double>(r.duration.count())},
                                     {"error", r.error}});
  return array;
}

Value audit_array(const std::vector<AuditEntry> &audit) {
  Value::Array array;
  for (const AuditEntry &entry : audit) {
    array.emplace_back(Value::Object{{"capability", entry.capability},
                                     {"call_id", static_cast<double>(entry.call_id)},
                                     {"argument_bytes", static_cast<double>(entry.argument_bytes)},
                                     {"argument_digest", entry.argument_digest},
                                     {"start", iso8601(entry.start)},
                                     {"duration_us", static_cast<double>(entry.duration.count())},
                                     {"outcome", to_string(entry.outcome)},
                                     {"detail", entry.detail},
                                     {"requests", requests_array(entry.requests)}});
  }
  return array;
}

/// The fields every envelope ends with: console, console_dropped_bytes and (with --audit) audit.
void append_common_fields(Value::Object &envelope, const std::vector<ConsoleLine> &console,
                          uint64_t console_dropped_bytes, const std::vector<AuditEntry> *audit) {
  envelope.emplace_back("console", console_array(console));
  envelope.emplace_back("console_dropped_bytes", static_cast<double>(console_dropped_bytes));
  if (audit) envelope.emplace_back("audit", audit_array(*audit));
}

/// {"ok":true,"value":...} or {"ok":false,"error":{...}}, then the console fields. An undefined
/// value is written as null: JSON has no undefined, and the key should always be there.
void print_envelope(const Value *value, const Error *error, const std::vector<ConsoleLine> &console,
                    uint64_t console_dropped_bytes, const std::vector<AuditEntry> *audit = nullptr) {
  Value::Object envelope{{"ok", value != nullptr}};
  if (value) envelope.emplace_back("value", value->is_undefined() ? Value(nullptr) : *value);
  if (error) envelope.emplace_back("error", error_object(*error));
  append_common_fields(envelope, console, console_dropped_bytes, audit);
  std::cout << to_json(envelope) << '\n';
}

// ---- Suspensions ------------------------------------------------------------------------------------

// Arguments can be whole documents; a line per call keeps the list readable (--json has them all).
constexpr size_t kMaxShownArguments = 200;

/// util.inspect's text on one line: it breaks wide objects over lines, and strings inside have
/// their line breaks escaped, so every raw line break is layout.
std::string one_line(const std::string &inspected) {
  std::string out;
  for (size_t i = 0; i < inspected.size(); i++) {
    if (inspected[i] != '\n') {
      out += inspected[i];
      continue;
    }
    out += ' ';
    while (i + 1 < inspected.size() && inspected[i + 1] == ' ') i++;
  }
  return out;
}

/// A value as util.inspect shows it, formatted by the sandbox, on one line; as JSON without one.
std::string shown(Sandbox *sandbox, const Value &value) {
  if (sandbox)
    if (auto text = sandbox->format(value)) return one_line(text.value());
  return to_json(value);
}

std::string shown_arguments(Sandbox *sandbox, const std::vector<Value> &args) {
  std::string text;
  for (const Value &arg : args) text.append(text.empty() ? "" : ", ").append(shown(sandbox, arg));
  if (text.size() <= kMaxShownArguments) return text;
  size_t cut = kMaxShownArguments;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) cut--;  // not inside a UTF-8 character
  return text.substr(0, cut) + "... (" + std::to_string(text.size() - cut) + " more characters)";
}

void print_pending(std::ostream &out, Sandbox &sandbox, const std::vector<PendingCall> &pending) {
  for (const PendingCall &call : pending) {
    out << "  " << describe_call(call, &sandbox) << (call.needs_approval ? "  needs approval: " : "  waits for an answer: ")
        << how_to_settle(call) << '\n';
  }
}

std::string calls_waiting(size_t count) {
  return count == 1 ? "1 call that needs a person" : std::to_string(count) + " calls that need a person";
}

void print_suspension_text(Sandbox &sandbox, const Result &result, const SuspensionNote &note) {
  const std::vector<PendingCall> &pending = result.pending();
  if (!note.state_file) {
    std::cerr << "quickbox: the program is suspended: it waits on " << calls_waiting(pending.size()) << ":\n";
    print_pending(std::cerr, sandbox, pending);
    std::cerr << "Pass --suspend-to FILE to save its state there, then continue it with `quickbox resume FILE`.\n";
    return;
  }
  std::cout << "Suspended: the program waits on " << calls_waiting(pending.size()) << "; its state is in "
            << *note.state_file << "\n";
  print_pending(std::cout, sandbox, pending);
  std::cout << "Continue with: " << note.resume_command;
  for (const PendingCall &call : pending)
    std::cout << (call.needs_approval ? " --approve " + std::to_string(call.call_id)
                                      : " --answer " + std::to_string(call.call_id) + "=JSON");
  std::cout << '\n';
}

}  // namespace

// std::cerr is tied to std::cout, so stdout is flushed before every stderr write and lines on
// the two streams keep their order on a terminal.
void print_console_line(const ConsoleLine &line) {
  stream_for(line.level) << line.text << '\n';
  if (&stream_for(line.level) == &std::cout) std::cout.flush();  // shown now, not when the buffer fills
}

void print_console(const Result &result, uint64_t console_limit) {
  for (const ConsoleLine &line : result.console) stream_for(line.level) << line.text << '\n';
  if (result.console_dropped_bytes != 0) {
    std::cerr << "quickbox: console output reached its limit of " << console_limit
              << " bytes per evaluation; " << result.console_dropped_bytes
              << " more bytes were dropped\n";
  }
}

int report(const Result &result, bool json, ValueDisplay display, uint64_t console_limit,
           const std::vector<AuditEntry> *audit) {
  if (json) {
    print_envelope(result.ok() ? &result.value() : nullptr, result.ok() ? nullptr : &result.error(),
                   result.console, result.console_dropped_bytes, audit);
  } else {
    print_console(result, console_limit);
    if (result.ok()) {
      print_value(result, display);
    } else {
      print_error(result.error());
    }
    if (audit) print_audit(*audit);
  }
  std::cout.flush();
  return result.ok() ? kExitOk : exit_code_for(result.error().kind);
}

int report_suspension(Sandbox &sandbox, const Result &result, const SuspensionNote &note, bool json,
                      uint64_t console_limit, const std::vector<AuditEntry> *audit) {
  if (json) {
    Value::Object envelope{{"suspended", true},
                           {"state", note.state_file ? Value(*note.state_file) : Value(nullptr)},
                           {"pending", pending_calls_json(result.pending())}};
    append_common_fields(envelope, result.console, result.console_dropped_bytes, audit);
    std::cout << to_json(envelope) << '\n';
    // Nothing was saved: the program is lost, which the caller must hear about even in JSON mode.
    if (!note.state_file && !note.settled_now)
      std::cerr << "quickbox: the program is suspended and its state was not saved; pass --suspend-to FILE\n";
  } else {
    print_console(result, console_limit);
    print_suspension_text(sandbox, result, note);
    if (audit) print_audit(*audit);
  }
  std::cout.flush();
  return kExitSuspended;
}

std::string describe_call(const PendingCall &call, Sandbox *sandbox) {
  std::string text = "#";  // appended, not "#" + ...: GCC 12 warns falsely about that
  return text.append(std::to_string(call.call_id)).append(" ").append(call.capability).append("(")
      .append(shown_arguments(sandbox, call.args)).append(")");
}

std::string how_to_settle(const PendingCall &call) {
  std::string id = std::to_string(call.call_id);
  if (call.needs_approval) return "--approve " + id + " or --deny " + id + "[=REASON]";
  return "--answer " + id + "=JSON or --deny " + id + "[=REASON]";
}

Value pending_calls_json(const std::vector<PendingCall> &pending) {
  Value::Array array;
  for (const PendingCall &call : pending) {
    array.emplace_back(Value::Object{{"id", static_cast<double>(call.call_id)},
                                     {"capability", call.capability},
                                     {"args", Value(Value::Array(call.args))},
                                     {"needs_approval", call.needs_approval}});
  }
  return array;
}

int report_setup_error(const Error &error, bool json) { return report_failure("cannot start the sandbox", error, json); }

int report_failure(const std::string &context, const Error &error, bool json) {
  if (json) {
    print_envelope(nullptr, &error, {}, 0);
  } else {
    std::cerr << "quickbox: " << context << ": " << error.to_string() << '\n';
  }
  return exit_code_for(error.kind);
}

}  // namespace quickbox::cli
