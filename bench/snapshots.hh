/// \file snapshots.hh
/// \brief Workloads of whole-VM snapshots: capture, restore and fork for sandboxes in a few
/// states (fresh, one function defined, a few variables set, a 1 MB array built), and the sizes
/// of their snapshots.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "workload.hh"

namespace bench {

/// Owns the sandboxes and snapshots its workloads use: keep it alive, in place, for as long as
/// they run.
class SnapshotBench {
 public:
  explicit SnapshotBench(const quickbox::Engine &engine);
  ~SnapshotBench();
  SnapshotBench(const SnapshotBench &) = delete;
  SnapshotBench &operator=(const SnapshotBench &) = delete;

  /// The name under which sizes() prints.
  static const std::string kSizes;
  /// Prints the size of each state's snapshot (and how much memory it holds); returns the same
  /// as JSON.
  quickbox::Value sizes() const;

  std::vector<Workload> workloads();

  /// The name under which phases() prints.
  static const std::string kPhases;
  /// Splits the few-variables capture and restore into phases by comparing public API variants:
  /// the rows' outcomes (`outcome` answers by row name, nullptr for a row that did not run) and a
  /// timing of Sandbox::create taken here. Prints them and returns them as JSON; prints nothing
  /// and returns null when a row it needs did not run.
  quickbox::Value phases(const std::function<const Outcome *(const std::string &)> &outcome,
                         const Plan &plan) const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bench
