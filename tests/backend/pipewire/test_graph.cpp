// Graph: the registry mirror's name lookups and the connections it reports for a node.
#include <gtest/gtest.h>

#include <optional>
#include <vector>

#include "backend/pipewire/graph.hpp"

namespace {

using clipd::backend::PortConnection;
using clipd::backend::pipewire::Graph;

Graph sample() {
  Graph g;
  g.add_node(10, "clipd");
  g.add_port(11, 10, "out_1", true);
  g.add_port(12, 10, "out_2", true);
  g.add_port(13, 10, "midi_in", false);
  g.add_node(20, "alsa_output.pci-0000_00_1f.3.analog-stereo");
  g.add_port(21, 20, "playback_FL", false);
  g.add_port(22, 20, "playback_FR", false);
  g.add_port(23, 20, "monitor_FL", true);
  g.add_node(30, "bluez:odd:name");  // a node name with colons
  g.add_port(31, 30, "in", false);
  g.add_node(40, "midi-src");
  g.add_port(41, 40, "out", true);
  return g;
}

TEST(Graph, FindsPortsByFullNameAndDirection) {
  const Graph g = sample();
  EXPECT_EQ(g.find_port("clipd:out_1", true), std::optional<std::uint32_t>(11));
  EXPECT_EQ(g.find_port("clipd:out_1", false), std::nullopt);  // an output, not an input
  EXPECT_EQ(g.find_port("alsa_output.pci-0000_00_1f.3.analog-stereo:playback_FR", false),
            std::optional<std::uint32_t>(22));
  EXPECT_EQ(g.find_port("bluez:odd:name:in", false), std::optional<std::uint32_t>(31));
  EXPECT_EQ(g.find_port("no-colon", true), std::nullopt);
  EXPECT_EQ(g.find_port("clipd:", true), std::nullopt);
  EXPECT_EQ(g.find_port("nobody:out_1", true), std::nullopt);
  EXPECT_EQ(g.find_node_port(10, "midi_in", false), std::optional<std::uint32_t>(13));
  EXPECT_EQ(g.find_node_port(10, "midi_in", true), std::nullopt);
  EXPECT_EQ(g.full_name(23), "alsa_output.pci-0000_00_1f.3.analog-stereo:monitor_FL");
  EXPECT_EQ(g.full_name(99), "");
  EXPECT_EQ(g.port_count(10), 3u);
}

TEST(Graph, FindsASinksPortsByChannel) {
  Graph g;
  g.add_node(10, "sink");
  g.add_port(11, 10, "monitor_FL", true, "FL");  // a monitor output carries FL too
  g.add_port(12, 10, "playback_FL", false, "FL");
  g.add_port(13, 10, "playback_FR", false, "FR");
  g.add_port(14, 10, "playback_aux", false);  // no audio.channel
  g.add_node(20, "other");
  g.add_port(21, 20, "in_left", false, "FL");
  EXPECT_EQ(g.find_channel_port("sink", "FL", false), std::optional<std::uint32_t>(12));
  EXPECT_EQ(g.find_channel_port("sink", "FR", false), std::optional<std::uint32_t>(13));
  EXPECT_EQ(g.find_channel_port("sink", "FL", true), std::optional<std::uint32_t>(11));
  EXPECT_EQ(g.find_channel_port("other", "FL", false), std::optional<std::uint32_t>(21));
  EXPECT_EQ(g.find_channel_port("sink", "RL", false), std::nullopt);
  EXPECT_EQ(g.find_channel_port("nobody", "FL", false), std::nullopt);
  EXPECT_EQ(g.find_channel_port("sink", "", false), std::nullopt);  // no channel is no match
}

TEST(Graph, ReportsTheLinksOfOneNodeFromItsSide) {
  Graph g = sample();
  g.add_link(50, 11, 21);
  g.add_link(51, 12, 31);
  g.add_link(52, 41, 13);
  g.add_link(53, 23, 31);  // not ours
  EXPECT_TRUE(g.linked(11, 21));
  EXPECT_FALSE(g.linked(21, 11));
  EXPECT_EQ(g.connections_of(10),
            (std::vector<PortConnection>{
                {"out_1", "alsa_output.pci-0000_00_1f.3.analog-stereo:playback_FL"},
                {"out_2", "bluez:odd:name:in"},
                {"midi_in", "midi-src:out"}}));
  // A link goes, then the far node: only what is still known is reported.
  EXPECT_TRUE(g.remove(51));
  EXPECT_FALSE(g.remove(40));  // a node, not a link
  EXPECT_EQ(g.connections_of(10),
            (std::vector<PortConnection>{
                {"out_1", "alsa_output.pci-0000_00_1f.3.analog-stereo:playback_FL"}}));
  g.clear();
  EXPECT_TRUE(g.connections_of(10).empty());
}

TEST(Graph, LeavesOutTheLinksBetweenThePairsAskedToSkip) {
  Graph g = sample();
  g.add_link(50, 11, 21);
  g.add_link(51, 12, 31);
  g.add_link(52, 41, 13);
  const std::pair<std::uint32_t, std::uint32_t> skip[] = {{11, 21}, {41, 13}, {21, 11}};
  EXPECT_EQ(g.connections_of(10, skip),
            (std::vector<PortConnection>{{"out_2", "bluez:odd:name:in"}}));
  EXPECT_EQ(g.link_ports(51), (std::optional<std::pair<std::uint32_t, std::uint32_t>>({12, 31})));
  EXPECT_EQ(g.link_ports(40), std::nullopt);  // a node
  g.add_link(55, 12, 21, 7);
  g.add_link(56, 11, 31, 7);
  g.add_link(57, 23, 21, 8);
  EXPECT_EQ(g.links_of_owner(7),
            (std::vector<std::pair<std::uint32_t, std::uint32_t>>{{12, 21}, {11, 31}}));
  EXPECT_TRUE(g.links_of_owner(Graph::kNoOwner).empty());  // links of unknown owners
  EXPECT_TRUE(g.remove(55));
  EXPECT_TRUE(g.remove(56));
  EXPECT_TRUE(g.remove(57));
  // The pair, not the ports: the other links of a skipped port stay.
  g.add_link(54, 11, 31);
  EXPECT_EQ(g.connections_of(10, skip),
            (std::vector<PortConnection>{{"out_2", "bluez:odd:name:in"},
                                         {"out_1", "bluez:odd:name:in"}}));
}

}  // namespace
