// The baked guest linked into the `quickbox` library (bytes come from embedded_guest.S).
#include "internal.hh"

extern "C" {
extern const uint8_t quickbox_guest_cwasm[], quickbox_guest_cwasm_end[];
extern const uint8_t quickbox_guest_wasm[], quickbox_guest_wasm_end[];
extern const char quickbox_guest_id[];
}

namespace quickbox {

namespace internal {
GuestImage embedded_guest() {
  return GuestImage{
      .precompiled = {quickbox_guest_cwasm, quickbox_guest_cwasm_end},
      .wasm = {quickbox_guest_wasm, quickbox_guest_wasm_end},
      .build_id = quickbox_guest_id,
  };
}
}  // namespace internal

// Defined here, not in engine.cc, so that quickbox_core (which the bake tool links) does not
// depend on the embedded guest.
Expected<Engine> Engine::create(const EngineOptions &options) {
  Expected<Engine> engine = internal::create_engine(options, internal::embedded_guest());
  if (engine) internal::prefault_slots(engine.value());
  return engine;
}

}  // namespace quickbox
