// Negative control: an allocation made inside process() (through the engine's cycle hook, which
// runs in process()'s real-time context) must abort the process with a RealtimeSanitizer report.
// meson runs this through expect-rtsan-report.
#include <cstdio>
#include <vector>

#include "clipd/realtime.hpp"
#include "engine/engine.hpp"

namespace {

void allocate(void* sink) noexcept {
  auto* p = new int(42);  // forbidden in the real-time context
  *static_cast<int**>(sink) = p;
}

}  // namespace

int main() {
  clipd::rtsan_init();
  if (!clipd::rtsan_linked()) return 0;  // would make the wrapper report an unexpected pass
  int* sink = nullptr;
  clipd::engine::MessageQueue in, out;
  clipd::engine::Config config;
  config.cycle_hook = allocate;
  config.cycle_hook_arg = &sink;
  clipd::engine::Engine engine(config, in.consumer(), out.producer());
  std::vector<float> left(64), right(64);
  float* outputs[] = {left.data(), right.data()};
  engine.process(0, 64, outputs, 0);
  std::printf("the allocation inside process() went unnoticed\n");
  delete sink;
  return 0;
}
