// read_midi_sequence: PipeWire control sequences, built with the SPA builder, read into views.
#include <gtest/gtest.h>
#include <spa/control/control.h>
#include <spa/pod/builder.h>

#include <cstdint>
#include <vector>

#include "backend/pipewire/midi_sequence.hpp"

namespace {

using clipd::backend::pipewire::MidiRead;
using clipd::backend::pipewire::read_midi_sequence;
using clipd::engine::MidiEventView;

struct Control {
  std::uint32_t offset;
  std::uint32_t type;
  std::vector<std::uint8_t> bytes;
};

// A sequence of `controls` in a buffer, as a MIDI port's chunk holds it; returns its size.
std::uint32_t build(std::vector<std::uint8_t>& buffer, const std::vector<Control>& controls) {
  spa_pod_builder b{};
  spa_pod_builder_init(&b, buffer.data(), static_cast<std::uint32_t>(buffer.size()));
  spa_pod_frame f{};
  spa_pod_builder_push_sequence(&b, &f, 0);
  for (const Control& c : controls) {
    spa_pod_builder_control(&b, c.offset, c.type);
    spa_pod_builder_bytes(&b, c.bytes.data(), static_cast<std::uint32_t>(c.bytes.size()));
  }
  spa_pod_builder_pop(&b, &f);
  return b.state.offset;
}

TEST(MidiSequence, ReadsMidiControlsInOrderWithTheirOffsets) {
  std::vector<std::uint8_t> buffer(4096);
  const std::uint32_t size = build(buffer, {{0, SPA_CONTROL_Midi, {0x90, 60, 100}},
                                            {5, SPA_CONTROL_Properties, {1, 2, 3, 4}},
                                            {5, SPA_CONTROL_Midi, {0x80, 60, 0}},
                                            {255, SPA_CONTROL_Midi, {0xb0, 0x7b, 0}}});
  MidiEventView out[8];
  const MidiRead r = read_midi_sequence(buffer.data(), 4096, 0, size, 256, out, 8);
  ASSERT_EQ(r.count, 3u);
  EXPECT_EQ(r.overflow, 0u);
  EXPECT_EQ(out[0].offset, 0u);
  EXPECT_EQ(out[0].size, 3u);
  EXPECT_EQ(out[0].data[0], 0x90);
  EXPECT_EQ(out[0].data[1], 60);
  EXPECT_EQ(out[1].offset, 5u);
  EXPECT_EQ(out[1].data[0], 0x80);
  EXPECT_EQ(out[2].offset, 255u);
  EXPECT_EQ(out[2].data[1], 0x7b);
  // The views point into the buffer.
  EXPECT_GE(out[2].data, buffer.data());
  EXPECT_LT(out[2].data, buffer.data() + size);
}

TEST(MidiSequence, ClampsOffsetsIntoTheCycleAndKeepsThemInOrder) {
  std::vector<std::uint8_t> buffer(4096);
  const std::uint32_t size = build(buffer, {{100, SPA_CONTROL_Midi, {0x90, 1, 1}},
                                            {40, SPA_CONTROL_Midi, {0x90, 2, 1}},
                                            {300, SPA_CONTROL_Midi, {0x90, 3, 1}},
                                            {7, SPA_CONTROL_Midi, {}}});
  MidiEventView out[8];
  const MidiRead r = read_midi_sequence(buffer.data(), 4096, 0, size, 128, out, 8);
  ASSERT_EQ(r.count, 3u);  // the empty message is skipped
  EXPECT_EQ(out[0].offset, 100u);
  EXPECT_EQ(out[1].offset, 100u);  // raised to the previous offset
  EXPECT_EQ(out[2].offset, 127u);  // clamped to the cycle's last frame
}

TEST(MidiSequence, CountsEventsPastTheCapacity) {
  std::vector<std::uint8_t> buffer(1 << 16);
  std::vector<Control> controls;
  for (std::uint32_t i = 0; i < 40; ++i)
    controls.push_back({i, SPA_CONTROL_Midi, {0xb0, 0x7b, 0}});
  const std::uint32_t size = build(buffer, controls);
  MidiEventView out[32];
  const MidiRead r = read_midi_sequence(buffer.data(), 1 << 16, 0, size, 1024, out, 32);
  EXPECT_EQ(r.count, 32u);
  EXPECT_EQ(r.overflow, 8u);
  EXPECT_EQ(out[31].offset, 31u);
}

TEST(MidiSequence, ASequenceThatOutgrewItsBufferGivesTheControlsInside) {
  std::vector<std::uint8_t> buffer(4096);
  const std::uint32_t size = build(buffer, {{0, SPA_CONTROL_Midi, {0x90, 60, 100}},
                                            {1, SPA_CONTROL_Midi, {0x90, 61, 100}},
                                            {2, SPA_CONTROL_Midi, {0x90, 62, 100}}});
  // Each control takes 24 bytes (16 of header, 3 of message, padding) after the 16 of the
  // sequence's header: a buffer, or a chunk, that ends before the third one's message.
  ASSERT_EQ(size, 16u + 3 * 24u);
  MidiEventView out[4];
  const MidiRead r = read_midi_sequence(buffer.data(), size - 8, 0, size, 256, out, 4);
  ASSERT_EQ(r.count, 2u);
  EXPECT_EQ(out[1].data[1], 61);
  EXPECT_EQ(read_midi_sequence(buffer.data(), 4096, 0, size - 8, 256, out, 4).count, 2u);
  // Its message ends 5 bytes before the padded end: still inside.
  EXPECT_EQ(read_midi_sequence(buffer.data(), size - 5, 0, size, 256, out, 4).count, 3u);
}

TEST(MidiSequence, BadChunksReadAsNoEvents) {
  std::vector<std::uint8_t> buffer(4096);
  const std::uint32_t size = build(buffer, {{0, SPA_CONTROL_Midi, {0x90, 60, 100}}});
  MidiEventView out[4];
  // A chunk that starts past the buffer, or leaves no room for a sequence header.
  EXPECT_EQ(read_midi_sequence(buffer.data(), 4096, 4096, size, 256, out, 4).count, 0u);
  EXPECT_EQ(read_midi_sequence(buffer.data(), 4096, 4090, size, 256, out, 4).count, 0u);
  // No buffer, no cycle, a chunk too small for a pod.
  EXPECT_EQ(read_midi_sequence(nullptr, 4096, 0, size, 256, out, 4).count, 0u);
  EXPECT_EQ(read_midi_sequence(buffer.data(), 4096, 0, size, 0, out, 4).count, 0u);
  EXPECT_EQ(read_midi_sequence(buffer.data(), 4096, 0, 4, 256, out, 4).count, 0u);
  // Not a sequence: a plain integer pod.
  std::vector<std::uint8_t> other(64);
  spa_pod_builder b{};
  spa_pod_builder_init(&b, other.data(), 64);
  spa_pod_builder_int(&b, 7);
  EXPECT_EQ(read_midi_sequence(other.data(), 64, 0, b.state.offset, 256, out, 4).count, 0u);
}

}  // namespace
