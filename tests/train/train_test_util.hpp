#pragma once
// Shared helpers for the training tests.

#include "tests/support/test_env.hpp"
