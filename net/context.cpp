#include "net/context.hpp"

#include <array>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include <zmq.hpp>

#include "common/error.hpp"

namespace troupe::net {

namespace {

constexpr const char* zap_endpoint = "inproc://zeromq.zap.01"; // fixed by RFC 27
constexpr std::size_t curve_key_bytes = 32;

} // namespace

struct context::state {
  struct domain_entry {
    std::map<std::string, std::string> names; // binary public key (32 bytes) -> node name
    deny_handler on_deny;
  };

  zmq::context_t ctx; // first: destroyed last, after the ZAP thread has closed its socket

  std::mutex mu;
  std::map<std::string, domain_entry> domains;
  std::atomic<bool> stopping{false};
  std::thread zap;

  explicit state(int io_threads) : ctx(io_threads) {}
  ~state() {
    stopping = true;
    if (zap.joinable())
      zap.join();
  }

  /// Binds the ZAP socket here (so no handshake can precede it) and serves it on a thread. mu held.
  void start_zap_locked() {
    if (zap.joinable())
      return;
    zmq::socket_t rep(ctx, zmq::socket_type::rep);
    rep.set(zmq::sockopt::linger, 0);
    rep.bind(zap_endpoint);
    zap = std::thread([this, s = std::move(rep)]() mutable { serve(s); });
  }

  void serve(zmq::socket_t& s) {
    while (!stopping) {
      zmq::pollitem_t item{s.handle(), 0, ZMQ_POLLIN, 0};
      try {
        if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0)
          continue;
        std::vector<zmq::message_t> req;
        for (bool more = true; more;) {
          zmq::message_t part;
          if (!s.recv(part, zmq::recv_flags::none))
            break;
          more = part.more();
          req.push_back(std::move(part));
        }
        answer(s, req);
      } catch (const zmq::error_t& e) {
        if (e.num() == ETERM)
          break;
        // EINTR and the like: keep serving; a lost request only fails that one handshake.
      }
    }
    s.close();
  }

  void answer(zmq::socket_t& s, const std::vector<zmq::message_t>& req) {
    // Request: version, request id, domain, address, identity, mechanism, credentials...
    std::string request_id = req.size() > 1 ? req[1].to_string() : std::string("0");
    std::string status = "400", text, user;
    {
      // The deny handler runs under mu, so zap_forget() returning means it is not running any more.
      std::lock_guard<std::mutex> lk(mu);
      std::string address;
      const domain_entry* d = nullptr;
      if (req.size() < 6 || req[0].to_string() != "1.0") {
        text = "malformed ZAP request";
      } else {
        address = req[3].to_string();
        const std::string domain = req[2].to_string();
        const std::string mechanism = req[5].to_string();
        auto it = domains.find(domain);
        d = it == domains.end() ? nullptr : &it->second;
        if (d == nullptr && mechanism == "NULL") {
          status = "200"; // a plaintext socket of this process (CURVE servers always carry a Troupe domain)
          text = "OK";
        } else if (d == nullptr) {
          text = fmt::format("no node serves ZAP domain '{}'", domain);
        } else if (mechanism != "CURVE" || req.size() != 7 || req[6].size() != curve_key_bytes) {
          text = fmt::format("mechanism {} refused: this node accepts CURVE only", mechanism);
        } else if (auto k = d->names.find(req[6].to_string()); k == d->names.end()) {
          std::array<char, 41> z85{};
          zmq_z85_encode(z85.data(), static_cast<const std::uint8_t*>(req[6].data()), curve_key_bytes);
          text = fmt::format("public key {} is not listed in the cluster's topology", z85.data());
        } else {
          status = "200";
          text = "OK";
          user = k->second;
        }
      }
      if (status != "200" && d != nullptr && d->on_deny) {
        try {
          d->on_deny(address, text);
        } catch (...) {
          // The handler only observes.
        }
      }
    }
    const std::array<std::string, 6> reply{"1.0", request_id, status, text, user, ""};
    for (std::size_t i = 0; i < reply.size(); ++i)
      s.send(zmq::buffer(reply[i]), i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
  }
};

context context::create(int io_threads) {
  TROUPE_ENFORCE(io_threads >= 1, "a ZeroMQ context needs at least one I/O thread, got {}", io_threads);
  context c;
  c.s_ = std::make_shared<state>(io_threads);
  return c;
}

zmq::context_t& context::native() const {
  TROUPE_ENFORCE(s_ != nullptr, "empty net::context");
  return s_->ctx;
}

void context::zap_allow(const std::string& domain, const std::map<std::string, std::string>& key_to_name,
                        deny_handler on_deny) {
  TROUPE_ENFORCE(s_ != nullptr, "empty net::context");
  state::domain_entry e;
  for (const auto& [key, name] : key_to_name) {
    std::array<std::uint8_t, curve_key_bytes> bin{};
    TROUPE_ENFORCE(key.size() == 40 && zmq_z85_decode(bin.data(), key.c_str()) != nullptr,
                   "public key of '{}' is not a 40-character Z85 CURVE key: '{}'", name, key);
    e.names.emplace(std::string(reinterpret_cast<const char*>(bin.data()), bin.size()), name);
  }
  e.on_deny = std::move(on_deny);
  std::lock_guard<std::mutex> lk(s_->mu);
  s_->domains[domain] = std::move(e);
  s_->start_zap_locked();
}

void context::zap_forget(const std::string& domain) {
  if (!s_)
    return;
  std::lock_guard<std::mutex> lk(s_->mu);
  s_->domains.erase(domain);
}

} // namespace troupe::net
