#include "ps/loader_batch.hpp"

#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "common/rng.hpp"
#include "data/fashion_mnist.hpp"

using namespace troupe;
using namespace troupe::ps;

namespace {

/// n random 1 x 28 x 28 images, normalized as the loader loads them, with labels 0..9.
data::dataset random_images(std::size_t n, const data::normalization& norm) {
  data::dataset ds;
  ds.n = n;
  ds.height = data::fashion_mnist::height;
  ds.width = data::fashion_mnist::width;
  ds.num_classes = 10;
  rng gen(42);
  ds.images.resize(n * ds.image_size());
  for (auto& x : ds.images)
    x = data::pixel_value(static_cast<std::uint8_t>(gen.below(256)), norm);
  for (std::size_t i = 0; i < n; ++i)
    ds.labels.push_back(static_cast<std::int32_t>(i % 10));
  return ds;
}

/// A batch's bytes: its header fields, image shape, images and labels.
using batch_bytes = std::vector<unsigned char>;
batch_bytes bytes_of(const batch& b) {
  batch_bytes out;
  const auto put = [&](const void* p, std::size_t size) {
    const auto* c = static_cast<const unsigned char*>(p);
    out.insert(out.end(), c, c + size);
  };
  put(&b.clock, sizeof b.clock);
  put(&b.epoch, sizeof b.epoch);
  put(&b.step, sizeof b.step);
  put(&b.n, sizeof b.n);
  put(b.image_shape.data(), b.image_shape.size() * sizeof(std::uint32_t));
  if (b.images_out)
    put(b.images_out->data(), b.images_out->size() * sizeof(float));
  if (b.labels_out)
    put(b.labels_out->data(), b.labels_out->size() * sizeof(std::int32_t));
  return out;
}

data::augment_options crop_and_flip(const data::normalization& norm) {
  config::augment_spec spec;
  spec.crop_padding = 2;
  spec.horizontal_flip = true;
  return loader_augment(spec, norm);
}

constexpr std::size_t n = 97, trainers = 2, batch_size = 8, epochs = 2;
constexpr std::uint64_t seed = 3;

/// Every batch of an uninterrupted run, by (rank, clock).
std::map<std::pair<std::size_t, std::uint64_t>, batch_bytes> whole_run(const data::dataset& ds,
                                                                       const data::augment_options& a) {
  loader_core core(n, trainers, batch_size, seed, epochs);
  std::map<std::pair<std::size_t, std::uint64_t>, batch_bytes> out;
  for (std::size_t r = 0; r < trainers; ++r)
    while (auto plan = core.next(r)) {
      const auto b = make_batch(ds, *plan, core.steps_per_epoch(), a, seed);
      out[{r, b.clock}] = bytes_of(b);
    }
  return out;
}

} // namespace

TEST_CASE("the padding is the value a zero pixel is loaded as", "[ps][loader][augment]") {
  config::augment_spec spec;
  spec.crop_padding = 2;
  CHECK(loader_augment(spec, {}).fill == 0.f);
  const auto norm = data::fashion_mnist::normalization(true);
  const auto a = loader_augment(spec, norm);
  CHECK(a.fill == (0.f - data::fashion_mnist::mean) / data::fashion_mnist::stddev);
  CHECK(a.crop_padding == 2);
  CHECK_FALSE(a.horizontal_flip);
  CHECK_FALSE(loader_augment(config::augment_spec{}, norm).enabled());
}

TEST_CASE("without augment a batch is the gathered samples, bit for bit; with it most images change",
          "[ps][loader][augment]") {
  const auto norm = data::fashion_mnist::normalization(true);
  const auto ds = random_images(n, norm);
  loader_core core(n, trainers, batch_size, seed, epochs);
  const auto plan = *core.next(0);
  const auto plain = make_batch(ds, plan, core.steps_per_epoch(), loader_augment({}, norm), seed);
  std::vector<float> gathered(plan.indices.size() * ds.image_size());
  std::vector<std::int32_t> labels(plan.indices.size());
  data::gather_batch(ds, plan.indices.data(), plan.indices.size(), gathered.data(), labels.data());
  REQUIRE(*plain.images_out == gathered);
  REQUIRE(*plain.labels_out == labels);
  REQUIRE(plain.image_shape == std::vector<std::uint32_t>{1, 28, 28});

  const auto augmented = make_batch(ds, plan, core.steps_per_epoch(), crop_and_flip(norm), seed);
  REQUIRE(*augmented.labels_out == labels); // labels never move
  std::size_t changed = 0;
  for (std::size_t k = 0; k < plan.indices.size(); ++k) {
    const auto size = ds.image_size();
    changed +=
        std::memcmp(augmented.images_out->data() + k * size, gathered.data() + k * size, size * sizeof(float)) != 0 ? 1
                                                                                                                    : 0;
  }
  // Unchanged only with no shift and no flip: 1 in 50 per sample.
  CHECK(changed >= plan.indices.size() - 1);
}

