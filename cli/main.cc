// The `quickbox` command line: eval, run, resume, inspect and repl on top of the Quickbox library.
// `quickbox help` describes the commands; `quickbox help COMMAND` a command's flags and exit codes.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <csignal>
#include <cstring>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "cli.hh"

namespace quickbox::cli {

int usage_error(const std::string &message) {
  std::cerr << "quickbox: " << message << "\nRun 'quickbox --help' for usage.\n";
  return kExitUsage;
}

namespace {

/// Up to max_bytes of a stream, or an error naming `name` when it holds more. Reading stops at
/// max_bytes + 1, so an endless source (/dev/zero, a pipe that never closes its end) costs no
/// more memory than the limit.
std::variant<std::string, UsageError> read_bounded(std::FILE *file, const std::string &name, uint64_t max_bytes,
                                                   std::string_view limit_name) {
  std::string contents;
  char chunk[1 << 16];
  for (;;) {
    uint64_t room = max_bytes + 1 - contents.size();
    size_t n = std::fread(chunk, 1, static_cast<size_t>(std::min<uint64_t>(sizeof chunk, room)), file);
    if (n == 0) break;
    contents.append(chunk, n);
    if (contents.size() > max_bytes)
      return UsageError{name + " is larger than the " + std::string(limit_name) + " of " +
                        std::to_string(max_bytes) + " bytes"};
  }
  // fopen succeeds on a directory; the read is what fails (EISDIR).
  if (std::ferror(file)) return UsageError{"cannot read " + name + ": " + std::strerror(errno)};
  return contents;
}

}  // namespace

std::variant<std::string, UsageError> read_file(const std::string &path, uint64_t max_bytes) {
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) return UsageError{"cannot open '" + path + "': " + std::strerror(errno)};
  return read_bounded(file.get(), "'" + path + "'", max_bytes, "limit for files quickbox reads");
}

namespace {

/// A program to evaluate and the name its stack traces use.
struct Program {
  std::string source;
  std::string filename;
};

/// The file's bytes (or stdin's for "-"), at most the source limit, or a message saying why they
/// could not be read.
std::variant<Program, UsageError> read_program(const std::string &path, uint64_t max_bytes) {
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> file(
      path == "-" ? stdin : std::fopen(path.c_str(), "rb"), [](std::FILE *f) { return f == stdin ? 0 : std::fclose(f); });
  if (!file) return UsageError{"cannot open '" + path + "': " + std::strerror(errno)};
  std::string name = path == "-" ? "the program on stdin" : "'" + path + "'";
  auto source = read_bounded(file.get(), name, max_bytes, "source limit");
  if (auto *error = std::get_if<UsageError>(&source)) return *error;
  return Program{std::get<std::string>(std::move(source)), path == "-" ? "<stdin>" : path};
}

}  // namespace

/// An Engine sized for one CLI process: a pool of two slots (the repl may need a fresh instance
/// while the discarded one is still being released), each no larger than the memory asked for
/// needs. A sandbox may use at most half of the engine's per-sandbox cap, which must lie
/// between 16M and 4G.
Expected<Engine> start_engine(const Options &options) {
  EngineOptions engine_options;
  engine_options.max_sandboxes = 2;
  engine_options.prefaulted_sandboxes = 0;  // one sandbox per process: nothing to gain
  engine_options.max_sandbox_memory_bytes =
      std::clamp(2 * options.sandbox.limits.memory_bytes, uint64_t{16} << 20, uint64_t{4} << 30);
  return Engine::create(engine_options);
}

/// Explains a failure to start. Limits the library refuses are usage errors, like bad flags (the
/// command line checks what it can, but e.g. the largest stack depends on how the guest was built).
int setup_failure(const Error &error, const Options &options) {
  if (error.kind != ErrorKind::InvalidInput) return report_setup_error(error, options.json);
  if (!error.setting) return usage_error("the sandbox refused its settings: " + error.message);
  return usage_error(in_cli_words(error));
}

