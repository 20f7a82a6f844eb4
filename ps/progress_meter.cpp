#include "ps/progress_meter.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace troupe::ps {

std::string format_duration(double seconds) {
  const auto s = static_cast<long>(seconds + 0.5);
  if (s < 60)
    return fmt::format("{} s", s);
  if (s < 3600)
    return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

void progress_meter::pushed(const push& p, const push_outcome& out) {
  if (out.late) // backup trainers: dropped unread, its samples lost to that clock; counted by the core
    return;
  if (out.refused) {
    ++refused_; // its loss and accuracy are as broken as its gradient: they stay out of the figures
  } else {
    loss_sum_ += p.loss_sum;
    samples_ += p.n;
    correct1_ += p.correct1;
    correct5_ += p.correct5;
  }
  ++pushes_;
  ++staleness_hist_[out.staleness];
}

bool progress_meter::due(const aggregator_core& core, std::size_t print_freq, bool force) const {
  return samples_ > 0 && (force || (print_freq > 0 && core.min_clock() >= last_clock_ + print_freq));
}

progress_meter::line progress_meter::take(const aggregator_core& core, double since_line_s, double run_s) {
  const auto& o = core.options();
  const std::uint64_t clock = core.min_clock();
  const double n = static_cast<double>(std::max<std::size_t>(samples_, 1));
  const double secs = std::max(since_line_s, 1e-9);
  const std::size_t epoch = std::min<std::size_t>(clock / o.steps_per_epoch, o.epochs - 1) + 1;
  const std::size_t in_epoch = clock - (epoch - 1) * o.steps_per_epoch;
  // ETA from the clock rate since the run started (or resumed).
  const double clocks_done = static_cast<double>(clock - first_clock_);
  const double eta = clocks_done > 0 ? run_s / clocks_done * static_cast<double>(core.total_clocks() - clock) : 0;
  line out;
  out.text =
      fmt::format("Epoch: [{}][{:>4}/{}]  Time {:6.3f}/step  Loss {:.4e}  Acc@1 {:6.2f}  Acc@5 {:6.2f}  "
                  "images/s {:.0f}  LR {:.4g}  version {}  ETA {}",
                  epoch, in_epoch, o.steps_per_epoch,
                  since_line_s / static_cast<double>(std::max<std::uint64_t>(clock - last_clock_, 1)), loss_sum_ / n,
                  100.0 * static_cast<double>(correct1_) / n, 100.0 * static_cast<double>(correct5_) / n, n / secs,
                  core.current_lr(), core.version(), format_duration(eta));
  auto& r = out.fields;
  r["loss"] = loss_sum_ / n;
  r["acc"] = static_cast<double>(correct1_) / n;
  r["images_per_s"] = n / secs;
  r["updates_per_s"] = static_cast<double>(pushes_) / secs;
  r["lr"] = core.current_lr();
  r["version"] = core.version();
  r["applied"] = core.version(); // optimizer applications so far (= version)
  double stale_sum = 0;
  std::uint64_t stale_n = 0;
  nlohmann::json hist = nlohmann::json::object();
  for (const auto& [k, v] : staleness_hist_) {
    stale_sum += static_cast<double>(k * v);
    stale_n += v;
    hist[std::to_string(k)] = v;
  }
  r["staleness"] = stale_n > 0 ? stale_sum / static_cast<double>(stale_n) : 0.0; // mean over the run so far
  nlohmann::json lag = nlohmann::json::array();
  for (std::size_t i = 0; i < o.trainers; ++i) // a trainer removed under shrink may be behind the slowest present one
    lag.push_back(core.clock_of(i) > clock ? core.clock_of(i) - clock : 0);
  r["clock_lag"] = lag;
  r["staleness_hist"] = hist;
  r["refused"] = refused_; // non-finite gradients refused so far
  if (o.backup_trainers > 0) {
    r["late_dropped"] = core.late_dropped(); // late gradients dropped so far (backup trainers)
    nlohmann::json late = nlohmann::json::array();
    for (std::size_t i = 0; i < o.trainers; ++i)
      late.push_back(core.late_dropped(i));
    r["late_by_trainer"] = late; // the same, per trainer rank
  }
  loss_sum_ = 0;
  samples_ = correct1_ = correct5_ = pushes_ = 0;
  last_clock_ = clock;
  return out;
}

nlohmann::json trainer_meter::take(double wall_s) {
  const double n = static_cast<double>(std::max<std::size_t>(samples_, 1));
  // A period shorter than its own waits (clocks read apart) would give a fraction above 1.
  const double wall = std::max(wall_s, wait_params_s_ + wait_batch_s_);
  const auto fraction = [wall](double s) { return wall > 0 ? s / wall : 0.0; };
  nlohmann::json r{
      {"loss", loss_sum_ / n},
      {"acc", static_cast<double>(correct1_) / n},
      {"images_per_s", compute_s_ > 0 ? static_cast<double>(samples_) / compute_s_ : 0.0},
      {"compute_s", compute_s_},
      {"wait_s", wait_params_s_ + wait_batch_s_},
      {"push_bytes", pushes_ > 0 ? push_bytes_ / pushes_ : 0},
      {"share", clocks_ > 0 ? static_cast<double>(samples_) / static_cast<double>(clocks_) : 0.0},
      {"wait_params_s", wait_params_s_},
      {"wait_batch_s", wait_batch_s_},
      {"wall_s", wall},
      {"wait_params_frac", fraction(wait_params_s_)},
      {"wait_batch_frac", fraction(wait_batch_s_)},
  };
  *this = trainer_meter{};
  return r;
}

} // namespace troupe::ps
