// Durable pauses: saving a suspended program's state (run/eval --suspend-to), continuing it in a
// later process (resume), and describing a state file without running it (inspect).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <string_view>

#include "cli.hh"

namespace quickbox::cli {
namespace {

namespace fs = std::filesystem;


/// The text as one shell word, so a printed command can be pasted back.
std::string shell_word(const std::string &text) {
  bool plain = !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || std::string_view("_./-+=:,@%").find(c) != std::string_view::npos;
  });
  if (plain) return text;
  std::string word = "'";
  for (char c : text) word += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return word + "'";
}

// ---- State files ----------------------------------------------------------------------------------

/// Fails early, before the program runs, when its state could not be saved afterwards.
std::optional<UsageError> check_state_destination(const std::string &path) {
  std::error_code error;
  if (fs::is_directory(path, error)) return UsageError{"cannot save the state to '" + path + "': it is a directory"};
  fs::path directory = fs::absolute(fs::path(path)).parent_path();
  if (access(directory.c_str(), W_OK) != 0)
    return UsageError{"cannot save the state to '" + path + "': its directory " + directory.string() +
                      " is not writable (" + std::strerror(errno) + ")"};
  return std::nullopt;
}

/// Writes the state beside its destination, then renames it into place: a crash leaves either the
/// old state or the new one, never half of one. Readable by the owner only: it holds the program's
/// memory, and so whatever its capabilities read. Returns an error message on failure.
std::optional<std::string> write_state(const std::string &path, std::span<const uint8_t> bytes) {
  std::string temporary = path + ".tmp-" + std::to_string(getpid());
  int fd = open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return "cannot create '" + temporary + "': " + std::strerror(errno);
  size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<size_t>(n);
  }
  int saved_errno = errno;
  bool complete = written == bytes.size() && fsync(fd) == 0;
  if (!complete) saved_errno = errno;
  close(fd);
  if (complete && std::rename(temporary.c_str(), path.c_str()) == 0) return std::nullopt;
  if (complete) saved_errno = errno;
  unlink(temporary.c_str());
  return "cannot write '" + path + "': " + std::strerror(saved_errno);
}

std::variant<std::vector<uint8_t>, UsageError> read_state(const std::string &path) {
  // A state larger than any the library accepts is refused before it is read into memory.
  std::error_code error;
  uint64_t limit = RestoreOptions{}.max_snapshot_bytes;
  if (uint64_t size = fs::file_size(path, error); !error && size > limit)
    return UsageError{"'" + path + "' is " + std::to_string(size) + " bytes, more than the " + std::to_string(limit) +
                      "-byte limit for a state file"};
  auto contents = read_file(path);
  if (auto *error = std::get_if<UsageError>(&contents)) return *error;
  const std::string &text = std::get<std::string>(contents);
  return std::vector<uint8_t>(text.begin(), text.end());
}

/// A state the library refused (bad MAC, wrong key, truncated, another guest build...): its reason
/// names the failed check. Exit code: InvalidInput's.
int refused_state(const std::string &path, const Error &error, const Options &options) {
  std::string context = "cannot use the state in '" + path + "'";
  Error shown = error;
  shown.message = in_cli_words(error);
  return report_failure(context, shown, options.json);
}

// ---- resume: checking and settling the calls ----------------------------------------------------------

std::string waiting_list(const std::vector<PendingCall> &pending) {
  std::string list;
  for (const PendingCall &call : pending)
    list.append(list.empty() ? "#" : ", #").append(std::to_string(call.call_id)).append(" ").append(call.capability);
  return list.empty() ? "none" : list;
}

std::variant<const PendingCall *, UsageError> pending_call(const std::vector<PendingCall> &pending, uint32_t id,
                                                          const std::string &state_file) {
  for (const PendingCall &call : pending)
    if (call.call_id == id) return &call;
  return UsageError{"no call " + std::to_string(id) + " is waiting in " + state_file +
                    " (waiting: " + waiting_list(pending) + ")"};
}

std::string call_name(const PendingCall &call) {
  return "call " + std::to_string(call.call_id) + " (" + call.capability + ")";
}

