#include "train/fit.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "data/distributed_sampler.hpp"
#include "tensor/optim/metrics.hpp"
#include "train/model_file.hpp"

namespace troupe::train {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

std::vector<optim::param_slot> slots_of(const nn::param_layout& layout, std::vector<float>& params,
                                        const std::vector<float>& grad) {
  std::vector<optim::param_slot> slots;
  for (const auto& e : layout.entries)
    if (!e.buffer) // running statistics: moved by their update, never optimized
      slots.push_back({e.name, params.data() + e.offset, grad.data() + e.offset, e.size});
  return slots;
}

void save(const std::string& path, const config::model_spec& spec, const gradient_engine& engine,
          const std::vector<float>& params, const nlohmann::json& info) {
  saved_model m{spec.name, engine.layout(), params, info.dump()};
  save_model(path, m);
}

} // namespace

eval_result evaluate(gradient_engine& engine, const std::vector<float>& params, const data::dataset& ds) {
  const batch_stats s = engine.evaluate(params.data(), ds.images.data(), ds.labels.data(), ds.n);
  eval_result r;
  r.n = s.n;
  if (s.n > 0) {
    r.loss = s.loss_sum / static_cast<double>(s.n);
    r.top1 = static_cast<double>(s.correct1) / static_cast<double>(s.n);
    r.top5 = static_cast<double>(s.correct5) / static_cast<double>(s.n);
  }
  return r;
}

