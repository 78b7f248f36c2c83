// ES modules for `quickbox run FILE`, and for `--modules-dir DIR` (eval, run -, repl and resume):
// imports load files beneath one directory (the entry file's, or DIR) and nowhere else. Specifiers
// are checked as paths first (relative only, never climbing out), and the file is then opened with
// openat2 RESOLVE_BENEATH, so a symbolic link leading out is refused by the kernel however the
// directory changes meanwhile.
// TypeScript modules (.ts, .mts, .tsx) have their types stripped as they load.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli.hh"

namespace quickbox::cli {

namespace fs = std::filesystem;

namespace {

/// The directory as module names spell it: lexically normal, "" for the current directory.
fs::path spelled(const fs::path &directory) {
  fs::path normal = directory.lexically_normal();
  return normal == "." ? fs::path() : normal;
}

/// `name` relative to `prefix` when it lies beneath it, else nothing.
std::optional<fs::path> beneath(const fs::path &prefix, const fs::path &name) {
  fs::path relative = prefix.empty() ? name : name.lexically_relative(prefix);
  if (relative.empty() || relative == "." || relative.is_absolute() || *relative.begin() == "..") return std::nullopt;
  return relative;
}

/// The module name `specifier` means when imported by `base`. Names are paths spelled from the
/// prefix the entry file was named with ("app/main.mjs" imports './lib.mjs' as "app/lib.mjs"), so
/// one rule resolves every import, the entry's included, and a resumed program's modules keep the
/// names they were loaded under.
std::string resolve(const fs::path &prefix, const ModuleDirectory &names, std::string_view base,
                    std::string_view specifier) {
  std::string spec(specifier);
  if (spec.starts_with("/"))
    throw CapabilityError(in_quotes(spec) + " is an absolute path; imports name files relative to the importing module");
  if (!spec.starts_with("./") && !spec.starts_with("../"))
    throw CapabilityError("cannot import " + in_quotes(spec) +
                          ": only relative paths such as './lib.mjs' are loaded, from " + names.place);
  // Code without a file of its own ("<eval>", "<stdin>", "<repl>") stands at the top of the directory.
  fs::path from = fs::path(std::string(base)).parent_path().lexically_normal();
  if (from.empty()) from = prefix;
  if (!prefix.empty() && from != prefix && !beneath(prefix, from))
    // Only a resume meets this: its --modules-dir is not spelled as the entry file's directory was.
    throw CapabilityError("cannot import " + in_quotes(spec) + " from " + in_quotes(base) + ": that module is not in " +
                          in_quotes(prefix.generic_string()) +
                          "; resume with the --modules-dir that run printed (the entry file's directory, "
                          "spelled the same way, from the same directory)");
  fs::path joined = (from / spec).lexically_normal();
  if (!beneath(prefix, joined))
    throw CapabilityError(in_quotes(spec) + " imported by " + in_quotes(base) + " leads outside " + names.place);
  return joined.generic_string();
}

/// The JavaScript of a module file: TypeScript ones have their types stripped, as `run` strips
/// the entry file's.
std::string as_javascript(std::string source, const std::string &name) {
  std::optional<SourceLanguage> language;
  if (name.ends_with(".ts") || name.ends_with(".mts")) language = SourceLanguage::TypeScript;
  if (name.ends_with(".tsx")) language = SourceLanguage::TSX;
  if (!language) return source;
  auto stripped = transform_source(source, TransformOptions{.language = *language, .module = true, .filename = name});
  if (stripped) return std::move(stripped.value());
  const Error &error = stripped.error();
  // A SyntaxError keeps its name and its position in the TypeScript; a source too large to
  // transform says so.
  if (error.kind != ErrorKind::JSException) throw CapabilityError("cannot import " + in_quotes(name) + ": " + error.message);
  std::string_view where = error.stack;  // "    at lib.ts:2:8"
  where.remove_prefix(std::min(where.find_first_not_of(' '), where.size()));
  if (where.starts_with("at ")) where.remove_prefix(3);
  where = where.substr(0, where.find('\n'));
  throw CapabilityError(error.message + " (" + std::string(where.empty() ? std::string_view(name) : where) + ")",
                        error.name.empty() ? "SyntaxError" : error.name);
}

std::string load(const fs::path &root, const fs::path &prefix, const ModuleDirectory &names, const std::string &name,
                 uint64_t max_bytes) {
  auto relative = beneath(prefix, fs::path(name));
  if (!relative) throw CapabilityError("cannot import " + in_quotes(name) + ": it is outside " + names.place);
  std::string file_name = relative->generic_string();
  FileDescriptor file = open_inside(root, file_name, names.owner);
  struct stat info;
  if (fstat(file.fd, &info) != 0) throw CapabilityError("cannot open " + in_quotes(file_name) + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw CapabilityError("cannot import " + in_quotes(file_name) + ": it is " + not_regular(info.st_mode));
  // One byte over the limit is enough for the sandbox to name the module source limit.
  uint64_t cap = max_bytes + 1;
  if (static_cast<uint64_t>(info.st_size) > cap) return std::string(cap, ' ');
  return as_javascript(read_bounded(file.fd, cap, file_name, names.owner), name);
}

bool starts_statement(std::string_view line, std::string_view keyword) {
  if (!line.starts_with(keyword)) return false;
  if (line.size() == keyword.size()) return false;
  char next = line[keyword.size()];
  // `import(` and `import.meta` are expressions, fine in scripts
  return next == ' ' || next == '\t' || next == '{' || next == '*' || next == '\'' || next == '"';
}

}  // namespace

ModuleLoader directory_module_loader(const fs::path &directory, uint64_t max_bytes, ModuleDirectory names) {
  fs::path root = fs::absolute(directory);
  fs::path prefix = spelled(directory);
  ModuleLoader loader;
  loader.normalize = [prefix, names](std::string_view base, std::string_view specifier) -> std::optional<std::string> {
    return resolve(prefix, names, base, specifier);
  };
  loader.load = [root, prefix, names, max_bytes](std::string_view name) -> std::optional<std::string> {
    return load(root, prefix, names, std::string(name), max_bytes);
  };
  return loader;
}

ModuleLoader file_module_loader(const fs::path &entry_file, uint64_t max_bytes) {
  return directory_module_loader(entry_directory(entry_file), max_bytes, ModuleDirectory{});
}

fs::path entry_directory(const fs::path &entry_file) {
  fs::path directory = spelled(entry_file.parent_path());
  return directory.empty() ? fs::path(".") : directory;
}

std::optional<UsageError> check_modules_dir(const Options &options) {
  std::error_code error;
  if (options.modules_dir && !fs::is_directory(*options.modules_dir, error))
    return UsageError{"--modules-dir: '" + *options.modules_dir + "' is not a directory"};
  return std::nullopt;
}

ModuleLoader refusing_module_loader(std::string why) {
  auto refuse = [why = std::move(why)](std::string_view specifier) {
    return CapabilityError("cannot import " + in_quotes(specifier) + ": " + why);
  };
  ModuleLoader loader;
  loader.normalize = [refuse](std::string_view, std::string_view specifier) -> std::optional<std::string> {
    throw refuse(specifier);
  };
  // Never reached (normalize refuses first), but a loader without `load` counts as none at all.
  loader.load = [refuse](std::string_view name) -> std::optional<std::string> { throw refuse(name); };
  return loader;
}

bool has_module_syntax(std::string_view source) {
  size_t start = 0;
  while (start < source.size()) {
    size_t end = source.find('\n', start);
    std::string_view line = source.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    size_t indent = line.find_first_not_of(" \t\r");
    if (indent != std::string_view::npos) {
      line.remove_prefix(indent);
      if (starts_statement(line, "import") || starts_statement(line, "export")) return true;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return false;
}

}  // namespace quickbox::cli