/// Every flag names a waiting call of the right kind; checked before anything is restored.
std::optional<UsageError> check_settlements(const std::vector<PendingCall> &pending, const Options &options) {
  const std::string &state_file = options.operands[0];
  auto check = [&](uint32_t id, std::optional<bool> needs_approval) -> std::optional<UsageError> {
    auto found = pending_call(pending, id, state_file);
    if (auto *error = std::get_if<UsageError>(&found)) return *error;
    const PendingCall &call = *std::get<const PendingCall *>(found);
    if (needs_approval && *needs_approval != call.needs_approval) {
      std::string problem = call.needs_approval ? " needs approval, not an answer: use "
                                                : " waits for an answer, not an approval: use ";
      return UsageError{call_name(call) + problem + how_to_settle(call)};
    }
    return std::nullopt;
  };
  for (const Answer &answer : options.answers)
    if (auto error = check(answer.call_id, false)) return error;
  for (uint32_t id : options.approvals)
    if (auto error = check(id, true)) return error;
  for (const Denial &denial : options.denials)
    if (auto error = check(denial.call_id, std::nullopt)) return error;
  return std::nullopt;
}

/// The manifest must offer every capability the program was given: its calls would fail otherwise.
std::optional<UsageError> check_manifest_covers(const SnapshotInfo &info, const Manifest &manifest,
                                                const std::string &state_file, bool network) {
  std::string missing;
  for (const std::string &name : info.capabilities) {
    if (name == "fetch" && network) continue;  // granted by the "fetch" section or --allow-net
    bool declared = std::any_of(manifest.capabilities.begin(), manifest.capabilities.end(),
                                [&](const CapabilitySpec &spec) { return spec.name == name; });
    if (!declared) missing.append(missing.empty() ? "" : ", ").append(in_quotes(name));
  }
  if (missing.empty()) return std::nullopt;
  return UsageError{state_file + " was saved with capabilities that " + manifest.file + " does not declare: " +
                    missing + "; resume with the manifest (and --allow-net) the program ran with"};
}

/// Applies --answer, --approve and --deny to the restored sandbox. An error names the call; it is
/// InvalidInput when the flag was refused, and otherwise what ended the program while the answer
/// ran its code (a thenable, a reaction): the program's own outcome.
std::optional<Error> settle_calls(Sandbox &sandbox, const Options &options) {
  auto failed = [](uint32_t id, const Status &status) -> std::optional<Error> {
    if (status) return std::nullopt;
    Error error = status.error();
    if (error.kind == ErrorKind::InvalidInput) error.message = "cannot settle call " + std::to_string(id) + ": " + error.message;
    return error;
  };
  for (const Answer &answer : options.answers)
    if (auto error = failed(answer.call_id, sandbox.resolve(answer.call_id, answer.value))) return error;
  for (uint32_t id : options.approvals)
    if (auto error = failed(id, sandbox.approve(id))) return error;
  for (const Denial &denial : options.denials)
    if (auto error = failed(denial.call_id, sandbox.deny(denial.call_id, denial.reason))) return error;
  return std::nullopt;
}

/// Everything resume needs, read and checked before an engine starts.
struct ResumeInputs {
  Manifest manifest;
  std::vector<uint8_t> key;
  std::vector<uint8_t> state;
};

std::variant<ResumeInputs, int> read_resume_inputs(const Options &options) {
  const std::string &state_file = options.operands[0];
  auto manifest = load_manifest(*options.caps_file);
  if (auto *error = std::get_if<UsageError>(&manifest)) return usage_error(error->message);
  auto key = read_key(options);
  if (auto *error = std::get_if<UsageError>(&key)) return usage_error(error->message);
  auto state = read_state(state_file);
  if (auto *error = std::get_if<UsageError>(&state)) return usage_error(error->message);
  if (auto error = check_suspend_destination(options)) return usage_error(error->message);
  if (auto error = check_modules_dir(options)) return usage_error(error->message);
  ResumeInputs inputs{std::get<Manifest>(std::move(manifest)), std::get<std::vector<uint8_t>>(std::move(key)),
                      std::get<std::vector<uint8_t>>(std::move(state))};
  auto info = inspect_snapshot(inputs.state, RestoreOptions{.hmac_key = inputs.key});
  if (!info) return refused_state(state_file, info.error(), options);
  if (!info.value().suspended)
    return usage_error(state_file + " holds no suspended program: there is nothing to resume");
  bool network = sandbox_options(options, &inputs.manifest).network.has_value();
  if (auto error = check_manifest_covers(info.value(), inputs.manifest, state_file, network))
    return usage_error(error->message);
  if (auto error = check_settlements(info.value().pending, options)) return usage_error(error->message);
  return inputs;
}

