#include "config/model_graph.hpp"

#include <algorithm>
#include <cctype>
#include <map>

#include <fmt/format.h>

#include "common/error.hpp"
#include "config/closest_match.hpp"

namespace troupe::config {

namespace {

/// The name `inputs:` uses for the model's input.
const std::string input_name = "input";

/// "where: path: problem", where falling back to the file name when the spec was built by hand.
[[noreturn]] void fail_at(const model_spec& spec, const std::string& where, const std::string& path,
                          const std::string& problem) {
  const std::string& site = where.empty() ? spec.source : where;
  throw error(fmt::format("{}{}{}: {}", site, site.empty() ? "" : ": ", path, problem));
}

/// How errors name a layer: 'stem', or layers[3] when it has no name.
std::string display(const model_spec& spec, std::size_t i) {
  return spec.layers[i].name.empty() ? fmt::format("layers[{}]", i) : "'" + spec.layers[i].name + "'";
}

bool valid_name(const std::string& name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_'))
    return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; });
}

/// A cycle among `pending` layers (each reads at least one other pending layer), in reading order.
std::vector<std::size_t> find_cycle(const model_graph& g, const std::vector<bool>& pending, std::size_t start) {
  std::vector<std::size_t> path;
  std::vector<std::size_t> seen_at(pending.size(), model_graph::model_input);
  std::size_t at = start;
  while (seen_at[at] == model_graph::model_input) {
    seen_at[at] = path.size();
    path.push_back(at);
    for (std::size_t from : g.inputs[at])
      if (from != model_graph::model_input && pending[from]) {
        at = from;
        break;
      }
  }
  std::vector<std::size_t> cycle(path.begin() + static_cast<std::ptrdiff_t>(seen_at[at]), path.end());
  std::reverse(cycle.begin(), cycle.end()); // a layer, then the layers that read it
  cycle.push_back(cycle.front());
  return cycle;
}

} // namespace

bool is_join(const std::string& type) {
  return type == "add" || type == "concat";
}

std::string node_name(const model_spec& spec, std::size_t layer) {
  const std::string& name = spec.layers.at(layer).name;
  return name.empty() ? std::to_string(layer) : name;
}

model_graph resolve_graph(const model_spec& spec) {
  const std::size_t n = spec.layers.size();
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < n; ++i) {
    const layer_spec& l = spec.layers[i];
    if (l.name.empty())
      continue;
    const std::string path = fmt::format("layers[{}].name", i);
    if (l.name == input_name)
      fail_at(spec, l.name_where, path, "'input' is reserved for the model's input; choose another name");
    if (!valid_name(l.name))
      fail_at(spec, l.name_where, path,
              fmt::format("'{}' is not a valid name; use letters, digits, '_' and '-', starting with a letter or '_'",
                          l.name));
    const auto [it, fresh] = index.emplace(l.name, i);
    if (!fresh)
      fail_at(
          spec, l.name_where, path,
          fmt::format("duplicate name '{}'; layers[{}]{} is already called so", l.name, it->second,
                      spec.layers[it->second].name_where.empty() ? "" : " at " + spec.layers[it->second].name_where));
  }

  model_graph g;
  g.inputs.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const layer_spec& l = spec.layers[i];
    const std::string base = fmt::format("layers[{}].{}", i, l.type);
    if (l.inputs.empty()) {
      if (is_join(l.type))
        fail_at(spec, l.where, base,
                fmt::format("{} joins several layers; name them with 'inputs: [a, b]' beside '{}:'", l.type, l.type));
      g.inputs[i] = {i == 0 ? model_graph::model_input : i - 1};
    }
    for (std::size_t k = 0; k < l.inputs.size(); ++k) {
      const std::string& in = l.inputs[k];
      const std::string where = k < l.input_where.size() ? l.input_where[k] : l.where;
      const std::string path = fmt::format("layers[{}].inputs[{}]", i, k);
      if (in == input_name) {
        g.inputs[i].push_back(model_graph::model_input);
        continue;
      }
      const auto found = index.find(in);
      if (found == index.end()) {
        std::vector<std::string> names{input_name};
        for (const auto& entry : index)
          names.push_back(entry.first);
        const auto best = closest_match(in, names);
        fail_at(spec, where, path,
                fmt::format("unknown input '{}'{}; the layers named so far are: {}", in,
                            best ? fmt::format(" (did you mean '{}'?)", *best) : "", fmt::join(names, ", ")));
      }
      if (found->second == i)
        fail_at(spec, where, path, fmt::format("layer '{}' cannot read its own output", in));
      g.inputs[i].push_back(found->second);
    }
    if (is_join(l.type) && g.inputs[i].size() < 2)
      fail_at(spec, l.where, base, fmt::format("{} needs at least two inputs, got {}", l.type, g.inputs[i].size()));
    if (!is_join(l.type) && g.inputs[i].size() != 1)
      fail_at(spec, l.where, base,
              fmt::format("{} reads one input, got {} ({}); join them first with add or concat", l.type,
                          g.inputs[i].size(), fmt::join(l.inputs, ", ")));
    // A named layer makes a graph even when wired as a list: its parameters take its name.
    const std::size_t previous = i == 0 ? model_graph::model_input : i - 1;
    if (!l.name.empty() || g.inputs[i] != std::vector<std::size_t>{previous})
      g.sequential = false;
  }

  // Kahn's algorithm, always taking the first ready layer in file order.
  std::vector<std::size_t> waiting(n, 0);
  std::vector<std::vector<std::size_t>> readers(n);
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t from : g.inputs[i])
      if (from != model_graph::model_input) {
        ++waiting[i];
        readers[from].push_back(i);
      }
  std::vector<bool> pending(n, true);
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < n; ++i)
      if (pending[i] && waiting[i] == 0) {
        pending[i] = false;
        g.order.push_back(i);
        for (std::size_t r : readers[i])
          --waiting[r];
        progress = true;
        break;
      }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (pending[i]) {
      std::vector<std::string> names;
      for (std::size_t c : find_cycle(g, pending, i))
        names.push_back(display(spec, c));
      const layer_spec& l = spec.layers[i];
      fail_at(spec, l.input_where.empty() ? l.where : l.input_where.front(), fmt::format("layers[{}].inputs", i),
              fmt::format("the layers form a cycle: {} (each is read by the next)", fmt::join(names, " -> ")));
    }

  for (std::size_t i = 0; i + 1 < n; ++i)
    if (readers[i].empty())
      fail_at(spec, spec.layers[i].where, fmt::format("layers[{}].{}", i, spec.layers[i].type),
              fmt::format("the output of {} is never used: only the last layer is the model's output; "
                          "name it in a later layer's inputs or remove it",
                          display(spec, i)));
  return g;
}

} // namespace troupe::config
