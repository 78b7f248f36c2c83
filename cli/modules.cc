// ES modules for `quickbox run FILE`: imports load files beneath the entry file's directory and
// nowhere else. Specifiers are checked as paths first (relative only, never climbing out), and the
// file is then opened with openat2 RESOLVE_BENEATH, so a symbolic link leading out is refused by
// the kernel however the directory changes meanwhile.
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "cli.hh"

namespace quickbox::cli {

namespace fs = std::filesystem;

namespace {

constexpr const char *kWho = "the entry file";

/// The module name `specifier` means when imported by `base`: a path relative to the entry
/// file's directory.
std::string resolve(const std::string &entry_name, std::string_view base, std::string_view specifier) {
  std::string spec(specifier);
  if (spec.starts_with("/"))
    throw CapabilityError(in_quotes(spec) + " is an absolute path; imports name files relative to the importing module");
  if (!spec.starts_with("./") && !spec.starts_with("../"))
    throw CapabilityError("cannot import " + in_quotes(spec) +
                          ": only relative paths such as './lib.mjs' are loaded, from the entry file's directory");
  fs::path dir = base == entry_name ? fs::path() : fs::path(std::string(base)).parent_path();
  fs::path joined = (dir / spec).lexically_normal();
  if (joined.empty() || joined == "." || *joined.begin() == "..")
    throw CapabilityError(in_quotes(spec) + " imported by " + in_quotes(base) +
                          " leads outside the entry file's directory");
  return joined.generic_string();
}

std::string load(const fs::path &root, const std::string &name, uint64_t max_bytes) {
  FileDescriptor file = open_inside(root, name, kWho);
  struct stat info;
  if (fstat(file.fd, &info) != 0) throw CapabilityError("cannot open " + in_quotes(name) + ": " + std::strerror(errno));
  if (!S_ISREG(info.st_mode)) throw CapabilityError("cannot import " + in_quotes(name) + ": it is " + not_regular(info.st_mode));
  // One byte over the limit is enough for the sandbox to name the module source limit.
  uint64_t cap = max_bytes + 1;
  if (static_cast<uint64_t>(info.st_size) > cap) return std::string(cap, ' ');
  return read_bounded(file.fd, cap, name, kWho);
}

bool starts_statement(std::string_view line, std::string_view keyword) {
  if (!line.starts_with(keyword)) return false;
  if (line.size() == keyword.size()) return false;
  char next = line[keyword.size()];
  // `import(` and `import.meta` are expressions, fine in scripts
  return next == ' ' || next == '\t' || next == '{' || next == '*' || next == '\'' || next == '"';
}

}  // namespace

ModuleLoader file_module_loader(const fs::path &entry_file, const std::string &entry_name, uint64_t max_bytes) {
  fs::path root = fs::absolute(entry_file).parent_path();
  ModuleLoader loader;
  loader.normalize = [entry_name](std::string_view base, std::string_view specifier) -> std::optional<std::string> {
    return resolve(entry_name, base, specifier);
  };
  loader.load = [root, max_bytes](std::string_view name) -> std::optional<std::string> {
    return load(root, std::string(name), max_bytes);
  };
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
