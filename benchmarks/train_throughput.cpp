// Training throughput of the reference CNN on real Fashion-MNIST batches, steady state.
//
//   ./build/benchmarks/bench_train_throughput [--batch 64] [--steps 60] [--repeats 5] [--conv gemm,dnnl]
//
// For threads 1 and 2 it runs `repeats` timed windows of `steps` steps (after a warm-up) and
// reports the median window: images/s, ms/step and GFLOP/s (training FLOPs counted from the
// model's shapes). Then a per-op breakdown for one thread's slice of the batch. Last line: JSON.
//
// --conv (or TROUPE_CONV) names the conv2d backends to measure (auto, gemm, dnnl, naive; default auto, the default of
// training). With several, each round times one window of every backend in turn (order alternating), so machine noise
// hits them alike; the JSON's threads1/threads2 are the first backend's, and "by_conv" holds every backend's figures.

#include <algorithm>
#include <chrono>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/rng.hpp"
#include "config/model_spec.hpp"
#include "data/dataset.hpp"
#include "tensor/blas.hpp"
#include "tensor/ops/activation.hpp"
#include "tensor/ops/conv2d.hpp"
#include "tensor/ops/conv2d_dnnl.hpp"
#include "tensor/ops/linear.hpp"
#include "tensor/ops/loss.hpp"
#include "tensor/ops/pool.hpp"
#include "tensor/optim/sgd.hpp"
#include "train/gradient_engine.hpp"
#include "train/process_tuning.hpp"

using namespace troupe;
using clock_type = std::chrono::steady_clock;

namespace {

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

double since(clock_type::time_point t) {
  return std::chrono::duration<double>(clock_type::now() - t).count();
}

/// Multiply-adds ×2 of one image's forward pass; backward costs 2× forward except the first
/// layer's input gradient, which is never computed.
std::pair<double, double> flops_per_image(const config::model_spec& spec) {
  const auto shapes = config::infer_shapes(spec);
  double fwd = 0, first_dx = 0;
  auto in = spec.input_shape;
  bool first = true;
  for (std::size_t i = 0; i < spec.layers.size(); ++i) {
    const auto& l = spec.layers[i];
    double f = 0;
    if (l.type == "conv2d")
      f = 2.0 * shapes[i][0] * shapes[i][1] * shapes[i][2] * in[0] * l.kernel * l.kernel;
    else if (l.type == "dense")
      f = 2.0 * in[0] * l.units;
    if (f > 0 && first) {
      first_dx = f;
      first = false;
    }
    fwd += f;
    in = shapes[i];
  }
  return {fwd, 3 * fwd - first_dx};
}

struct op_timer {
  std::vector<std::pair<std::string, double>> rows;
  template <class F>
  void time(const std::string& name, int reps, F f) {
    f();
    std::vector<double> t;
    for (int r = 0; r < reps; ++r) {
      const auto s = clock_type::now();
      f();
      t.push_back(since(s));
    }
    rows.emplace_back(name, median(t) * 1e3);
  }
};

} // namespace

