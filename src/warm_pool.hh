// Which free slots of the engine's pool keep their memory resident (EngineOptions::warm_sandboxes).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace quickbox::internal {

/// How much of a slot's linear memory wasmtime resets in place when the slot is reused
/// (linear_memory_keep_resident), rather than mapping it anew.
inline constexpr size_t kKeepResidentBytes = size_t{2} << 20;

/// wasmtime hands a new sandbox the most recently freed slot of the module first, and keeps that
/// preference for its warm_sandboxes most recently freed slots (max_unused_warm_slots), but never
/// drops a free slot's resident memory itself. This mirrors that list: a slot freed joins it, a
/// slot taken leaves it, and the least recently freed slot beyond warm_sandboxes has its pages
/// dropped, so that the memory kept is the memory the next sandboxes will find (after a burst,
/// deciding at close time kept the first slots closed, which wasmtime then handed out last).
/// Thread-safe; a slot is named by the address of its linear memory, which the pool fixes.
class WarmPool {
 public:
  explicit WarmPool(size_t capacity) : capacity_(capacity) {}

  /// Held while a sandbox is instantiated and until taken(): no slot's pages are dropped
  /// meanwhile, so none can be dropped under a sandbox that was just handed its slot.
  [[nodiscard]] std::shared_lock<std::shared_mutex> hold_slots() { return std::shared_lock(slots_); }
  /// The slot whose memory starts at `base` now runs a sandbox. Called with hold_slots() held.
  void taken(const uint8_t *base);
  /// Frees the slot whose memory starts at `base` and spans `size` bytes: free_slot() does (it
  /// deletes the store), and the slot joins the list; then drops the pages of the slots beyond
  /// the capacity (all `size` bytes: wasmtime's reset keeps what the sandbox wrote resident).
  void release(uint8_t *base, size_t size, const std::function<void()> &free_slot);

 private:
  const size_t capacity_;
  std::shared_mutex slots_;  // shared: instantiating or freeing; exclusive: dropping pages
  std::mutex list_mutex_;
  struct Slot {
    uint8_t *base;
    size_t size;
  };
  std::list<Slot> free_;  // least recently freed first
  std::unordered_map<const uint8_t *, std::list<Slot>::iterator> where_;
  /// Takes the slot at `base` off the list, if it is there. Called with list_mutex_ held.
  void unlist(const uint8_t *base);
};

}  // namespace quickbox::internal
