// Negative control for the RealtimeSanitizer harness: a node that is dropped (and so freed)
// inside the real-time context must abort the process. meson expects this test to fail.
#include <cstdio>
#include <cstdlib>

#include "clipd/node_queue.hpp"
#include "clipd/realtime.hpp"

int main() {
  clipd::rtsan_init();
  if (!clipd::rtsan_linked()) return 0;  // would make meson report an unexpected pass
  clipd::Queue<int> q;
  q.producer().push(clipd::Node<int>::make(42));
  {
    clipd::RealtimeScope realtime;
    auto n = q.consumer().pop();
    n.reset();  // frees: forbidden here
  }
  std::printf("the free inside the real-time context went unnoticed\n");
  return 0;
}
