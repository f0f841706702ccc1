#include "backend/pipewire/midi_sequence.hpp"

#include <spa/control/control.h>
#include <spa/pod/iter.h>
#include <spa/pod/pod.h>

namespace clipd::backend::pipewire {

MidiRead read_midi_sequence(const void* data, std::uint32_t maxsize, std::uint32_t offset,
                            std::uint32_t size, std::uint32_t nframes, engine::MidiEventView* out,
                            std::uint32_t capacity) noexcept {
  MidiRead result;
  if (data == nullptr || nframes == 0) return result;
  // spa_pod_from_data checks that the chunk and the pod it holds lie inside the buffer.
  auto* pod =
      static_cast<spa_pod*>(spa_pod_from_data(const_cast<void*>(data), maxsize, offset, size));
  if (pod == nullptr || !spa_pod_is_sequence(pod)) return result;
  auto* seq = reinterpret_cast<spa_pod_sequence*>(pod);

  std::uint32_t last = 0;
  spa_pod_control* c;
  SPA_POD_SEQUENCE_FOREACH(seq, c) {
    if (c->type != SPA_CONTROL_Midi) continue;
    const std::uint32_t bytes = SPA_POD_BODY_SIZE(&c->value);
    if (bytes == 0) continue;
    if (result.count == capacity) {
      ++result.overflow;
      continue;
    }
    std::uint32_t at = c->offset < nframes ? c->offset : nframes - 1;
    if (at < last) at = last;
    last = at;
    out[result.count++] = {at, bytes,
                           static_cast<const std::uint8_t*>(SPA_POD_BODY_CONST(&c->value))};
  }
  return result;
}

}  // namespace clipd::backend::pipewire