bool same_file(const std::string &a, const std::string &b) {
  std::error_code error;
  return fs::weakly_canonical(a, error) == fs::weakly_canonical(b, error);
}

/// --consume: the state was used; a failure to delete it is worth a warning, not a different exit.
void consume_state(const std::string &path) {
  std::error_code error;
  if (!fs::remove(path, error) && error)
    std::cerr << "quickbox: warning: could not delete '" << path << "' (--consume): " << error.message() << '\n';
}

// ---- inspect -----------------------------------------------------------------------------------------

/// "53501 bytes (52.2 KiB)"
std::string byte_count(uint64_t bytes) {
  std::ostringstream out;
  out << bytes << " bytes";
  constexpr std::pair<int, const char *> units[] = {{30, "GiB"}, {20, "MiB"}, {10, "KiB"}};
  for (auto [shift, unit] : units) {
    if (bytes < (uint64_t{1} << shift)) continue;
    out.precision(1);
    out << " (" << std::fixed << static_cast<double>(bytes) / static_cast<double>(uint64_t{1} << shift) << ' '
        << unit << ')';
    break;
  }
  return out.str();
}

/// `shower` formats the pending calls' arguments (null: they show as JSON).
void print_inspection_text(const std::string &path, const SnapshotInfo &info, const std::string &engine_build,
                           Sandbox *shower) {
  std::cout << path << ": quickbox state, format version " << info.format_version << ", "
            << (info.signed_ ? "signed (HMAC-SHA256)" : "not signed") << '\n';
  std::cout << "guest build   " << info.guest_build_id;
  if (engine_build.empty()) {
    std::cout << " (unknown whether this quickbox runs it: its engine did not start)\n";
  } else if (engine_build == info.guest_build_id) {
    std::cout << " (this quickbox's)\n";
  } else {
    std::cout << " (not this quickbox's " << engine_build << ": resume will refuse it)\n";
  }
  std::cout << "size          " << byte_count(info.total_bytes) << "; body " << byte_count(info.body_bytes)
            << " uncompressed\n"
            << "memory        " << byte_count(info.memory_bytes) << ", of which " << byte_count(info.changed_bytes)
            << " differ from a fresh sandbox\n";
  std::cout << "program       "
            << (info.suspended ? "suspended, waiting on " + std::to_string(info.pending.size()) +
                                     (info.pending.size() == 1 ? " call" : " calls")
                               : std::string("not suspended"))
            << '\n';
  std::string capabilities;
  for (const std::string &name : info.capabilities) capabilities.append(capabilities.empty() ? "" : ", ").append(name);
  std::cout << "capabilities  " << (capabilities.empty() ? "none" : capabilities) << '\n';
  if (auto holder = claim_holder(path)) {
    std::cout << "claimed       " << (holder->running ? "being resumed now by " : "by a resume that never finished, ")
              << holder->description
              << (holder->running ? "\n" : " (it crashed or was killed; see resume --reclaim)\n");
  }
  if (info.pending.empty()) return;
  std::cout << "pending calls\n";
  for (const PendingCall &call : info.pending)
    std::cout << "  " << describe_call(call, shower) << (call.needs_approval ? "  needs approval" : "  waits for an answer")
              << '\n';
}

/// null, or {"holder": "pid 1234 since ...", "running": bool}.
Value claim_json(const std::string &path) {
  auto holder = claim_holder(path);
  if (!holder) return Value(nullptr);
  return Value::Object{{"holder", holder->description}, {"running", holder->running}};
}

