/// \file host_calls.hh
/// \brief Workloads of capability calls: a sync capability's round trip from JS, and 100 async
/// calls fanned out with Promise.all, settled on the calling thread or from a worker thread.
#pragma once

#include <memory>
#include <vector>

#include "workload.hh"

namespace bench {

/// Owns the sandboxes and the worker thread its workloads use: keep it alive, in place, for as
/// long as they run.
class HostCallBench {
 public:
  explicit HostCallBench(const quickbox::Engine &engine);
  ~HostCallBench();
  HostCallBench(const HostCallBench &) = delete;
  HostCallBench &operator=(const HostCallBench &) = delete;

  std::vector<Workload> workloads();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bench
