// The clipd control protocol (clipd-protocol(7)), as pure functions: lines to typed requests,
// replies, errors and events to lines. No sockets.
#pragma once

#include "control/protocol/error_code.hpp"
#include "control/protocol/errors.hpp"
#include "control/protocol/events.hpp"
#include "control/protocol/json.hpp"
#include "control/protocol/parse.hpp"
#include "control/protocol/request_id.hpp"
#include "control/protocol/requests.hpp"
#include "control/protocol/results.hpp"
#include "control/protocol/seconds.hpp"
#include "control/protocol/serialize.hpp"
#include "control/protocol/server_line.hpp"
