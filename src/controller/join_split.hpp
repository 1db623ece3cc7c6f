#pragma once
// The split of the arrivals when an agent joins a running test (add-agent; agent_pool.cpp).

namespace loadctl::controller {

/// `share`: the new agent's part of its planned rate (its plan is the run's whole schedule);
/// `others_keep`: the factor of each other agent's share.
struct JoinSplit {
  double part = 1, others_keep = 0, share = 1;
};

/// The new agent takes 1/(n+1) of what the n agents starting users run now (`others_planned`,
/// the sum of their shares of their planned rates; after a lost agent, less than the run's plan:
/// the total stays what it was), each of them keeping n/(n+1) of its share. `new_phase_rate`:
/// the new agent's planned rate now (the current phase's).
inline JoinSplit split_for_join(double others_planned, double new_phase_rate, unsigned others) {
  JoinSplit split;
  split.part = 1.0 / (others + 1);
  split.others_keep = 1 - split.part;
  split.share = new_phase_rate > 0 ? split.part * others_planned / new_phase_rate : split.part;
  return split;
}

}  // namespace loadctl::controller
