// The warm pool's bookkeeping (warm_pool.hh).
#include "warm_pool.hh"

#include <sys/mman.h>

namespace quickbox::internal {

void WarmPool::unlist(const uint8_t *base) {
  if (auto it = where_.find(base); it != where_.end()) {
    free_.erase(it->second);
    where_.erase(it);
  }
}

void WarmPool::taken(const uint8_t *base) {
  std::lock_guard lock(list_mutex_);
  unlist(base);
}

void WarmPool::release(uint8_t *base, size_t size, const std::function<void()> &free_slot) {
  bool over = false;
  {
    // Listed before it is freed: a sandbox can only be handed the slot afterwards, and its
    // taken() then finds it listed.
    std::shared_lock hold(slots_);
    {
      std::lock_guard lock(list_mutex_);
      unlist(base);
      where_[base] = free_.insert(free_.end(), Slot{base, size});
      over = free_.size() > capacity_;
    }
    free_slot();
  }
  if (!over) return;
  std::unique_lock exclusive(slots_);
  std::lock_guard lock(list_mutex_);
  while (free_.size() > capacity_) {
    // The slot is free and reset: dropping its pages leaves what the reset left, the base
    // image's copy-on-write pages falling back to the image and the rest to zeros.
    const Slot &oldest = free_.front();
    madvise(oldest.base, oldest.size, MADV_DONTNEED);
    where_.erase(oldest.base);
    free_.pop_front();
  }
}

}  // namespace quickbox::internal
