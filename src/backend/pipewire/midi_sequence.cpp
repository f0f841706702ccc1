#include "backend/pipewire/midi_sequence.hpp"

#include <spa/control/control.h>
#include <spa/pod/iter.h>
#include <spa/pod/pod.h>

#include <algorithm>

namespace clipd::backend::pipewire {

MidiRead read_midi_sequence(const void* data, std::uint32_t maxsize, std::uint32_t offset,
                            std::uint32_t size, std::uint32_t nframes, engine::MidiEventView* out,
                            std::uint32_t capacity) noexcept {
  MidiRead result;
  if (data == nullptr || nframes == 0 || offset >= maxsize) return result;
  // A producer whose sequence outgrew the buffer (PipeWire's builders keep counting past the
  // end) leaves a pod that claims more than the chunk or the buffer holds: the controls that lie
  // wholly inside the buffer are read, the rest are lost before they reach us.
  const std::uint32_t avail = std::min(size, maxsize - offset);
  if (avail < sizeof(spa_pod) + sizeof(spa_pod_sequence_body)) return result;
  auto* seq =
      reinterpret_cast<const spa_pod_sequence*>(static_cast<const std::uint8_t*>(data) + offset);
  if (seq->pod.type != SPA_TYPE_Sequence) return result;
  const std::uint32_t body_size =
      std::min<std::uint32_t>(seq->pod.size, avail - static_cast<std::uint32_t>(sizeof(spa_pod)));
  if (body_size < sizeof(spa_pod_sequence_body)) return result;

  std::uint32_t last = 0;
  const spa_pod_control* c;
  SPA_POD_SEQUENCE_BODY_FOREACH(&seq->body, body_size, c) {
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
