#include "net/curve.hpp"

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zmq.h>

#include "common/error.hpp"

namespace troupe::net {

namespace {

constexpr std::size_t z85_key_chars = 40;
constexpr std::string_view z85_alphabet =
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Closes a file descriptor on scope exit.
struct fd_guard {
  int fd = -1;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

std::string sys_error() {
  return std::strerror(errno);
}

} // namespace

bool curve_available() {
  return zmq_has("curve") != 0;
}

curve_keypair generate_curve_keypair() {
  TROUPE_ENFORCE(curve_available(), "this libzmq was built without CURVE (libsodium); cannot make keys");
  std::array<char, z85_key_chars + 1> pub{}, sec{};
  TROUPE_ENFORCE(zmq_curve_keypair(pub.data(), sec.data()) == 0, "zmq_curve_keypair failed: {}",
                 zmq_strerror(zmq_errno()));
  return {std::string(pub.data()), std::string(sec.data())};
}

bool is_curve_key(std::string_view text) {
  if (text.size() != z85_key_chars)
    return false;
  for (char c : text)
    if (z85_alphabet.find(c) == std::string_view::npos)
      return false;
  return true;
}

std::string curve_public_of(const std::string& secret_key) {
  TROUPE_ENFORCE(is_curve_key(secret_key), "a CURVE secret key must be {} Z85 characters", z85_key_chars);
  std::array<char, z85_key_chars + 1> pub{};
  TROUPE_ENFORCE(zmq_curve_public(pub.data(), secret_key.c_str()) == 0, "zmq_curve_public failed: {}",
                 zmq_strerror(zmq_errno()));
  return std::string(pub.data());
}

void write_key_file(const std::string& path, const std::string& node, const curve_keypair& keys, bool overwrite) {
  TROUPE_ENFORCE(is_curve_key(keys.public_key) && is_curve_key(keys.secret_key), "{}: not a CURVE key pair", path);
  const std::string text = fmt::format("# Troupe CURVE key pair of node '{}'; keep it secret (mode 0600).\n"
                                       "# Its public key goes into the topology YAML as that node's public_key.\n"
                                       "node = \"{}\"\npublic-key = \"{}\"\nsecret-key = \"{}\"\n",
                                       node, node, keys.public_key, keys.secret_key);
  const std::string tmp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    fd_guard f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
    TROUPE_ENFORCE(f.fd >= 0, "{}: cannot create: {}", tmp, sys_error());
    const bool ok = ::fchmod(f.fd, 0600) == 0 && // whatever the umask
                    ::write(f.fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(f.fd) == 0;
    if (!ok) {
      const auto why = sys_error();
      ::unlink(tmp.c_str());
      throw troupe::error(fmt::format("{}: cannot write: {}", tmp, why));
    }
  }
  // link() refuses an existing target, so two keygens never silently replace each other's secret.
  const int rc = overwrite ? ::rename(tmp.c_str(), path.c_str()) : ::link(tmp.c_str(), path.c_str());
  const int err = errno;
  if (!overwrite || rc != 0)
    ::unlink(tmp.c_str());
  if (rc != 0) {
    if (err == EEXIST)
      throw troupe::error(fmt::format("{}: a key file already exists; remove it first or pass --force (the nodes "
                                      "that list its public key will then refuse this node until the YAML is updated)",
                                      path));
    throw troupe::error(fmt::format("{}: cannot create: {}", path, std::strerror(err)));
  }
}

curve_keypair read_key_file(const std::string& path) {
  struct stat st {};
  TROUPE_ENFORCE(::stat(path.c_str(), &st) == 0, "key file {}: {} (make one with `troupe-node keygen`)", path,
                 sys_error());
  TROUPE_ENFORCE(S_ISREG(st.st_mode), "key file {}: not a regular file", path);
  TROUPE_ENFORCE((st.st_mode & 077) == 0,
                 "key file {}: mode {:04o} lets other users read the secret key; run `chmod 600 {}`", path,
                 st.st_mode & 07777, path);
  std::ifstream in(path);
  TROUPE_ENFORCE(in.good(), "key file {}: cannot open", path);
  curve_keypair keys;
  std::string line;
  for (std::size_t no = 1; std::getline(in, line); ++no) {
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos || line[first] == '#')
      continue;
    const auto eq = line.find('=');
    const auto open = line.find('"', eq == std::string::npos ? 0 : eq);
    const auto close = open == std::string::npos ? open : line.find('"', open + 1);
    TROUPE_ENFORCE(eq != std::string::npos && close != std::string::npos,
                   "key file {}:{}: expected name = \"value\", got '{}'", path, no, line);
    std::string name = line.substr(first, eq - first);
    name.erase(name.find_last_not_of(" \t") + 1);
    const std::string value = line.substr(open + 1, close - open - 1);
    if (name == "public-key" || name == "secret-key") {
      TROUPE_ENFORCE(is_curve_key(value), "key file {}:{}: {} is not a {}-character Z85 key", path, no, name,
                     z85_key_chars);
      (name == "public-key" ? keys.public_key : keys.secret_key) = value;
    } else {
      TROUPE_ENFORCE(name == "node", "key file {}:{}: unknown entry '{}' (expected node, public-key, secret-key)", path,
                     no, name);
    }
  }
  TROUPE_ENFORCE(!keys.secret_key.empty(), "key file {}: no secret-key entry", path);
  const std::string derived = curve_public_of(keys.secret_key);
  if (keys.public_key.empty())
    keys.public_key = derived;
  TROUPE_ENFORCE(keys.public_key == derived, "key file {}: its public-key does not belong to its secret-key", path);
  return keys;
}

} // namespace troupe::net
