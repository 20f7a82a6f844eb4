#include "tensor/nn/batch_norm.hpp"

#include "tensor/nn/flat_params.hpp"
#include "tensor/nn/sequential.hpp"

#include "../golden/golden_util.hpp"
#include "../golden/ops_golden.hpp"

using namespace troupe;
using namespace troupe::tensor;
namespace golden = troupe::test::golden;

TEST_CASE("batch_norm layers hold running statistics as buffers under PyTorch's names, not as parameters",
          "[tensor][nn][batch_norm]") {
  nn::sequential m;
  m.add(std::make_unique<nn::batch_norm2d>(3));
  m.add(std::make_unique<nn::batch_norm1d>(2, 0.2f, 1e-3f));
  std::vector<std::string> params, buffers;
  for (auto& p : m.parameters())
    params.push_back(p.name);
  for (auto& b : m.buffers()) {
    buffers.push_back(b.name);
    CHECK_FALSE(b.buffer.requires_grad());
  }
  CHECK(params == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias"});
  CHECK(buffers == std::vector<std::string>{"0.running_mean", "0.running_var", "0.num_batches_tracked",
                                            "1.running_mean", "1.running_var", "1.num_batches_tracked"});
  // The flat layout: the parameters (what optimizers see) first, then the buffers, flagged.
  const nn::param_layout layout = nn::layout_of(m);
  CHECK(layout.params == 3 + 3 + 2 + 2);
  CHECK(layout.total == layout.params + 3 + 3 + 1 + 2 + 2 + 1);
  REQUIRE(layout.entries.size() == 10);
  CHECK_FALSE(layout.entries[3].buffer);
  CHECK(layout.entries[4].name == "0.running_mean");
  CHECK(layout.entries[4].buffer);
  CHECK(layout.entries[4].offset == layout.params);
  const auto b = m.buffers();
  test::require_equal(b[0].buffer.value(), zeros({3}));
  test::require_equal(b[1].buffer.value(), zeros({3}) + 1.0f);
  CHECK(b[2].buffer.shape().empty()); // a scalar, as PyTorch's
  CHECK(m.describe().find("(1): BatchNorm1d(2, eps=0.001, momentum=0.2)") != std::string::npos);
}

TEST_CASE("batchnorm2d updates its running statistics in training and uses them in evaluation, as PyTorch",
          "[tensor][nn][batch_norm][golden]") {
  nn::batch_norm2d bn(2);
  auto params = bn.parameters();
  params[0].param.value() = golden::fill({2}, 0.2, 0.5, 1.0);
  params[1].param.value() = golden::fill({2}, 0.3);
  auto buffers = bn.buffers();
  buffers[0].buffer.value() = golden::fill({2}, 0.7, 0.1); // written through the accessor, as a checkpoint would
  buffers[1].buffer.value() = golden::fill({2}, 0.8, 0.5, 1.0);

  REQUIRE(bn.training());
  var y = bn.forward(var(golden::fill({3, 2, 4, 5}, 0.1, 2.0, 0.5)));
  golden::require_golden(y.value(), golden::bn2d_train_y);
  golden::require_golden(bn.running_mean(), golden::bn2d_running_mean);
  golden::require_golden(bn.running_var(), golden::bn2d_running_var);
  CHECK(bn.num_batches_tracked() == 1);

  bn.eval();
  REQUIRE_FALSE(bn.training());
  var y2 = bn.forward(var(golden::fill({3, 2, 4, 5}, 0.4, 1.5)));
  golden::require_golden(y2.value(), golden::bn2d_eval_y);
  golden::require_golden(bn.running_mean(), golden::bn2d_running_mean); // unchanged in evaluation
  CHECK(bn.num_batches_tracked() == 1);

  bn.train(true);
  bn.forward(var(golden::fill({3, 2, 4, 5}, 0.4, 1.5)));
  CHECK(bn.num_batches_tracked() == 2);
}

TEST_CASE("batch_norm layers reject an input of the wrong rank", "[tensor][nn][batch_norm]") {
  nn::batch_norm2d bn(3);
  REQUIRE_THROWS_WITH(bn.forward(var(zeros({4, 3}))),
                      Catch::Contains("BatchNorm2d(3, ") && Catch::Contains("expects an input of rank 4, got [4, 3]"));
  REQUIRE_THROWS_WITH(nn::batch_norm1d(2, 1.5f), Catch::Contains("momentum must be in [0, 1]"));
}
