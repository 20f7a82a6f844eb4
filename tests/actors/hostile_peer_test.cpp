// A running cluster keeps training while a peer of the same cluster sends it malformed
// protocol messages; the bad messages are refused and logged, nothing crashes.

#include "actors/node.hpp"

#include <sstream>
#include <thread>

#include "config/topology.hpp"
#include "net/van.hpp"
#include "ps/protocol.hpp"
#include "train/model_file.hpp"

#include "cluster_test_util.hpp"

using namespace troupe;

namespace {

/// A message as a peer could forge it: any type, any recipient, any meta.
net::message forged(net::msg_type t, const std::string& to, const nlohmann::json& meta) {
  net::message m(t);
  m.h.to = {to};
  m.h.meta = meta.dump();
  return m;
}

} // namespace

TEST_CASE("malformed protocol messages are refused while training goes on", "[actors][cluster][hostile]") {
  test::scratch_dir dir("hostile");
  test::cluster_case c;
  c.transport = "ipc";
  c.trainers = 2;
  c.max_train = 1280;
  const auto topo = config::parse_topology(test::topology_yaml(c, dir.path), "test.yaml");
  actors::run_options o;
  for (const auto& n : topo.cluster.nodes)
    o.nodes.push_back(n.name);
  std::ostringstream console;
  o.out = &console;
  int exit_code = -1;
  std::thread cluster([&] { exit_code = actors::run_nodes(topo, o); });

  net::van_options vo;
  vo.node_name = "intruder";
  vo.cluster_id = net::cluster_id_of(topo.cluster.id);
  net::van evil(vo);
  evil.connect("agg", "ipc://" + (dir.path / "sockets" / "agg.sock").string());
  evil.connect("loader", "ipc://" + (dir.path / "sockets" / "loader.sock").string());
  using net::msg_type;
  // No meta at all, a rank outside the job, missing fields, a gradient of the wrong size,
  // a batch request for a rank that does not exist, a message for an actor that does not exist.
  net::message no_meta(msg_type::push_gradient);
  evil.send("agg", std::move(no_meta));
  evil.send("agg", forged(msg_type::hello, ps::aggregator_name, {{"rank", 99}}));
  evil.send("agg", forged(msg_type::push_gradient, ps::aggregator_name, {{"rank", 0}}));
  auto wrong_size = forged(msg_type::push_gradient, ps::aggregator_name,
                           {{"rank", 0}, {"loss_sum", 1.0}, {"n", 4}, {"correct1", 0}, {"correct5", 0}});
  wrong_size.add_tensor("grad", {3}, std::vector<float>{1.f, 2.f, 3.f});
  evil.send("agg", std::move(wrong_size));
  evil.send("loader", forged(msg_type::request_batches, ps::loader_name, {{"rank", 7}, {"credits", 1000}}));
  evil.send("agg", forged(msg_type::shutdown, "nobody-here", nlohmann::json::object()));

  cluster.join();
  evil.stop();
  INFO(console.str());
  REQUIRE(exit_code == 0);
  const auto final_model = dir.path / "checkpoints" / "model_final.trpm";
  REQUIRE(std::filesystem::exists(final_model));
  double acc = -1;
  for (const auto& rec : test::read_records(dir.path / "metrics" / "agg.jsonl"))
    if (rec.contains("test_acc"))
      acc = rec["test_acc"].get<double>();
  REQUIRE(acc > 0.3);
}
