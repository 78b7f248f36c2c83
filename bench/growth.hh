/// \file growth.hh
/// \brief How sandbox costs grow with the live data it holds: create (a sandbox restored with that
/// data), eval, snapshot capture and restore, at 1 KB, 1 MB and 32 MB.
#pragma once

#include "harness.hh"
#include "quickbox/quickbox.hh"

namespace bench {

/// Prints one line per size and returns the figures as JSON. Medians of a few runs each (a 32 MB
/// snapshot takes tens of milliseconds, so the full harness would take minutes).
quickbox::Value growth(const quickbox::Engine &engine, bool quick);

/// The name --filter matches.
inline const char *const kGrowth = "growth with live data";

}  // namespace bench
