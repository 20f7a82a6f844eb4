#pragma once
/// Restart intensity and backoff of a supervisor (OTP's MaxR / MaxT), as a plain class.

#include <chrono>
#include <deque>
#include <optional>

#include "common/rng.hpp"
#include "config/cluster_spec.hpp"

namespace troupe::runtime {

class restart_policy {
public:
  using clock = std::chrono::steady_clock;

  restart_policy(config::supervisor_spec spec, std::uint64_t seed) : spec_(spec), gen_(seed) {}

  /// Records a failure at `now`. Returns the delay before the restart — backoff·2^(k−1) capped at
  /// backoff_max, times a jitter in [1, 1.25), for the k-th failure within the period — or
  /// nothing when that would exceed max_restarts within period_s: then the supervisor escalates.
  std::optional<double> on_failure(clock::time_point now) {
    const auto window = std::chrono::duration<double>(spec_.period_s);
    while (!failures_.empty() && now - failures_.front() > window)
      failures_.pop_front();
    failures_.push_back(now);
    const std::size_t k = failures_.size();
    if (k > spec_.max_restarts)
      return std::nullopt;
    double delay = spec_.backoff_s;
    for (std::size_t i = 1; i < k && delay < spec_.backoff_max_s; ++i)
      delay *= 2;
    delay = std::min(delay, spec_.backoff_max_s);
    return delay * (1.0 + 0.25 * gen_.uniform());
  }

  std::size_t failures_in_window() const { return failures_.size(); }

private:
  config::supervisor_spec spec_;
  rng gen_;
  std::deque<clock::time_point> failures_;
};

} // namespace troupe::runtime
