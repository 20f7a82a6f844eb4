#pragma once
/// Test helper: the message of the troupe::error that a callable throws.

#include <string>

#include <catch2/catch.hpp>

#include "common/error.hpp"

namespace troupe::optim::test {

/// Calls `f` and returns what() of the troupe::error it throws; fails the test if it throws none.
template <class F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const troupe::error& e) {
    return e.what();
  }
  FAIL("expected a troupe::error, but nothing was thrown");
  return {};
}

} // namespace troupe::optim::test
