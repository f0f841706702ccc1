// The test's side of the command core: a Requester that keeps every answer, and an EventSink that
// keeps every event, in order.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "control/protocol/serialize.hpp"
#include "control/requester.hpp"

namespace clipd::control::test {

struct Reply {
  protocol::RequestId id;
  bool ok = false;
  protocol::Json result;                                     // when ok
  bool shared = false;                                       // answered through reply_shared
  protocol::ErrorCode code = protocol::ErrorCode::internal;  // when not ok
  std::string message;
};

class RecordingRequester final : public Requester {
 public:
  std::vector<Reply> replies;

  void reply_ok(const protocol::RequestId& id, const protocol::Json& result) override {
    replies.push_back(Reply{id, true, result, false, {}, {}});
  }
  void reply_shared(const protocol::RequestId& id,
                    const std::shared_ptr<const SharedResult>& result) override {
    // The shared text is the JSON front end's end of the same reply: it must say the same.
    EXPECT_EQ(protocol::serialize_ok_head(id) + *result->text,
              protocol::serialize_ok(id, result->value));
    replies.push_back(Reply{id, true, result->value, true, {}, {}});
  }
  void reply_error(const protocol::RequestId& id, protocol::ErrorCode code,
                   std::string_view message) override {
    replies.push_back(Reply{id, false, {}, false, code, std::string(message)});
  }
  bool open() const noexcept override { return true; }
  Subscription& subscription() noexcept override { return subscription_; }

 private:
  Subscription subscription_;
};

class RecordingSink final : public EventSink {
 public:
  std::vector<protocol::Event> events;
  void on_event(const protocol::Event& event) override { events.push_back(event); }

  // The events of one type, in order.
  template <class E>
  std::vector<E> of() const {
    std::vector<E> out;
    for (const protocol::Event& e : events) {
      if (const E* x = std::get_if<E>(&e)) out.push_back(*x);
    }
    return out;
  }
};

}  // namespace clipd::control::test