void print_inspection_json(const std::string &path, const SnapshotInfo &info, const std::string &engine_build) {
  Value::Array capabilities(info.capabilities.begin(), info.capabilities.end());
  Value::Object object{
      {"state", path},
      {"format_version", static_cast<double>(info.format_version)},
      {"signed", info.signed_},
      {"guest_build_id", info.guest_build_id},
      {"guest_build_matches", engine_build.empty() ? Value(nullptr) : Value(engine_build == info.guest_build_id)},
      {"total_bytes", static_cast<double>(info.total_bytes)},
      {"body_bytes", static_cast<double>(info.body_bytes)},
      {"memory_bytes", static_cast<double>(info.memory_bytes)},
      {"changed_bytes", static_cast<double>(info.changed_bytes)},
      {"suspended", info.suspended},
      {"capabilities", Value(std::move(capabilities))},
      {"pending", pending_calls_json(info.pending)},
      {"claim", claim_json(path)},
  };
  std::cout << to_json(object) << '\n';
}

}  // namespace

std::variant<std::vector<uint8_t>, UsageError> read_key(const Options &options) {
  if (!options.key_file) return std::vector<uint8_t>{};
  auto contents = read_file(*options.key_file, kMaxKeyFileBytes);
  if (auto *error = std::get_if<UsageError>(&contents)) return UsageError{"--key-file: " + error->message};
  const std::string &key = std::get<std::string>(contents);
  if (key.empty())
    return UsageError{"--key-file: '" + *options.key_file + "' is empty; a key needs at least one byte "
                      "(32 random bytes make a good one)"};
  return std::vector<uint8_t>(key.begin(), key.end());
}

std::optional<UsageError> check_suspend_destination(const Options &options) {
  if (!options.suspend_to) return std::nullopt;
  // The state replaces what is at its destination: never one of this command's own inputs.
  const std::string &to = *options.suspend_to;
  auto overwrites = [&](const std::optional<std::string> &input, const char *what) -> std::optional<UsageError> {
    if (!input || !fs::exists(*input) || !same_file(to, *input)) return std::nullopt;
    return UsageError{"--suspend-to '" + to + "' is " + what + ": saving the state there would overwrite it"};
  };
  std::optional<std::string> program;
  if (options.command == Command::Run && !options.operands.empty() && options.operands[0] != "-")
    program = options.operands[0];
  for (auto error : {overwrites(program, "the program being run"), overwrites(options.caps_file, "the capability manifest"),
                     overwrites(options.key_file, "the key file")})
    if (error) return error;
  return check_state_destination(to);
}

int suspend(Sandbox &sandbox, const Result &result, const Options &options,
            const std::optional<std::string> &fallback_state, const std::vector<uint8_t> &key) {
  std::optional<std::string> destination = options.suspend_to ? options.suspend_to : fallback_state;
  SuspensionNote note;
  if (destination) {
    auto snapshot = sandbox.snapshot(SnapshotOptions{.hmac_key = key});
    if (!snapshot) return report_failure("cannot save the suspended program", snapshot.error(), options.json);
    if (auto error = write_state(*destination, snapshot.value()))
      return usage_error("cannot save the suspended program: " + *error);
    note.state_file = destination;
    note.resume_command = "quickbox resume " + shell_word(*destination) + " --caps " + shell_word(*options.caps_file);
    if (options.key_file) note.resume_command += " --key-file " + shell_word(*options.key_file);
    for (const auto &[flag, value] : options.sandbox_flags) note.resume_command += " " + flag + " " + shell_word(value);
    // A program that imports after the pause needs its modules' directory again.
    if (options.modules_dir)
      note.resume_command += " --modules-dir " + shell_word(*options.modules_dir);
    else if (options.command == Command::Run && options.operands[0] != "-")
      note.resume_command += " --modules-dir " + shell_word(entry_directory(options.operands[0]).string());
    if (!options.allow_net.empty()) {
      std::string list;
      for (const std::string &rule : options.allow_net) list.append(list.empty() ? "" : ",").append(rule);
      note.resume_command += " --allow-net=" + shell_word(list);
    }
  }
  return report_suspension(sandbox, result, note, options.json, options.sandbox.limits.console_bytes,
                           options.audit ? &sandbox.audit_log() : nullptr);
}