TEST_CASE("a loader restarted mid-epoch, or asked for the same clock twice, sends bit-identical batches",
          "[ps][loader][augment]") {
  const auto norm = data::fashion_mnist::normalization(GENERATE(false, true));
  const auto ds = random_images(n, norm);
  const auto a = crop_and_flip(norm);
  const auto reference = whole_run(ds, a);
  loader_core probe(n, trainers, batch_size, seed, epochs);
  const std::size_t steps = probe.steps_per_epoch();
  REQUIRE(steps == 7);

  SECTION("a new loader resumes from a clock") {
    const std::uint64_t from = GENERATE(3, 7, 10); // mid epoch 0, the start of epoch 1, mid epoch 1
    CAPTURE(from);
    loader_core restarted(n, trainers, batch_size, seed, epochs);
    for (std::size_t r = 0; r < trainers; ++r) {
      restarted.seek(r, from);
      std::size_t sent = 0;
      while (auto plan = restarted.next(r)) {
        const auto b = make_batch(ds, *plan, steps, a, seed);
        REQUIRE(b.clock == from + sent++);
        REQUIRE(bytes_of(b) == reference.at({r, b.clock}));
      }
      REQUIRE(sent == epochs * steps - from);
    }
  }
  SECTION("the same clock twice (a trainer asking again)") {
    loader_core core(n, trainers, batch_size, seed, epochs);
    for (std::uint64_t clock = 0; clock < epochs * steps; ++clock) {
      core.seek(1, clock);
      const auto first = make_batch(ds, *core.next(1), steps, a, seed);
      core.seek(1, clock);
      const auto again = make_batch(ds, *core.next(1), steps, a, seed);
      REQUIRE(bytes_of(first) == bytes_of(again));
      REQUIRE(bytes_of(first) == reference.at({1, clock}));
    }
  }
}

TEST_CASE("balance by speed: a re-cut moves samples between trainers but no sample's image changes",
          "[ps][loader][augment][balance]") {
  const auto norm = data::fashion_mnist::normalization(true);
  const auto ds = random_images(n, norm);
  const auto a = crop_and_flip(norm);
  balance_options speed;
  speed.speed = true;
  speed.every_clocks = 2;
  // Two runs whose trainers report opposite speeds, so their cuts differ; each sample's image by epoch.
  using images = std::map<std::pair<std::size_t, std::size_t>, std::vector<float>>; // (epoch, sample) -> image
  const auto images_by_sample = [&](std::size_t slow_rank, std::vector<std::size_t>& rank0_shares) {
    loader_core core(n, trainers, batch_size, seed, epochs, speed);
    images out;
    for (std::size_t step = 0; step < epochs * core.steps_per_epoch(); ++step)
      for (std::size_t r = 0; r < trainers; ++r) {
        const auto plan = *core.next(r);
        if (r == 0)
          rank0_shares.push_back(plan.indices.size());
        core.observe(r, plan.indices.size(), r == slow_rank ? 1.0 : 0.1);
        const auto b = make_batch(ds, plan, core.steps_per_epoch(), a, seed);
        const std::size_t size = ds.image_size();
        for (std::size_t k = 0; k < plan.indices.size(); ++k)
          out[{plan.epoch, plan.indices[k]}].assign(b.images_out->begin() + k * size,
                                                    b.images_out->begin() + (k + 1) * size);
      }
    return out;
  };
  std::vector<std::size_t> shares_one, shares_other;
  const auto one = images_by_sample(0, shares_one), other = images_by_sample(1, shares_other);
  REQUIRE(shares_one != shares_other); // the cuts differ ...
  REQUIRE(one.size() == epochs * n);   // ... every sample of both epochs was sent ...
  REQUIRE(one == other);               // ... and looks the same in both runs
  // And an epoch redraws: most samples look different in epoch 1 than in epoch 0.
  std::size_t same = 0;
  for (std::size_t i = 0; i < n; ++i)
    same += one.at({0, i}) == one.at({1, i}) ? 1 : 0;
  CHECK(same < n / 10);
}
