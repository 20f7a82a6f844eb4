// `troupe-node keygen`: a CURVE key pair for one node (net/curve.hpp, docs/security.md).

#include <exception>
#include <filesystem>
#include <iostream>
#include <string>
#include <system_error>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "apps/commands.hpp"
#include "common/error.hpp"
#include "net/curve.hpp"

namespace troupe::apps {

int keygen_command(int argc, char** argv) {
  std::string node, dir = "keys";
  bool force = false;
  CLI::App app{"Writes a CURVE key pair for one node to <dir>/<node>.key (mode 0600) and prints its public key "
               "for the topology YAML"};
  app.name("troupe-node keygen");
  app.add_option("--name", node, "the node's name in the topology")->required();
  app.add_option("--dir", dir, "directory of key files (cluster.security.key_dir; created 0700 if missing)");
  app.add_flag("--force", force, "replace an existing key file (the old public key stops working)");
  CLI11_PARSE(app, argc, argv);
  try {
    std::error_code ec;
    if (std::filesystem::create_directories(dir, ec))
      std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    TROUPE_ENFORCE(std::filesystem::is_directory(dir), "{}: not a directory and cannot be created: {}", dir,
                   ec ? ec.message() : std::string("exists as a file"));
    const auto keys = net::generate_curve_keypair();
    const auto path = (std::filesystem::path(dir) / (node + ".key")).string();
    net::write_key_file(path, node, keys, force);
    std::cout << fmt::format("troupe-node keygen: wrote {} (mode 0600; copy it only to the host of node '{}')\n"
                             "Add to node '{}' in the topology:\n      public_key: \"{}\"\n",
                             path, node, node, keys.public_key);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "troupe-node keygen: error: " << e.what() << '\n';
    return 1;
  }
}

} // namespace troupe::apps