int run_resume(const Options &options) {
  const std::string &state_file = options.operands[0];
  // Claimed before the state is even read: a resume that finds it claimed runs nothing, and one
  // that claims it after a --consume finished finds no state left to run.
  auto claimed = claim_state(state_file, options.reclaim);
  if (auto *refusal = std::get_if<ClaimRefusal>(&claimed)) {
    std::cerr << "quickbox: " << refusal->message << '\n';
    return refusal->held ? kExitClaimed : kExitUsage;
  }
  StateClaim &claim = std::get<StateClaim>(claimed);
  auto read = read_resume_inputs(options);
  if (auto *exit_code = std::get_if<int>(&read)) return *exit_code;
  const ResumeInputs &inputs = std::get<ResumeInputs>(read);
  auto engine = start_engine(options);
  if (!engine) return setup_failure(engine.error(), options);
  SandboxOptions settings = sandbox_options(options, &inputs.manifest);
  // Imports after the pause load as run loaded them, from --modules-dir (cli/modules.cc).
  settings.modules = options.modules_dir
                         ? directory_module_loader(*options.modules_dir, settings.limits.module_source_bytes,
                                                   ModuleDirectory{})
                         : refusing_module_loader("this resume loads no modules; pass --modules-dir DIR, the entry "
                                                  "file's directory (the resume command that run printed has it)");
  auto sandbox = Sandbox::restore(engine.value(), inputs.state, settings, RestoreOptions{.hmac_key = inputs.key});
  if (!sandbox) {
    // inspect_snapshot checked all it could; what is left (the guest build, the memory it needs)
    // is still the state's fault, not the flags'.
    if (sandbox.error().message.starts_with("snapshot refused")) return refused_state(state_file, sandbox.error(), options);
    return setup_failure(sandbox.error(), options);
  }
  if (auto error = register_capabilities(sandbox.value(), inputs.manifest)) return usage_error(error->message);
  Result result = Result::failure(Error{});
  if (auto error = settle_calls(sandbox.value(), options)) {
    if (error->kind == ErrorKind::InvalidInput) return usage_error(error->message);
    result = Result::failure(*error);
  } else {
    result = sandbox.value().resume();
  }
  if (result.is_suspended()) {
    int exit_code = suspend(sandbox.value(), result, options, state_file, inputs.key);
    bool moved = options.suspend_to && !same_file(*options.suspend_to, state_file);
    if (exit_code == kExitSuspended && options.consume && moved) consume_state(state_file);
    claim.release();  // after the new state (or the deletion) is in place
    return exit_code;
  }
  if (result.ok() && !result.display && !options.json) {
    // The program was started with --json, which asks for no text; this resume prints one.
    if (auto text = sandbox.value().format(result.value(), EvalOptions::Display::NodePrint)) result.display = text.value();
  }
  int exit_code = report(result, options.json, ValueDisplay::NodePrintUnlessUndefined,
                         options.sandbox.limits.console_bytes, options.audit ? &sandbox.value().audit_log() : nullptr);
  if (options.consume) consume_state(state_file);
  claim.release();
  return exit_code;
}

int run_inspect(const Options &options) {
  const std::string &state_file = options.operands[0];
  auto key = read_key(options);
  if (auto *error = std::get_if<UsageError>(&key)) return usage_error(error->message);
  auto state = read_state(state_file);
  if (auto *error = std::get_if<UsageError>(&state)) return usage_error(error->message);
  auto info = inspect_snapshot(std::get<std::vector<uint8_t>>(state),
                               RestoreOptions{.hmac_key = std::get<std::vector<uint8_t>>(key)});
  if (!info) return refused_state(state_file, info.error(), options);
  // Only an engine knows which guest build this binary runs; starting one runs no JavaScript. A
  // fresh sandbox (not the state's: that is not run) formats the pending calls' arguments.
  auto engine = start_engine(options);
  std::string engine_build = engine ? engine.value().info().guest_build_id : "";
  if (options.json) {
    print_inspection_json(state_file, info.value(), engine_build);
  } else {
    auto shower = engine ? Sandbox::create(engine.value(), sandbox_options(options, nullptr))
                         : Expected<Sandbox>(engine.error());
    print_inspection_text(state_file, info.value(), engine_build, shower ? &shower.value() : nullptr);
  }
  return kExitOk;
}

}  // namespace quickbox::cli
