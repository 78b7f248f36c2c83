// Sandbox::restore on a snapshot whose body is the fuzzer's input: the harness supplies what a
// fuzzer cannot guess (the header with this engine's build id and sizes, and a valid zstd frame),
// so every input reaches the body parser, the host state and the restore into an instance.
#include <cstddef>
#include <cstdint>

#include "harness.hh"

using namespace quickbox_fuzz;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  // Once, before fuzzing: this also installs wasmtime's handler for the guest's guard-page
  // faults, which libFuzzer's SIGSEGV handler then forwards to.
  engine();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::vector<uint8_t> snapshot = frame_body({data, size}, engine().info().guest_build_id);
  auto restored = Sandbox::restore(engine(), snapshot, sandbox_options(), restore_options_for(snapshot));
  if (restored) check_restored(restored.value());
  return 0;
}
