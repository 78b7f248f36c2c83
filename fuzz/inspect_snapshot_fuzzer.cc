// quickbox::inspect_snapshot on arbitrary bytes: the whole reader (header, sizes, MAC, zstd,
// memory chunk table, globals, CBOR host state) short of the build id, which needs an engine.
#include <cstddef>
#include <cstdint>

#include "harness.hh"
#include "snapshot_mutator.hh"

using namespace quickbox_fuzz;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
  auto info = inspect_snapshot(bytes, restore_options_for(bytes));
  if (!info) {
    if (info.error().kind != ErrorKind::InvalidInput)
      invariant_failed("a bad snapshot failed as " + std::string(to_string(info.error().kind)) +
                       ", not InvalidInput: " + info.error().message);
    return 0;
  }
  const SnapshotInfo &i = info.value();
  if (i.total_bytes != size) invariant_failed("total_bytes is not the input's size");
  if (i.changed_bytes > i.memory_bytes) invariant_failed("more changed memory than memory");
  if (!i.pending.empty() && i.capabilities.empty()) invariant_failed("pending calls without capabilities");
  return 0;
}

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  return mutate_snapshot(data, size, max_size, seed);
}
