// The guest module can reach nothing but what quickbox implements: its import list is checked
// against the contract's allow-list, for both the raw module and the baked base image.
#include <gtest/gtest.h>
#include <wasmtime.h>

#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "internal.hh"
#include "quickbox_abi.h"

namespace {

std::set<std::string> allowed_imports() {
  std::set<std::string> allowed = {std::string(QB_IMPORT_MODULE) + "." + QB_IMPORT_INTERRUPT_CHECK,
                                   std::string(QB_IMPORT_MODULE) + "." + QB_IMPORT_HOST_CALL,
                                   std::string(QB_IMPORT_MODULE) + "." + QB_IMPORT_HOST_TAKE,
                                   std::string(QB_IMPORT_MODULE) + "." + QB_IMPORT_NATIVE_STACK_LEFT,
                                   std::string(QB_IMPORT_MODULE) + "." + QB_IMPORT_CONSOLE_LINE};
#define X(name) allowed.insert(std::string(QB_WASI_MODULE) + "." #name);
  QB_WASI_ALLOWED_IMPORTS
#undef X
  return allowed;
}

std::vector<std::string> imports_of(std::span<const uint8_t> wasm) {
  wasm_engine_t *engine = wasm_engine_new();
  wasmtime_module_t *module = nullptr;
  wasmtime_error_t *error = wasmtime_module_new(engine, wasm.data(), wasm.size(), &module);
  EXPECT_EQ(error, nullptr) << quickbox::internal::take_error(error);
  std::vector<std::string> names;
  if (module) {
    wasm_importtype_vec_t imports;
    wasmtime_module_imports(module, &imports);
    for (size_t i = 0; i < imports.size; i++) {
      const wasm_name_t *m = wasm_importtype_module(imports.data[i]);
      const wasm_name_t *n = wasm_importtype_name(imports.data[i]);
      names.push_back(std::string(m->data, m->size) + "." + std::string(n->data, n->size));
    }
    wasm_importtype_vec_delete(&imports);
    wasmtime_module_delete(module);
  }
  wasm_engine_delete(engine);
  return names;
}

std::vector<uint8_t> read_file(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(GuestImports, RawModuleImportsOnlyWhatQuickboxImplements) {
  auto wasm = read_file(QUICKBOX_GUEST_WASM);
  ASSERT_FALSE(wasm.empty()) << "missing " << QUICKBOX_GUEST_WASM;
  auto allowed = allowed_imports();
  auto imports = imports_of(wasm);
  ASSERT_FALSE(imports.empty());
  for (const auto &name : imports) EXPECT_TRUE(allowed.count(name)) << "unexpected import " << name;
}

TEST(GuestImports, EmbeddedBaseImageImportsOnlyWhatQuickboxImplements) {
  auto guest = quickbox::internal::embedded_guest();
  auto allowed = allowed_imports();
  auto imports = imports_of(guest.wasm);
  ASSERT_FALSE(imports.empty());
  for (const auto &name : imports) EXPECT_TRUE(allowed.count(name)) << "unexpected import " << name;
}

TEST(GuestImports, AllowListRejectsAnythingElse) {
  // The check above must be able to fail: a module importing a WASI file function is refused.
  auto allowed = allowed_imports();
  EXPECT_FALSE(allowed.count("wasi_snapshot_preview1.path_open"));
  EXPECT_FALSE(allowed.count("wasi_snapshot_preview1.sock_accept"));
  EXPECT_FALSE(allowed.count("wasi_snapshot_preview1.environ_get"));
  EXPECT_FALSE(allowed.count("wasi_snapshot_preview1.args_get"));
}

TEST(GuestImports, BuildIdIsTheSha256OfTheEmbeddedModule) {
  auto guest = quickbox::internal::embedded_guest();
  EXPECT_EQ(std::string(guest.build_id), quickbox::internal::sha256_hex(guest.wasm));
  EXPECT_EQ(guest.build_id.size(), 64u);
}

}  // namespace
