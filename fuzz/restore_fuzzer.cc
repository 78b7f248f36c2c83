// Sandbox::restore on arbitrary bytes with a real engine: everything inspect_snapshot checks,
// plus the build id, the memory size against the sandbox's limit, the chunk XOR into a fresh
// instance, the stack pointer, and re-configuring the guest in the restored memory.
#include <cstddef>
#include <cstdint>

#include "harness.hh"
#include "snapshot_mutator.hh"

using namespace quickbox_fuzz;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  // Once, before fuzzing: this also installs wasmtime's handler for the guest's guard-page
  // faults, which libFuzzer's SIGSEGV handler then forwards to.
  engine();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto restored = Sandbox::restore(engine(), bytes, sandbox_options(), restore_options_for(bytes));
  if (restored) check_restored(restored.value());
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  return mutate_snapshot(data, size, max_size, seed);
}