fit_result fit(const fit_options& o, std::ostream& log) {
  TROUPE_ENFORCE(o.batch_size > 0, "batch size must be positive");
  TROUPE_ENFORCE(o.epochs > 0, "epochs must be positive");
  const config::model_spec spec = config::load_model_spec(o.model_path);
  const data::dataset train_set = data::load_fashion_mnist(o.data_dir, true, o.normalization, o.max_train_samples);
  const data::dataset test_set = data::load_fashion_mnist(o.data_dir, false, o.normalization, o.max_test_samples);
  TROUPE_ENFORCE(train_set.image_size() == tensor::numel(spec.input_shape),
                 "{}: the model takes inputs of {} values but the data set's images have {}", spec.source,
                 tensor::numel(spec.input_shape), train_set.image_size());

  gradient_engine engine(spec, o.seed, o.threads);
  std::vector<float> params = engine.initial_parameters();
  std::vector<float> grad(params.size());
  auto opt = optim::make_optimizer(o.optimizer);
  const optim::lr_schedule schedule(o.schedule);
  data::distributed_sampler sampler(train_set.n, 1, 0, true, o.seed);
  data::augment_options augment = o.augment;
  augment.fill = data::pixel_value(0, o.normalization); // a zero byte, as the loader pads

  std::filesystem::create_directories(o.out_dir);
  std::ofstream metrics(std::filesystem::path(o.out_dir) / "metrics.jsonl", std::ios::app);
  const std::size_t steps_per_epoch = (train_set.n + o.batch_size - 1) / o.batch_size;
  const std::size_t total_steps = steps_per_epoch * o.epochs;
  fmt::print(log, "=> model '{}' ({} parameters), {} training / {} test images, batch {}, {} thread(s), seed {}\n",
             spec.name, params.size(), train_set.n, test_set.n, o.batch_size, engine.threads(), o.seed);

  fit_result result;
  result.latest_path = (std::filesystem::path(o.out_dir) / "model_latest.trpm").string();
  result.best_path = (std::filesystem::path(o.out_dir) / "model_best.trpm").string();
  std::vector<float> batch_images(o.batch_size * train_set.image_size());
  std::vector<std::int32_t> batch_labels(o.batch_size);
  const auto run_start = clock_type::now();
  std::size_t step = 0, images_trained = 0;

  for (std::size_t epoch = 0; epoch < o.epochs; ++epoch) {
    sampler.set_epoch(epoch);
    const std::vector<std::size_t> order = sampler.indices();
    optim::average_meter batch_time, data_time, losses, top1, top5;
    auto end = clock_type::now();
    for (std::size_t b = 0; b < steps_per_epoch; ++b, ++step) {
      const std::size_t lo = b * o.batch_size, n = std::min(o.batch_size, order.size() - lo);
      data::gather_batch(train_set, order.data() + lo, n, batch_images.data(), batch_labels.data());
      data::augment_batch(batch_images.data(), order.data() + lo, n, train_set.channels, train_set.height,
                          train_set.width, augment, o.seed, epoch);
      data_time.update(seconds_since(end));
      const auto t0 = clock_type::now();
      const batch_stats s = engine.compute(params.data(), batch_images.data(), batch_labels.data(), n, grad.data());
      const float lr = schedule.lr_at(step, steps_per_epoch, total_steps);
      opt->step(slots_of(engine.layout(), params, grad), lr);
      nn::apply_buffer_updates(engine.layout(), params.data(), grad.data(), 1.0f);
      result.train_seconds += seconds_since(t0);
      images_trained += n;
      const double dn = static_cast<double>(n);
      losses.update(s.loss_sum / dn, n);
      top1.update(100.0 * static_cast<double>(s.correct1) / dn, n);
      top5.update(100.0 * static_cast<double>(s.correct5) / dn, n);
      batch_time.update(seconds_since(end));
      end = clock_type::now();
      if (o.print_freq > 0 && (b % o.print_freq == 0 || b + 1 == steps_per_epoch)) {
        fmt::print(log,
                   "Epoch: [{}][{:>4}/{}]  Time {:6.3f} ({:6.3f})  Data {:6.3f} ({:6.3f})  Loss {:.4e} ({:.4e})  "
                   "Acc@1 {:6.2f} ({:6.2f})  Acc@5 {:6.2f} ({:6.2f})  LR {:.4g}\n",
                   epoch + 1, b + 1, steps_per_epoch, batch_time.val(), batch_time.avg(), data_time.val(),
                   data_time.avg(), losses.val(), losses.avg(), top1.val(), top1.avg(), top5.val(), top5.avg(), lr);
        log.flush();
        metrics << nlohmann::json{{"ts",
                                   std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                                       .count()},
                                  {"node", "local"},
                                  {"actor", "trainer"},
                                  {"role", "trainer"},
                                  {"step", step + 1},
                                  {"epoch", epoch + 1},
                                  {"loss", losses.val()},
                                  {"loss_avg", losses.avg()},
                                  {"acc1", top1.val()},
                                  {"acc1_avg", top1.avg()},
                                  {"lr", lr},
                                  {"images_per_s", dn / std::max(batch_time.val(), 1e-9)}}
                       .dump()
                << '\n'
                << std::flush;
      }
    }
    const auto eval_start = clock_type::now();
    const eval_result ev = evaluate(engine, params, test_set);
    fmt::print(log, " * Epoch {} test: Acc@1 {:.2f}  Acc@5 {:.2f}  Loss {:.4f}  ({} images, {:.1f} s)\n", epoch + 1,
               100.0 * ev.top1, 100.0 * ev.top5, ev.loss, ev.n, seconds_since(eval_start));
    log.flush();
    const nlohmann::json info{{"epoch", epoch + 1},   {"step", step},         {"test_top1", ev.top1},
                              {"test_top5", ev.top5}, {"test_loss", ev.loss}, {"seed", o.seed}};
    metrics
        << nlohmann::json{{"ts",
                           std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
                          {"node", "local"},
                          {"actor", "evaluator"},
                          {"role", "trainer"},
                          {"step", step},
                          {"epoch", epoch + 1},
                          {"test_loss", ev.loss},
                          {"test_acc", ev.top1},
                          {"test_top5", ev.top5}}
               .dump()
        << '\n'
        << std::flush;
    save(result.latest_path, spec, engine, params, info);
    if (ev.top1 > result.best_top1 || epoch == 0) {
      result.best_top1 = ev.top1;
      result.best_epoch = epoch + 1;
      save(result.best_path, spec, engine, params, info);
    }
    result.final_eval = ev;
  }
  result.steps = step;
  result.images_per_second = result.train_seconds > 0 ? static_cast<double>(images_trained) / result.train_seconds : 0;
  fmt::print(
      log, "=> done in {:.1f} s ({:.1f} s training, {:.0f} images/s); best Acc@1 {:.2f} at epoch {}; saved {} and {}\n",
      seconds_since(run_start), result.train_seconds, result.images_per_second, 100.0 * result.best_top1,
      result.best_epoch, result.latest_path, result.best_path);
  result.params = std::move(params);
  return result;
}

eval_result evaluate_saved(const std::string& model_path, const std::string& saved_path, const std::string& data_dir,
                           std::size_t threads, std::size_t max_test_samples, const data::normalization& norm) {
  const config::model_spec spec = config::load_model_spec(model_path);
  gradient_engine engine(spec, 0, threads);
  const saved_model m = load_model(saved_path);
  if (m.model_name != spec.name)
    throw error(
        fmt::format("{}: holds model '{}', but {} describes '{}'", saved_path, m.model_name, model_path, spec.name));
  engine.layout().require_same(m.layout, saved_path);
  const data::dataset test_set = data::load_fashion_mnist(data_dir, false, norm, max_test_samples);
  return evaluate(engine, m.params, test_set);
}

} // namespace troupe::train
