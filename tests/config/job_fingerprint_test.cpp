#include "config/job_fingerprint.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "common/error.hpp"
#include "config/topology.hpp"
#include "topology_fixtures.hpp"

using namespace troupe;
using troupe::config::fingerprint_of;
using troupe::config::first_difference;
using troupe::config::job_fingerprint;

namespace {

/// The 4-process example with `--set` overrides, and its model.
struct job {
  config::topology topology;
  config::model_spec model;
  explicit job(const std::vector<std::string>& overrides = {})
      : topology(config::load_topology(troupe_test::example("fmnist-2trainers.yaml"), troupe_test::sets(overrides))),
        model(config::load_job_model(topology)) {}
  job_fingerprint fingerprint() const { return fingerprint_of(topology, model); }
};

/// The key first_difference names between `mine` and `theirs` (which must differ), with both values.
config::fingerprint_difference difference(const job& mine, const job& theirs) {
  const auto d = first_difference(mine.fingerprint(), theirs.fingerprint());
  REQUIRE(d);
  return *d;
}

} // namespace

TEST_CASE("equal jobs have equal fingerprints", "[config][job_fingerprint]") {
  const job a, b;
  const job_fingerprint fa = a.fingerprint(), fb = b.fingerprint();
  CHECK(fa.hash == fb.hash);
  CHECK(fa.entries == fb.entries);
  CHECK_FALSE(first_difference(fa, fb));
  // The entries cover the model's layers, the job and the actor placement.
  const auto has = [&](const std::string& key, const std::string& value) {
    for (const auto& e : fa.entries)
      if (e.first == key)
        return e.second == value;
    return false;
  };
  CHECK(has("job.model.layers[1].type", "relu"));
  CHECK(has("job.model.layers[0].out_channels", "32"));
  CHECK(has("job.optimizer.momentum", "0.9"));
  CHECK(has("job.batch_size", "32"));
  CHECK(has("cluster.nodes[2].trainers", "1"));
}