namespace {
std::string_view cli_name(Setting setting) {
  switch (setting) {
    case Setting::MemoryBytes: return "--memory";
    case Setting::CpuTime: return "--timeout";
    case Setting::StackBytes: return "--stack";
    case Setting::ClockStartMs: return "--clock";
    case Setting::HmacKey: return "--key-file FILE";
    case Setting::AllowAllThreeLabels: return "\"allow_all_three_labels\": true in the manifest";
    default: return {};  // not offered by the command line
  }
}
}  // namespace

std::string in_cli_words(const Error &error) {
  std::string_view name = error.setting ? cli_name(*error.setting) : std::string_view();
  return name.empty() ? error.message : error.message_naming(name);
}

SandboxOptions sandbox_options(const Options &options, const Manifest *manifest) {
  SandboxOptions sandbox = options.sandbox;
  if (manifest) apply_manifest(*manifest, sandbox);
  if (!options.allow_net.empty()) {
    if (!sandbox.network) sandbox.network = NetworkPolicy{};
    sandbox.network->allow.insert(sandbox.network->allow.end(), options.allow_net.begin(), options.allow_net.end());
  }
  return sandbox;
}

namespace {

int print_version(const Options &options) {
  auto engine = start_engine(options);
  if (!engine) {
    std::cerr << "quickbox " QUICKBOX_VERSION "\nquickbox: cannot start the engine: "
              << engine.error().to_string() << '\n';
    return exit_code_for(engine.error().kind);
  }
  const EngineInfo &info = engine.value().info();
  std::cout << "quickbox " QUICKBOX_VERSION "\n"
            << "quickjs-ng " << info.quickjs_version << "\n"
            << "wasmtime " << info.wasmtime_version << "\n"
            << "guest build id " << info.guest_build_id << "\n";
  return kExitOk;
}

/// The program that eval or run evaluates, or an exit code when it cannot be had.
std::variant<Program, int> program_for(const Options &options) {
  if (options.command == Command::Eval) return Program{options.operands[0], "<eval>"};
  auto read = read_program(options.operands[0], options.sandbox.limits.source_bytes);
  if (auto *error = std::get_if<UsageError>(&read)) return usage_error(error->message);
  return std::get<Program>(std::move(read));
}

/// What eval and run need besides the program, read before anything runs.
struct Inputs {
  Program program;
  std::optional<Manifest> manifest;
  std::vector<uint8_t> key;
};

std::variant<Inputs, int> read_inputs(const Options &options) {
  Inputs inputs;
  if (options.command != Command::Repl) {
    auto program = program_for(options);
    if (auto *exit_code = std::get_if<int>(&program)) return *exit_code;
    inputs.program = std::get<Program>(std::move(program));
  }
  if (options.caps_file) {
    auto manifest = load_manifest(*options.caps_file);
    if (auto *error = std::get_if<UsageError>(&manifest)) return usage_error(error->message);
    inputs.manifest = std::get<Manifest>(std::move(manifest));
  }
  auto key = read_key(options);
  if (auto *error = std::get_if<UsageError>(&key)) return usage_error(error->message);
  inputs.key = std::get<std::vector<uint8_t>>(std::move(key));
  if (auto error = check_suspend_destination(options)) return usage_error(error->message);
  if (auto error = check_modules_dir(options)) return usage_error(error->message);
  return inputs;
}

/// Whether `run` evaluates its file as an ES module: --module or .mjs, or a file with import or
/// export statements that does not parse as a script.
bool runs_as_module(Sandbox &sandbox, const Inputs &inputs, const Options &options) {
  if (options.module) return true;
  if (options.command != Command::Run || !has_module_syntax(inputs.program.source)) return false;
  EvalOptions parse;
  parse.parse_only = true;
  parse.filename = inputs.program.filename;
  Result parsed = sandbox.eval(inputs.program.source, parse);
  return parsed.failed() && parsed.error().name == "SyntaxError";
}

int evaluate(Sandbox &sandbox, const Inputs &inputs, const Options &options) {
  EvalOptions eval_options;
  eval_options.kind = runs_as_module(sandbox, inputs, options) ? EvalOptions::Kind::Module : EvalOptions::Kind::Auto;
  eval_options.filename = inputs.program.filename;
  eval_options.language = options.language;
  // Text output prints any value as node -p would (functions and Maps too); --json keeps data only.
  if (!options.json) eval_options.display = EvalOptions::Display::NodePrint;
  Result result = sandbox.eval(inputs.program.source, eval_options);
  if (result.is_suspended()) return suspend(sandbox, result, options, std::nullopt, inputs.key);
  ValueDisplay display = options.command == Command::Eval ? ValueDisplay::NodePrint
                                                          : ValueDisplay::NodePrintUnlessUndefined;
  return report(result, options.json, display, options.sandbox.limits.console_bytes,
                options.audit ? &sandbox.audit_log() : nullptr);
}

int run_command(const Options &options) {
  // Read every input first: a missing file should not wait for the engine to start.
  auto inputs = read_inputs(options);
  if (auto *exit_code = std::get_if<int>(&inputs)) return *exit_code;
  const Inputs &in = std::get<Inputs>(inputs);
  const Manifest *manifest = in.manifest ? &*in.manifest : nullptr;
  auto engine = start_engine(options);
  if (!engine) return setup_failure(engine.error(), options);
  SandboxOptions sandbox_settings = sandbox_options(options, manifest);
  // `run FILE` imports files beneath FILE's directory (cli/modules.cc); code from eval, stdin or the
  // REPL has no directory of its own, so it imports only from the one --modules-dir grants.
  uint64_t source_limit = sandbox_settings.limits.module_source_bytes;
  if (options.modules_dir)
    sandbox_settings.modules = directory_module_loader(
        *options.modules_dir, source_limit,
        ModuleDirectory{.place = "the --modules-dir directory " + in_quotes(*options.modules_dir),
                        .owner = "--modules-dir"});
  else if (options.command == Command::Run && options.operands[0] != "-")
    sandbox_settings.modules = file_module_loader(options.operands[0], source_limit);
  else
    sandbox_settings.modules = refusing_module_loader(
        "code from eval, stdin or the REPL has no directory to import from; pass --modules-dir DIR to "
        "import the files beneath DIR");
  auto sandbox = Sandbox::create(engine.value(), sandbox_settings);
  if (!sandbox) return setup_failure(sandbox.error(), options);
  if (manifest) {
    if (auto error = register_capabilities(sandbox.value(), *manifest)) return usage_error(error->message);
  }
  if (options.command == Command::Repl) return run_repl(sandbox.value(), options);
  return evaluate(sandbox.value(), in, options);
}

}  // namespace

