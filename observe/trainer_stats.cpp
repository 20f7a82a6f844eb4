#include "observe/trainer_stats.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace troupe::observe {

namespace {

/// Running sums of one trainer.
struct sums {
  trainer_stats out;
  double images = 0, compute = 0, wait = 0;
  double lag_sum = 0;
  std::size_t lag_samples = 0;
  double share_sum = 0, wait_params = 0, wait_batch = 0, wall = 0;
  std::size_t shares = 0;
};

double finite_or_zero(double v) {
  return std::isfinite(v) && v > 0 ? v : 0.0;
}

} // namespace

std::vector<trainer_stats> summarize_trainers(const std::vector<record>& records, const run_summary& summary) {
  std::vector<const record*> by_time;
  for (const auto& r : records)
    if (r.role == "trainer" && !r.fields.contains("event"))
      by_time.push_back(&r);
  std::stable_sort(by_time.begin(), by_time.end(), [](const record* a, const record* b) { return a->ts < b->ts; });

  std::map<std::string, sums> trainers; // by actor: trainer names are global across nodes
  for (const record* r : by_time) {
    auto& t = trainers[r->actor];
    t.out.node = r->node;
    t.out.actor = r->actor;
    ++t.out.records;
    t.out.clock = r->step;
    const double compute = finite_or_zero(r->number("compute_s"));
    t.compute += compute;
    t.wait += finite_or_zero(r->number("wait_s"));
    t.images += finite_or_zero(r->number("images_per_s")) * compute;
    t.out.share = r->number("share");
    if (std::isfinite(t.out.share)) {
      t.share_sum += t.out.share;
      ++t.shares;
    }
    if (const double wall = finite_or_zero(r->number("wall_s")); wall > 0) {
      t.wall += wall;
      t.wait_params += finite_or_zero(r->number("wait_params_s"));
      t.wait_batch += finite_or_zero(r->number("wait_batch_s"));
    }
    // Everyone's latest clock against the fastest, now that this trainer moved.
    std::uint64_t fastest = 0;
    for (const auto& [name, other] : trainers)
      fastest = std::max(fastest, other.out.clock);
    for (auto& [name, other] : trainers) {
      const double lag = static_cast<double>(fastest - other.out.clock);
      other.lag_sum += lag;
      ++other.lag_samples;
      other.out.max_lag = std::max(other.out.max_lag, lag);
    }
  }

  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<trainer_stats> out;
  for (auto& [name, t] : trainers) {
    t.out.images_per_s = t.compute > 0 ? t.images / t.compute : nan;
    t.out.wait_share = t.compute + t.wait > 0 ? t.wait / (t.compute + t.wait) : nan;
    t.out.mean_share = t.shares > 0 ? t.share_sum / static_cast<double>(t.shares) : nan;
    t.out.wait_params_ratio = t.wall > 0 ? t.wait_params / t.wall : nan;
    t.out.wait_batch_ratio = t.wall > 0 ? t.wait_batch / t.wall : nan;
    t.out.mean_lag = t.lag_samples > 0 ? t.lag_sum / static_cast<double>(t.lag_samples) : 0.0;
    for (const auto& a : summary.actors)
      if (a.actor == t.out.actor && a.role == "trainer")
        t.out.restarts += a.restarts;
    t.out.late_dropped = late_dropped_of(summary, t.out.actor).value_or(nan);
    out.push_back(t.out);
  }
  std::sort(out.begin(), out.end(),
            [](const trainer_stats& a, const trainer_stats& b) { return natural_less(a.actor, b.actor); });
  return out;
}

} // namespace troupe::observe