TEST_CASE("a different job setting is named by its key with both values", "[config][job_fingerprint]") {
  const job mine;
  SECTION("activation") {
    job theirs;
    theirs.model.layers[1].type = "tanh";
    const auto d = difference(mine, theirs);
    CHECK(d.key == "job.model.layers[1].type");
    CHECK(d.mine == "relu");
    CHECK(d.theirs == "tanh");
    CHECK(config::to_string(d, "on node t0") == "job.model.layers[1].type: 'relu' here, 'tanh' on node t0");
  }
  SECTION("seed") {
    const auto d = difference(mine, job({"job.seed=2"}));
    CHECK(d.key == "job.seed");
    CHECK(d.mine == "1");
    CHECK(d.theirs == "2");
  }
  SECTION("optimizer momentum") {
    const auto d = difference(mine, job({"job.optimizer.momentum=0.5"}));
    CHECK(d.key == "job.optimizer.momentum");
    CHECK(d.mine == "0.9");
    CHECK(d.theirs == "0.5");
  }
  SECTION("the optimizer kind is named, not the fields that follow from it") {
    const auto d = difference(mine, job({"job.optimizer.kind=adam"}));
    CHECK(d.key == "job.optimizer.kind");
  }
  SECTION("a layer more: the count is named first") {
    job theirs;
    theirs.model.layers.push_back(theirs.model.layers.back());
    CHECK(difference(mine, theirs).key == "job.model.layers.count");
  }
  SECTION("a key only one side has") {
    const auto d = difference(mine, job({"job.consistency.mode=ssp", "job.consistency.staleness=2"}));
    CHECK(d.key == "job.consistency.mode");
    job_fingerprint fewer = mine.fingerprint();
    fewer.entries.pop_back();
    const auto absent = first_difference(mine.fingerprint(), fewer);
    REQUIRE(absent);
    CHECK(absent->theirs == config::fingerprint_absent);
  }
  SECTION("balance by speed (absent while off, so unbalanced jobs keep their fingerprint)") {
    CHECK(mine.fingerprint().entries == job({"job.balance=off"}).fingerprint().entries);
    const auto d = difference(mine, job({"job.balance=speed"}));
    CHECK(d.key == "job.balance.mode");
    CHECK(d.theirs == "speed");
  }
  SECTION("backup trainers (absent while 0, so jobs without them keep their fingerprint)") {
    CHECK(mine.fingerprint().entries == job({"job.backup_trainers=0"}).fingerprint().entries);
    const auto d = difference(mine, job({"job.backup_trainers=1"}));
    CHECK(d.key == "job.backup_trainers");
    CHECK(d.mine == config::fingerprint_absent);
    CHECK(d.theirs == "1");
  }
  SECTION("compression (absent while none, so uncompressed jobs keep their fingerprint)") {
    CHECK(mine.fingerprint().entries == job({"job.compression=none"}).fingerprint().entries);
    const auto d = difference(mine, job({"job.compression=fp16"}));
    CHECK(d.key == "job.compression.mode");
    CHECK(d.mine == config::fingerprint_absent);
    CHECK(d.theirs == "fp16");
    CHECK(difference(job({"job.compression=bf16"}), job({"job.compression=fp16"})).theirs == "fp16");
    const auto ratio = difference(job({"job.compression.mode=topk", "job.compression.ratio=0.01"}),
                                  job({"job.compression.mode=topk", "job.compression.ratio=0.1"}));
    CHECK(ratio.key == "job.compression.ratio");
    CHECK(ratio.mine == "0.01");
    CHECK(ratio.theirs == "0.1");
  }
  SECTION("augment (absent while off, so un-augmented jobs keep their fingerprint)") {
    CHECK(mine.fingerprint().entries ==
          job({"job.augment.random_crop.padding=0", "job.augment.horizontal_flip=false"}).fingerprint().entries);
    const auto crop = difference(mine, job({"job.augment.random_crop.padding=2"}));
    CHECK(crop.key == "job.augment.random_crop.padding");
    CHECK(crop.mine == config::fingerprint_absent);
    CHECK(crop.theirs == "2");
    const auto flip = difference(mine, job({"job.augment.horizontal_flip=true"}));
    CHECK(flip.key == "job.augment.horizontal_flip");
    CHECK(flip.theirs == "true");
    const auto both = job({"job.augment.random_crop.padding=2", "job.augment.horizontal_flip=true"});
    CHECK(difference(both, job({"job.augment.random_crop.padding=3", "job.augment.horizontal_flip=true"})).theirs ==
          "3");
    const auto no_flip = difference(both, job({"job.augment.random_crop.padding=2"}));
    CHECK(no_flip.key == "job.augment.horizontal_flip");
    CHECK(no_flip.theirs == "false");
  }
  SECTION("data limits, batch size and trainer placement") {
    CHECK(difference(mine, job({"job.data.max_train=600"})).key == "job.data.max_train");
    CHECK(difference(mine, job({"job.batch_size=64"})).key == "job.batch_size");
    CHECK(difference(mine, job({"cluster.nodes[3].trainers=2"})).key == "cluster.nodes[3].trainers");
  }
}

TEST_CASE("a job without augment keeps its fingerprint exactly", "[config][job_fingerprint][augment]") {
  // The example's hash and entry count as main computed them before job.augment existed (1b8fca9).
  const job_fingerprint fp = job().fingerprint();
  CHECK(fmt::format("{:016x}", fp.hash) == "86c88a2ea0258a9b");
  CHECK(fp.entries.size() == 71);
  for (const auto& e : fp.entries)
    CHECK(e.first.rfind("job.augment", 0) == std::string::npos);
}

TEST_CASE("per-node settings and paths do not change the fingerprint", "[config][job_fingerprint]") {
  const job mine;
  const job theirs({"cluster.nodes[2].threads=4", "cluster.nodes[3].endpoint=tcp://127.0.0.1:6704",
                    "cluster.heartbeat_s=0.5", "cluster.failure_timeout_s=5", "checkpoint.dir=elsewhere",
                    "checkpoint.every_steps=7", "metrics.print_freq=3", "job.data.dir=/tmp"});
  CHECK(mine.fingerprint().hash == theirs.fingerprint().hash);
  CHECK_FALSE(first_difference(mine.fingerprint(), theirs.fingerprint()));
  SECTION("an optimizer field the kind does not use") {
    const job adam({"job.optimizer.kind=adam"}), adam_momentum({"job.optimizer.kind=adam", "job.optimizer.momentum=0"});
    CHECK(adam.fingerprint().hash == adam_momentum.fingerprint().hash);
  }
}

