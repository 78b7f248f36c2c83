// Reads RSS from /proc/self/statm: its second field is resident pages.
#include "rss.hh"

#include <unistd.h>

#include <fstream>

namespace quickbox::soak {

uint64_t current_rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0, resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return 0;
  return resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace quickbox::soak