// Whether everything printed reached stdout. A full disk or a closed pipe would otherwise lose the
// result with exit 0 (or, for a pipe, kill quickbox half-way through a resume, leaving its state
// claimed): the command runs to its end and then says the output is incomplete.
int with_output_checked(int code) {
  errno = 0;
  std::cout.flush();
  bool failed = std::fflush(stdout) != 0 || std::ferror(stdout) || std::cout.fail();
  if (!failed) return code;
  int error = errno;
  std::cerr << "quickbox: could not write to stdout"
            << (error ? std::string(" (") + std::strerror(error) + ")" : std::string())
            << ": what it printed is incomplete";
  if (code != kExitOk) std::cerr << "; the command itself ended with exit code " << code;
  std::cerr << '\n';
  return kExitOutput;
}

int run(int argc, char **argv) {
  show_controls_on_terminals();
  auto parsed = parse_command_line(argc, argv);
  if (auto *error = std::get_if<UsageError>(&parsed)) return usage_error(error->message);
  Options &options = std::get<Options>(parsed);
  // In text mode lines show as the program prints them; --json collects them into its envelope.
  if (!options.json) options.sandbox.on_console = print_console_line;
  if (options.command == Command::Version) return print_version(options);
  if (!options.help_topic.empty()) {
    std::cout << topic_text(options.help_topic);
    return kExitOk;
  }
  if (options.help || options.command == Command::Help) {
    std::cout << help_text(options.command);
    return kExitOk;
  }
  if (options.command == Command::Resume) return run_resume(options);
  if (options.command == Command::Inspect) return run_inspect(options);
  return run_command(options);
}

int main(int argc, char **argv) {
  std::signal(SIGPIPE, SIG_IGN);  // a closed pipe is a write error, reported at the end
  return with_output_checked(run(argc, argv));
}

}  // namespace quickbox::cli

int main(int argc, char **argv) { return quickbox::cli::main(argc, argv); }
