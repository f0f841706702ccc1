#include "backend/pipewire/graph.hpp"

#include <algorithm>
#include <utility>

namespace clipd::backend::pipewire {

void Graph::add_node(std::uint32_t id, std::string name) {
  nodes_[id] = std::move(name);
}

void Graph::add_port(std::uint32_t id, std::uint32_t node, std::string name, bool output,
                     std::string channel) {
  ports_[id] = Port{node, std::move(name), output, std::move(channel)};
}

void Graph::add_link(std::uint32_t id, std::uint32_t output_port, std::uint32_t input_port,
                     std::uint32_t owner) {
  links_[id] = Link{output_port, input_port, owner};
}

bool Graph::remove(std::uint32_t id) {
  nodes_.erase(id);
  ports_.erase(id);
  return links_.erase(id) != 0;
}

std::optional<std::pair<std::uint32_t, std::uint32_t>> Graph::link_ports(std::uint32_t id) const {
  const auto it = links_.find(id);
  if (it == links_.end()) return std::nullopt;
  return std::pair{it->second.output_port, it->second.input_port};
}

std::vector<std::pair<std::uint32_t, std::uint32_t>> Graph::links_of_owner(
    std::uint32_t owner) const {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
  if (owner == kNoOwner) return out;
  for (const auto& [id, link] : links_) {
    if (link.owner == owner) out.emplace_back(link.output_port, link.input_port);
  }
  return out;
}

void Graph::clear() {
  nodes_.clear();
  ports_.clear();
  links_.clear();
}

std::optional<std::uint32_t> Graph::find_port(std::string_view full_name, bool output) const {
  const std::size_t colon = full_name.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view node_name = full_name.substr(0, colon);
  const std::string_view port_name = full_name.substr(colon + 1);
  for (const auto& [id, port] : ports_) {
    if (port.output != output || port.name != port_name) continue;
    const auto node = nodes_.find(port.node);
    if (node != nodes_.end() && node->second == node_name) return id;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> Graph::find_node_port(std::uint32_t node, std::string_view port_name,
                                                   bool output) const {
  for (const auto& [id, port] : ports_) {
    if (port.node == node && port.output == output && port.name == port_name) return id;
  }
  return std::nullopt;
}

std::optional<std::uint32_t> Graph::find_channel_port(std::string_view node_name,
                                                      std::string_view channel, bool output) const {
  if (channel.empty()) return std::nullopt;
  for (const auto& [id, port] : ports_) {
    if (port.output != output || port.channel != channel) continue;
    const auto node = nodes_.find(port.node);
    if (node != nodes_.end() && node->second == node_name) return id;
  }
  return std::nullopt;
}

std::string Graph::full_name(std::uint32_t port) const {
  const auto p = ports_.find(port);
  if (p == ports_.end()) return {};
  const auto node = nodes_.find(p->second.node);
  if (node == nodes_.end()) return {};
  return node->second + ":" + p->second.name;
}

bool Graph::linked(std::uint32_t output_port, std::uint32_t input_port) const {
  for (const auto& [id, link] : links_) {
    if (link.output_port == output_port && link.input_port == input_port) return true;
  }
  return false;
}

std::vector<PortConnection> Graph::connections_of(
    std::uint32_t node, std::span<const std::pair<std::uint32_t, std::uint32_t>> except) const {
  std::vector<PortConnection> out;
  for (const auto& [id, link] : links_) {
    if (std::find(except.begin(), except.end(), std::pair{link.output_port, link.input_port}) !=
        except.end()) {
      continue;
    }
    const auto o = ports_.find(link.output_port);
    const auto i = ports_.find(link.input_port);
    if (o == ports_.end() || i == ports_.end()) continue;
    const bool ours_out = o->second.node == node;
    const bool ours_in = i->second.node == node;
    if (!ours_out && !ours_in) continue;
    const std::string other = full_name(ours_out ? link.input_port : link.output_port);
    if (other.empty()) continue;
    out.push_back({ours_out ? o->second.name : i->second.name, other});
  }
  return out;
}

std::size_t Graph::port_count(std::uint32_t node) const {
  std::size_t n = 0;
  for (const auto& [id, port] : ports_)
    n += port.node == node ? 1 : 0;
  return n;
}

}  // namespace clipd::backend::pipewire