TEST_CASE("a fingerprint survives the wire", "[config][job_fingerprint]") {
  const job_fingerprint fp = job().fingerprint();
  const std::string wire = fp.to_wire();
  CHECK_THAT(wire, Catch::StartsWith("troupe-job-fingerprint 1\n") && Catch::Contains("\njob.seed=1\n") &&
                       Catch::EndsWith(fmt::format("\nhash={:016x}\n", fp.hash)));
  const job_fingerprint back = job_fingerprint::from_wire(wire);
  CHECK(back.hash == fp.hash);
  CHECK(back.entries == fp.entries);

  SECTION("values with any bytes") {
    const job_fingerprint odd = job_fingerprint::from_entries({{"a", "x=y \\ \n\t\x01\xff"}, {"b[0].c", ""}});
    const std::string odd_wire = odd.to_wire();
    CHECK_THAT(odd_wire, Catch::Contains("\na=x=y \\\\ \\x0a\\x09\\x01\\xff\nb[0].c=\n"));
    const job_fingerprint odd_back = job_fingerprint::from_wire(odd_wire);
    CHECK(odd_back.entries == odd.entries);
    CHECK(odd_back.hash == odd.hash);
  }
}

TEST_CASE("a malformed fingerprint is refused, naming the problem", "[config][job_fingerprint]") {
  const std::string good = job().fingerprint().to_wire();
  const std::string hash_line = good.substr(good.rfind("hash="));
  const std::string body = good.substr(0, good.size() - hash_line.size());
  struct row {
    const char* name;
    std::string wire;
    const char* problem;
  };
  const std::vector<row> rows = {
      {"empty", "", "truncated"},
      {"truncated", good.substr(0, good.size() - 3), "truncated"},
      {"another header", "troupe-job-fingerprint 2\n" + good.substr(good.find('\n') + 1),
       "line 1: expected the header"},
      {"no hash line", body, "no hash line"},
      {"a hash that is not of the entries", body + "hash=0123456789abcdef\n", "the entries hash to"},
      {"an upper-case hash", body + "hash=" + fmt::format("{:016X}\n", job().fingerprint().hash), "16 lower-case hex"},
      {"text after the hash", good + "job.seed=2\n", "must be last"},
      {"a line without '='", body + "job.seed\n" + hash_line, "expected 'key=value'"},
      {"a repeated key", body + "job.seed=1\n" + hash_line, "job.seed appears twice"},
      {"a bad key character", body + "job seed=1\n" + hash_line, "a key with the character ' '"},
      {"an empty key", body + "=1\n" + hash_line, "a key of 0 bytes"},
      {"a raw control byte", body + "k=a\tb\n" + hash_line, "byte 0x09"},
      {"a bad escape", body + "k=a\\qb\n" + hash_line, "a bad escape"},
      {"a needless escape", body + "k=\\x41\n" + hash_line, "a bad escape"},
      {"a long value", body + "k=" + std::string(2000, 'v') + "\n" + hash_line, "longer than 1024 bytes"},
      {"too large", std::string(job_fingerprint::max_wire_bytes + 1, '\n'), "more than the limit"},
  };
  for (const auto& r : rows) {
    DYNAMIC_SECTION(r.name) {
      REQUIRE_THROWS_AS(job_fingerprint::from_wire(r.wire), error);
      REQUIRE_THROWS_WITH(job_fingerprint::from_wire(r.wire),
                          Catch::StartsWith("job fingerprint: ") && Catch::Contains(r.problem));
    }
  }
}

TEST_CASE("job_mismatch says why a peer's job is not this one, in one sentence", "[config][job_fingerprint]") {
  const auto mine = job().fingerprint().to_wire();
  CHECK_FALSE(config::job_mismatch(mine, mine, "on node 't0'"));
  const auto seed = config::job_mismatch(mine, job({"job.seed=7"}).fingerprint().to_wire(), "on node 't0'");
  REQUIRE(seed);
  CHECK_THAT(*seed, Catch::Matchers::Contains("job.seed") && Catch::Matchers::Contains("'7' on node 't0'"));
  CHECK(config::job_mismatch(mine, "", "on node 't0'") == std::optional<std::string>("it sent no job fingerprint"));
  CHECK_THAT(*config::job_mismatch(mine, "garbage", "on node 't0'"), Catch::Matchers::Contains("job fingerprint"));
}
