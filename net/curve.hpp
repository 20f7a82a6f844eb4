#pragma once
/// CurveZMQ key pairs and key files: what a node proves it is, and whom it lets in.
///
/// Keys are the 40-character Z85 text form of a Curve25519 key (libzmq's zmq_curve_keypair).
/// A key file holds one node's pair and must be readable by its owner only (mode 0600, like an
/// ssh private key); the public half also goes into the topology YAML as that node's `public_key`.
///
/// Key file format (text, one `name = "value"` per line, '#' starts a comment):
///   # Troupe CURVE key pair of node 'trainer-0'; keep it secret (mode 0600)
///   node = "trainer-0"
///   public-key = "<40 Z85 characters>"
///   secret-key = "<40 Z85 characters>"

#include <map>
#include <string>
#include <string_view>

namespace troupe::net {

struct curve_keypair {
  std::string public_key; ///< Z85, 40 characters
  std::string secret_key; ///< Z85, 40 characters
};

/// Whether this libzmq was built with CURVE (libsodium); Debian's is.
bool curve_available();

/// A fresh key pair; throws troupe::error if libzmq has no CURVE.
curve_keypair generate_curve_keypair();

/// Whether `text` is a well-formed Z85 Curve25519 key (40 characters of the Z85 alphabet).
bool is_curve_key(std::string_view text);

/// The public key that belongs to `secret_key`; throws troupe::error if it is not a key.
std::string curve_public_of(const std::string& secret_key);

/// Writes `keys` for `node` to `path` with mode 0600, atomically. Refuses to replace an existing
/// file unless `overwrite` (a lost secret key locks the node out until the YAML is updated).
void write_key_file(const std::string& path, const std::string& node, const curve_keypair& keys,
                    bool overwrite = false);

/// Reads a key file written by write_key_file. Throws troupe::error naming the file (and line) if it
/// is missing, group/world-accessible, malformed, or its public key does not belong to its secret key.
curve_keypair read_key_file(const std::string& path);

/// What a van needs to speak CURVE: its own pair and the public key of every node it may talk to.
struct curve_options {
  bool enabled = false;
  curve_keypair own;
  /// Node name -> public key. Only these keys may connect to this node (enforced by ZAP, and the
  /// key must belong to the name the peer claims); connecting to a peer expects its key from here.
  std::map<std::string, std::string> peers;
};

} // namespace troupe::net