int main(int argc, char** argv) {
  std::size_t batch = 64, steps = 60, repeats = 5;
  std::string model_path = TROUPE_DEFAULT_MODEL;
  std::string data_dir = data::default_fashion_mnist_dir;
  std::vector<std::string> conv_names{"auto"};
  CLI::App app{"Training throughput of the reference CNN"};
  app.add_option("--batch", batch)->capture_default_str();
  app.add_option("--steps", steps, "steps per timed window")->capture_default_str();
  app.add_option("--repeats", repeats, "timed windows per thread count")->capture_default_str();
  app.add_option("--model", model_path)->capture_default_str();
  app.add_option("--data", data_dir)->capture_default_str();
  app.add_option("--conv", conv_names, "conv2d backends to alternate: gemm, dnnl, auto (per layer), naive")
      ->delimiter(',')
      ->envname("TROUPE_CONV")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  train::tune_allocator();
  std::vector<tensor::conv_algo> backends;
  try {
    for (const auto& name : conv_names) {
      backends.push_back(tensor::parse_conv_algo(name));
      tensor::set_conv_backend(backends.back()); // refuses dnnl here, before any timing, if not built
    }
  } catch (const error& e) {
    fmt::print(stderr, "bench_train_throughput: --conv: {}\n", e.what());
    return 2;
  }

  const auto spec = config::load_model_spec(model_path);
  const auto ds = data::load_fashion_mnist(data_dir, true, {}, batch * 50);
  const auto [fwd_flops, train_flops] = flops_per_image(spec);
  fmt::print("model {}: {:.2f} MFLOP forward, {:.2f} MFLOP per training image; batch {}\n", spec.name, fwd_flops / 1e6,
             train_flops / 1e6, batch);

  nlohmann::json summary{
      {"benchmark", "train_throughput"},      {"model", spec.name}, {"batch", batch},
      {"mflop_per_image", train_flops / 1e6}, {"conv", conv_names}, {"openblas_core", tensor::blas::core_name()}};
  if (const auto note = tensor::blas::kernel_note(); !note.empty())
    fmt::print("{}\n", note);
  for (std::size_t threads : {1, 2}) {
    train::gradient_engine engine(spec, 1, threads);
    if (threads == 1 && (std::count(backends.begin(), backends.end(), tensor::conv_algo::dnnl) ||
                         std::count(backends.begin(), backends.end(), tensor::conv_algo::automatic))) {
      // What oneDNN picked for the two convolutions of one replica's slice (1 thread per replica).
      const std::size_t n = (batch + 1) / 2;
      fmt::print(
          "oneDNN conv1: {}\noneDNN conv2: {}\n",
          tensor::dnnl_conv::implementations(tensor::make_conv2d_geometry({n, 1, 28, 28}, {32, 1, 3, 3}, 1, 0), true),
          tensor::dnnl_conv::implementations(tensor::make_conv2d_geometry({n, 32, 13, 13}, {64, 32, 3, 3}, 1, 0),
                                             true));
    }
    std::vector<float> params = engine.initial_parameters(), grad(params.size());
    optim::sgd opt({0.9f, 0, 0, false});
    std::vector<optim::param_slot> slots;
    for (const auto& e : engine.layout().entries)
      slots.push_back({e.name, params.data() + e.offset, grad.data() + e.offset, e.size});
    std::size_t cursor = 0;
    auto one_step = [&] {
      const float* x = ds.images.data() + cursor * ds.image_size();
      const std::int32_t* y = ds.labels.data() + cursor;
      engine.compute(params.data(), x, y, batch, grad.data());
      opt.step(slots, 0.01f);
      cursor = (cursor + batch) % (ds.n - batch + 1);
    };
    for (auto algo : backends) { // warm-up: caches, pages, oneDNN's primitives
      tensor::set_conv_backend(algo);
      for (int i = 0; i < 10; ++i)
        one_step();
    }
    std::vector<std::vector<double>> window_ips(backends.size());
    for (std::size_t r = 0; r < repeats; ++r)
      for (std::size_t k = 0; k < backends.size(); ++k) {
        const std::size_t b = r % 2 ? backends.size() - 1 - k : k; // alternate the order round by round
        tensor::set_conv_backend(backends[b]);
        const auto s = clock_type::now();
        for (std::size_t i = 0; i < steps; ++i)
          one_step();
        window_ips[b].push_back(static_cast<double>(steps * batch) / since(s));
      }
    for (std::size_t b = 0; b < backends.size(); ++b) {
      const double ips = median(window_ips[b]);
      const double gflops = ips * train_flops / 1e9;
      const double peak = 115.0 * static_cast<double>(threads); // measured FMA peak per core (DEPENDENCIES.md)
      fmt::print("threads {} conv {:<5}: {:.0f} images/s  {:.2f} ms/step  {:.1f} GFLOP/s  ({:.0f}% of {:.0f} GFLOP/s "
                 "peak)  windows {:.0f}\n",
                 threads, conv_names[b], ips, 1e3 * static_cast<double>(batch) / ips, gflops, 100 * gflops / peak, peak,
                 fmt::join(window_ips[b], " "));
      const nlohmann::json fig{{"images_per_s", ips},
                               {"ms_per_step", 1e3 * batch / ips},
                               {"gflops", gflops},
                               {"fraction_of_peak", gflops / peak},
                               {"windows_images_per_s", window_ips[b]}};
      if (b == 0)
        summary[fmt::format("threads{}", threads)] = fig;
      summary["by_conv"][conv_names[b]][fmt::format("threads{}", threads)] = fig;
    }
  }

  // Per-op breakdown on one thread's slice (batch/2 images), forward and backward separately.
  {
    using namespace tensor;
    const std::size_t n = batch / 2;
    train::gradient_engine engine(spec, 1, 1);
    array x = array::from_shape({n, 1, 28, 28});
    std::copy_n(ds.images.data(), x.size(), x.data());
    rng gen(1);
    auto rnd = [&](shape_t s) {
      array a = array::from_shape(s);
      for (auto& v : a)
        v = static_cast<float>(gen.uniform() - 0.5) * 0.2f;
      return var(a, true);
    };
    var w1 = rnd({32, 1, 3, 3}), b1 = rnd({32}), w2 = rnd({64, 32, 3, 3}), b2 = rnd({64}), w3 = rnd({128, 1600}),
        b3 = rnd({128}), w4 = rnd({10, 128}), b4 = rnd({10});
    var xin(x);
    var a1 = rnd({n, 32, 26, 26}), p1in = rnd({n, 32, 26, 26}), a2in = rnd({n, 32, 13, 13}),
        p2in = rnd({n, 64, 11, 11});
    var fin = rnd({n, 1600}), hin = rnd({n, 128});
    op_timer t;
    const int reps = 20;
    // The conv rows and the whole step once per backend, named "[backend]" when there are several.
    auto tag = [&](std::size_t b) { return backends.size() > 1 ? fmt::format(" [{}]", conv_names[b]) : ""; };
    for (std::size_t b = 0; b < backends.size(); ++b) {
      set_conv_backend(backends[b]);
      const struct {
        const char* name;
        var &x, &w, &bias;
      } convs[] = {{"conv1", xin, w1, b1}, {"conv2", a2in, w2, b2}};
      for (const auto& c : convs) {
        t.time(std::string(c.name) + " fwd" + tag(b), reps, [&] {
          no_grad_guard g;
          conv2d(c.x, c.w, c.bias);
        });
        t.time(std::string(c.name) + " fwd+bwd" + tag(b), reps, [&] {
          auto y = conv2d(c.x, c.w, c.bias);
          y.backward(y.value());
        });
      }
    }
    t.time("relu1 fwd+bwd", reps, [&] {
      auto y = relu(a1);
      y.backward(y.value());
    });
    t.time("pool1 fwd+bwd", reps, [&] {
      auto y = max_pool2d(p1in, 2, 2);
      y.backward(y.value());
    });
    t.time("pool2 fwd+bwd", reps, [&] {
      auto y = max_pool2d(p2in, 2, 2);
      y.backward(y.value());
    });
    t.time("dense1 fwd+bwd", reps, [&] {
      auto y = linear(fin, w3, b3);
      y.backward(y.value());
    });
    t.time("dense2+xent fwd+bwd", reps, [&] {
      auto y = softmax_cross_entropy(linear(hin, w4, b4), std::vector<std::int32_t>(n, 3));
      y.backward();
    });
    std::vector<float> params = engine.initial_parameters(), grad(params.size());
    for (std::size_t b = 0; b < backends.size(); ++b) {
      set_conv_backend(backends[b]);
      t.time("whole step (1 thread)" + tag(b), reps,
             [&] { engine.compute(params.data(), ds.images.data(), ds.labels.data(), n, grad.data()); });
    }
    set_conv_backend(backends.front());
    fmt::print("per-op (one thread, {} images), median ms:\n", n);
    nlohmann::json ops;
    for (const auto& [name, ms] : t.rows) {
      fmt::print("  {:<24} {:8.3f}\n", name, ms);
      ops[name] = ms;
    }
    summary["per_op_ms"] = ops;
  }
  std::cout << summary.dump() << std::endl;
  return 0;
}
