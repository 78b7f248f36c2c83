// The resident set size of this process, as the kernel reports it.
#pragma once

#include <cstdint>

namespace quickbox::soak {

/// Current RSS in bytes (/proc/self/statm), or 0 if it cannot be read.
uint64_t current_rss_bytes();

}  // namespace quickbox::soak
