// The `quickbox` command line: eval, run and repl on top of the Quickbox library.
// `quickbox --help` describes the commands, flags and exit codes.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <string_view>
#include <variant>

#include "cli.hh"

namespace quickbox::cli {
namespace {

int usage_error(const std::string &message) {
  std::cerr << "quickbox: " << message << "\nRun 'quickbox --help' for usage.\n";
  return kExitUsage;
}

/// A program to evaluate and the name its stack traces use.
struct Program {
  std::string source;
  std::string filename;
};

/// The file's bytes (or stdin's for "-"), or a message saying why they could not be read.
std::variant<Program, std::string> read_program(const std::string &path) {
  if (path == "-") return Program{std::string(std::istreambuf_iterator<char>(std::cin), {}), "<stdin>"};
  std::unique_ptr<std::FILE, int (*)(std::FILE *)> file(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!file) return "cannot open '" + path + "': " + std::strerror(errno);
  Program program{"", path};
  char chunk[1 << 16];
  size_t n;
  while ((n = std::fread(chunk, 1, sizeof chunk, file.get())) > 0) program.source.append(chunk, n);
  // fopen succeeds on a directory; the read is what fails (EISDIR).
  if (std::ferror(file.get())) return "cannot read '" + path + "': " + std::strerror(errno);
  return program;
}

/// An Engine sized for one CLI process: a pool of two slots (the repl may need a fresh instance
/// while the discarded one is still being released), each no larger than the memory asked for
/// needs. A sandbox may use at most half of the engine's per-sandbox cap, which must lie
/// between 16M and 4G.
Expected<Engine> start_engine(const Options &options) {
  EngineOptions engine_options;
  engine_options.max_sandboxes = 2;
  engine_options.max_sandbox_memory_bytes =
      std::clamp(2 * options.sandbox.limits.memory_bytes, uint64_t{16} << 20, uint64_t{4} << 30);
  return Engine::create(engine_options);
}

/// The flag that sets the limit an InvalidInput message from Sandbox::create is about, if any.
std::string_view flag_for_refused_limit(std::string_view message) {
  struct Field {
    std::string_view name, flag;
  };
  for (Field field : {Field{"Limits::memory_bytes", "--memory"}, Field{"Limits::stack_bytes", "--stack"},
                      Field{"Limits::cpu_time", "--timeout"}}) {
    if (message.starts_with(field.name)) return field.flag;
  }
  return {};
}

/// Explains a failure to start. Limits the library refuses are usage errors, like bad flags (the
/// command line checks what it can, but e.g. the largest stack depends on how the guest was built).
int setup_failure(const Error &error, const Options &options) {
  if (error.kind != ErrorKind::InvalidInput) return report_setup_error(error, options.json);
  std::string_view flag = flag_for_refused_limit(error.message);
  if (flag.empty()) return usage_error("the sandbox refused its settings: " + error.message);
  return usage_error("invalid value for " + std::string(flag) + ": " + error.message);
}

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
  auto read = read_program(options.operands[0]);
  if (auto *message = std::get_if<std::string>(&read)) return usage_error(*message);
  return std::get<Program>(std::move(read));
}

int evaluate(Sandbox &sandbox, const Program &program, const Options &options) {
  EvalOptions eval_options;
  eval_options.kind = options.module ? EvalOptions::Kind::Module : EvalOptions::Kind::Auto;
  eval_options.filename = program.filename;
  Result result = sandbox.eval(program.source, eval_options);
  ValueDisplay display = options.command == Command::Eval ? ValueDisplay::NodePrint
                                                          : ValueDisplay::NodePrintUnlessUndefined;
  return report(result, options.json, display, options.sandbox.limits.console_bytes);
}

int run_command(const Options &options) {
  // Read the program first: a missing file should not wait for the engine to start.
  std::variant<Program, int> program = Program{};
  if (options.command != Command::Repl) {
    program = program_for(options);
    if (auto *exit_code = std::get_if<int>(&program)) return *exit_code;
  }
  auto engine = start_engine(options);
  if (!engine) return setup_failure(engine.error(), options);
  auto sandbox = Sandbox::create(engine.value(), options.sandbox);
  if (!sandbox) return setup_failure(sandbox.error(), options);
  if (options.command == Command::Repl) return run_repl(sandbox.value(), options);
  return evaluate(sandbox.value(), std::get<Program>(program), options);
}

}  // namespace

int main(int argc, char **argv) {
  auto parsed = parse_command_line(argc, argv);
  if (auto *error = std::get_if<UsageError>(&parsed)) return usage_error(error->message);
  const Options &options = std::get<Options>(parsed);
  if (options.command == Command::Version) return print_version(options);
  if (options.help || options.command == Command::Help) {
    std::cout << help_text(options.command);
    return kExitOk;
  }
  return run_command(options);
}

}  // namespace quickbox::cli

int main(int argc, char **argv) { return quickbox::cli::main(argc, argv); }
