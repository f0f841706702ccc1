#include "control/requester.hpp"

#include <utility>

#include "control/protocol/serialize.hpp"

namespace clipd::control {

std::shared_ptr<const SharedResult> make_shared_result(protocol::Json result) {
  auto text = protocol::share_result(result);
  return std::make_shared<const SharedResult>(SharedResult{std::move(result), std::move(text)});
}

}  // namespace clipd::control
