#include "observe/prometheus.hpp"

#include <atomic>
#include <cmath>
#include <thread>

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include "common/error.hpp"

namespace troupe::observe {

namespace {

bool valid_name(const std::string& name, bool colon_allowed) {
  if (name.empty())
    return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_allowed && c == ':') ||
                    (i > 0 && c >= '0' && c <= '9');
    if (!ok)
      return false;
  }
  return true;
}

void check_labels(const std::string& metric, const label_set& labels) {
  for (const auto& [k, v] : labels)
    TROUPE_ENFORCE(valid_name(k, false) && k.rfind("__", 0) != 0,
                   "metric {}: label name '{}' must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __", metric, k);
}

} // namespace

std::string escape_exposition(const std::string& text, bool in_label) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else if (c == '"' && in_label)
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

std::string format_sample_value(double v) {
  if (std::isnan(v))
    return "NaN";
  if (std::isinf(v))
    return v > 0 ? "+Inf" : "-Inf";
  return fmt::format("{}", v);
}

void registry::declare(const std::string& name, metric_kind kind, const std::string& help) {
  TROUPE_ENFORCE(valid_name(name, true), "metric name '{}' must match [a-zA-Z_:][a-zA-Z0-9_:]*", name);
  std::lock_guard<std::mutex> lock(mutex_);
  const auto [it, fresh] = families_.try_emplace(name, family{kind, help, {}});
  TROUPE_ENFORCE(fresh || it->second.kind == kind, "metric {} declared again as a {}", name,
                 kind == metric_kind::counter ? "counter" : "gauge");
}

registry::family& registry::family_of(const std::string& name) {
  const auto it = families_.find(name);
  TROUPE_ENFORCE(it != families_.end(), "metric {} is not declared", name);
  return it->second;
}

void registry::add(const std::string& name, const label_set& labels, double delta) {
  check_labels(name, labels);
  std::lock_guard<std::mutex> lock(mutex_);
  auto& f = family_of(name);
  TROUPE_ENFORCE(f.kind == metric_kind::gauge || delta >= 0, "counter {}: cannot add {}", name, delta);
  f.samples[labels] += delta;
}

void registry::set(const std::string& name, const label_set& labels, double value) {
  check_labels(name, labels);
  std::lock_guard<std::mutex> lock(mutex_);
  family_of(name).samples[labels] = value;
}

std::optional<double> registry::value(const std::string& name, const label_set& labels) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto f = families_.find(name);
  if (f == families_.end())
    return std::nullopt;
  const auto s = f->second.samples.find(labels);
  if (s == f->second.samples.end())
    return std::nullopt;
  return s->second;
}

std::string registry::exposition() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::string out;
  for (const auto& [name, f] : families_) {
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, escape_exposition(f.help, false), name,
                       f.kind == metric_kind::counter ? "counter" : "gauge");
    for (const auto& [labels, v] : f.samples) {
      out += name;
      if (!labels.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [k, lv] : labels) {
          out += fmt::format("{}{}=\"{}\"", first ? "" : ",", k, escape_exposition(lv, true));
          first = false;
        }
        out += '}';
      }
      out += ' ' + format_sample_value(v) + '\n';
    }
  }
  return out;
}

struct prometheus_exporter::impl {
  httplib::Server server;
  std::thread thread;
  std::atomic<bool> listen_returned{false};
};

prometheus_exporter::prometheus_exporter(const registry& reg, const std::string& host, int port)
    : impl_(std::make_unique<impl>()) {
  auto& server = impl_->server;
  // One worker and no keep-alive: a scrape is one short request; the default pool would start
  // max(8, cores - 1) threads per node.
  server.new_task_queue = [] { return new httplib::ThreadPool(1); };
  server.set_keep_alive_max_count(1);
  server.set_read_timeout(2, 0); // bounds how long stop() waits for a client that sends nothing
  // httplib's default sets SO_REUSEPORT, which lets a second process bind the same port and take
  // half the scrapes; SO_REUSEADDR alone still allows a quick restart over TIME_WAIT.
  server.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server.Get("/metrics", [&reg](const httplib::Request&, httplib::Response& res) {
    res.set_content(reg.exposition(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (port == 0) {
    port_ = server.bind_to_any_port(host);
  } else {
    port_ = server.bind_to_port(host, port) ? port : -1;
  }
  if (port_ <= 0)
    throw error(fmt::format("prometheus exporter: cannot bind {}:{}", host, port));
  impl_->thread = std::thread([this] {
    impl_->server.listen_after_bind();
    impl_->listen_returned.store(true);
  });
}

prometheus_exporter::~prometheus_exporter() {
  stop();
}

void prometheus_exporter::stop() {
  if (!impl_ || !impl_->thread.joinable())
    return;
  // httplib's stop() does nothing until the listen loop has started (it checks is_running()), so
  // wait for the thread to get there; it is either running or has already returned on an error.
  while (!impl_->server.is_running() && !impl_->listen_returned.load())
    std::this_thread::yield();
  impl_->server.stop();
  impl_->thread.join();
}

} // namespace troupe::observe
