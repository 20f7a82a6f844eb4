#pragma once
/// Project-wide error type and the one precondition macro (gloo's GLOO_ENFORCE habit).

#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace troupe {

/// Every error Troupe raises on bad input or a broken precondition; the message says what and where.
class error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

namespace detail {
[[noreturn]] void enforce_failed(const char* file, int line, const char* cond, const std::string& msg);
} // namespace detail

} // namespace troupe

/// Throws troupe::error with file:line, the failed condition and a formatted explanation.
#define TROUPE_ENFORCE(cond, ...)                                                                                      \
  do {                                                                                                                 \
    if (!(cond))                                                                                                       \
      ::troupe::detail::enforce_failed(__FILE__, __LINE__, #cond, ::fmt::format(__VA_ARGS__));                         \
  } while (false)
