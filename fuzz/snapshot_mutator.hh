// libFuzzer custom mutator for the targets that take whole snapshots. Flipping bits in a zstd
// frame that carries a checksum (and, for signed snapshots, a MAC) almost never yields a frame
// the reader accepts, so half of the mutations go to the body inside instead: decompress it,
// mutate it with libFuzzer's own mutators, and put it back in a valid frame under the input's
// header (re-signed with the fixed key when the header says signed). The other half mutate the
// bytes as they are, for the header, the sizes and the frame itself.
#pragma once

#include "harness.hh"

extern "C" size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

namespace quickbox_fuzz {

inline size_t mutate_snapshot(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  std::span<const uint8_t> input(data, size);
  std::optional<std::vector<uint8_t>> body = seed % 2 ? body_of(input, 16u << 20) : std::nullopt;
  if (!body) return LLVMFuzzerMutate(data, size, max_size);
  const size_t original = body->size();
  body->resize(original + 4096);  // room for insertions
  body->resize(LLVMFuzzerMutate(body->data(), original, body->size()));
  std::vector<uint8_t> mutated = frame_body(*body, input.first<kBodySizeOffset>());
  if (mutated.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, mutated.data(), mutated.size());
  return mutated.size();
}

}  // namespace quickbox_fuzz
