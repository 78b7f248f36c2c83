// The C++ library's own figures, timed inside the Python process (library_timer.cc).
#pragma once

#include <nanobind/nanobind.h>

#include "quickbox/engine.hh"

namespace quickbox_python {

/// Adds `_LibraryTimer` to the module: bench/compare_peers.py holds the Python package's eval and
/// sync call to at most 1.5x and 2x the library's, and times the library with it, interleaved
/// with the Python samples in the same process. `engine` gives the process's engine.
void define_library_timer(nanobind::module_ &module, quickbox::Engine &(*engine)());

}  // namespace quickbox_python
