// clipd/backend/pipewire/graph.hpp: the part of PipeWire's registry the backend needs: nodes,
// ports and links, by global id.
//
// Names: a port's full name is "<node.name>:<port.name>", as pw-link prints it
// ("clipd:out_1", "alsa_output.pci-0000_00_1f.3.analog-stereo:playback_FL"). A name is split at
// its last ':', so node names may hold colons; port names may not.
//
// Thread contract: the registry listener (PipeWire's loop thread) adds and removes; the control
// thread reads; both only while holding the thread loop's lock. Not used on the data thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "backend/backend.hpp"

namespace clipd::backend::pipewire {

class Graph {
 public:
  void add_node(std::uint32_t id, std::string name);
  // `channel`: the port's audio.channel ("FL", "FR", "MONO"...), empty when it has none.
  void add_port(std::uint32_t id, std::uint32_t node, std::string name, bool output,
                std::string channel = {});
  // `owner`: the id of the client that made it (its client.id), kNoOwner when not known.
  static constexpr std::uint32_t kNoOwner = 0xffffffffu;
  void add_link(std::uint32_t id, std::uint32_t output_port, std::uint32_t input_port,
                std::uint32_t owner = kNoOwner);
  // Removes the global; true when it was a link.
  bool remove(std::uint32_t id);
  // The (output port, input port) of link `id`, while the mirror has it.
  std::optional<std::pair<std::uint32_t, std::uint32_t>> link_ports(std::uint32_t id) const;
  // The (output port, input port) of each link client `owner` made.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> links_of_owner(std::uint32_t owner) const;
  void clear();

  // The port named `full_name` ("node:port") going the given way; the lowest id when several
  // nodes share the name.
  std::optional<std::uint32_t> find_port(std::string_view full_name, bool output) const;
  // The port of node `node` named `port_name` going the given way.
  std::optional<std::uint32_t> find_node_port(std::uint32_t node, std::string_view port_name,
                                              bool output) const;
  // The port of the node named `node_name` whose audio.channel is `channel`, going the given
  // way; the lowest id when several match. An empty `channel` matches no port.
  std::optional<std::uint32_t> find_channel_port(std::string_view node_name,
                                                 std::string_view channel, bool output) const;
  // "node:port", or "" when the port or its node is unknown.
  std::string full_name(std::uint32_t port) const;
  bool linked(std::uint32_t output_port, std::uint32_t input_port) const;
  // The links of node `node`'s ports, as (own port name, other port's full name), in link id
  // order; links whose other end is not (yet) known are left out, and so are the links between
  // the (output port, input port) pairs in `except`.
  std::vector<PortConnection> connections_of(
      std::uint32_t node,
      std::span<const std::pair<std::uint32_t, std::uint32_t>> except = {}) const;
  // How many ports node `node` has.
  std::size_t port_count(std::uint32_t node) const;

 private:
  struct Port {
    std::uint32_t node;
    std::string name;
    bool output;
    std::string channel;
  };
  struct Link {
    std::uint32_t output_port;
    std::uint32_t input_port;
    std::uint32_t owner;
  };
  std::map<std::uint32_t, std::string> nodes_;
  std::map<std::uint32_t, Port> ports_;
  std::map<std::uint32_t, Link> links_;
};

}  // namespace clipd::backend::pipewire
