#include "control/protocol/results.hpp"

#include <array>
#include <cmath>

namespace clipd::protocol {

namespace {

template <typename T>
Json optional_json(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

}  // namespace

Json decibels(double db) {
  return std::isfinite(db) ? Json(db) : Json(nullptr);
}

Json to_json(const ClipInfo& info) {
  Json j = Json::object();
  j["name"] = info.name;
  j["path"] = info.path;
  j["frames"] = info.frames;
  j["channels"] = info.channels;
  j["sample_rate"] = info.sample_rate;
  j["source_sample_rate"] = info.source_sample_rate;
  j["duration_s"] = info.duration_s;
  j["bytes"] = info.bytes;
  j["locked"] = info.locked;
  j["non_finite_samples"] = info.non_finite_samples;
  j["streamed"] = info.streamed;
  j["head_frames"] = info.head_frames;
  j["head_s"] = info.head_s;
  return j;
}

std::string_view to_string(VoiceState state) noexcept {
  constexpr std::array<std::string_view, 4> names = {"scheduled", "playing", "paused", "stopping"};
  return names[static_cast<std::size_t>(state)];
}

Json to_json(const VoiceInfo& info) {
  Json j = Json::object();
  j["voice"] = info.voice;
  j["clip"] = info.clip;
  j["state"] = to_string(info.state);
  j["position_s"] = info.position_s;
  j["remaining_s"] = optional_json(info.remaining_s);
  j["gain_db"] = decibels(info.gain_db);
  j["pan"] = info.pan;
  j["group"] = optional_json(info.group);
  return j;
}

Json to_json(const HelloResult& hello) {
  Json j = Json::object();
  j["protocol"] = protocol_version;
  j["server"] = "clipd";
  j["version"] = hello.version;
  j["sample_rate"] = optional_json(hello.sample_rate);
  j["buffer_size"] = optional_json(hello.buffer_size);
  j["jack_client"] = hello.jack_client;
  j["frame"] = optional_json(hello.frame);
  j["backend"] = optional_json(hello.backend);
  j["client"] = hello.client;
  return j;
}

Json to_json(const StatusResult& s) {
  Json j = Json::object();
  j["engine"] = s.online ? "online" : "offline";
  j["backend"] = optional_json(s.backend);
  j["sample_rate"] = optional_json(s.sample_rate);
  j["buffer_size"] = optional_json(s.buffer_size);
  j["frame"] = optional_json(s.frame);
  j["usecs"] = optional_json(s.usecs);
  j["latency_frames"] = optional_json(s.latency_frames);
  j["xruns"] = s.xruns;
  j["dsp_load"] = optional_json(s.dsp_load);
  j["voices"] = s.voices;
  j["max_voices"] = s.max_voices;
  j["clips"] = s.clips;
  j["memory_bytes"] = s.memory_bytes;
  j["memory_budget_bytes"] = s.memory_budget_bytes;
  j["underruns"] = s.underruns;
  j["master_gain_db"] = decibels(s.master_gain_db);
  j["uptime_s"] = s.uptime_s;
  return j;
}

Json to_json(const MetersResult& meters) {
  Json peak = Json::array();
  for (double db : meters.peak_db)
    peak.push_back(decibels(db));
  Json rms = Json::array();
  for (double db : meters.rms_db)
    rms.push_back(decibels(db));
  Json j = Json::object();
  j["peak_db"] = std::move(peak);
  j["rms_db"] = std::move(rms);
  return j;
}

Json to_json(const BindRequest& b) {
  Json j = Json::object();
  j["note"] = b.note;
  j["channel"] = optional_json(b.channel);
  j["clip"] = b.clip;
  j["mode"] = to_string(b.mode);
  j["velocity"] = b.velocity;
  j["gain_db"] = b.gain_db;
  j["group"] = optional_json(b.group);
  return j;
}

}  // namespace clipd::protocol
