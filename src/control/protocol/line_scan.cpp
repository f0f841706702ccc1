#include "control/protocol/line_scan.hpp"

#include <array>
#include <string>

namespace clipd::protocol {

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The four hex digits at `at`, or -1.
long hex4(std::string_view s, std::size_t at) {
  if (s.size() < at + 4) return -1;
  long value = 0;
  for (std::size_t k = at; k < at + 4; ++k) {
    const int digit = hex_digit(s[k]);
    if (digit < 0) return -1;
    value = value * 16 + digit;
  }
  return value;
}

// Whether a string's content (between its quotes, already checked) equals the ASCII `name` once
// its escapes are read: `"\u0069d"` names the member `id` as much as `"id"` does.
bool names(std::string_view content, std::string_view name) {
  std::size_t k = 0;
  for (std::size_t j = 0; j < content.size();) {
    long point = static_cast<unsigned char>(content[j]);
    if (content[j] != '\\') {
      ++j;
    } else {
      const char escape = content[j + 1];
      j += 2;
      switch (escape) {
        case 'b':
          point = '\b';
          break;
        case 'f':
          point = '\f';
          break;
        case 'n':
          point = '\n';
          break;
        case 'r':
          point = '\r';
          break;
        case 't':
          point = '\t';
          break;
        case 'u':
          point = hex4(content, j);
          j += 4;
          break;
        default:  // '"', '\\' and '/' stand for themselves
          point = static_cast<unsigned char>(escape);
          break;
      }
    }
    if (k == name.size() || point != static_cast<unsigned char>(name[k])) return false;
    ++k;
  }
  return k == name.size();
}

class Scanner {
 public:
  explicit Scanner(std::string_view text) : s_(text) {}

  LineScan run() {
    enum class State { value, after_value, key };
    LineScan out;
    ScannedMember* pending = nullptr;  // the member whose value is being read
    std::size_t pending_start = 0;
    State state = State::value;
    for (;;) {
      switch (state) {
        case State::value: {
          skip_space();
          if (at('{') || at('[')) {
            const char open = s_[i_++];
            push(open);
            skip_space();
            if (at(open == '{' ? '}' : ']')) {
              ++i_;
              pop();
              state = State::after_value;
            } else {
              state = open == '{' ? State::key : State::value;
            }
            break;
          }
          if (!scalar()) return fail(out);
          state = State::after_value;
          break;
        }
        case State::after_value: {
          const std::size_t end = i_;
          skip_space();
          // The member's value counts once the member is complete: `{"id":5x` holds no id.
          if (pending != nullptr && depth_ == 1) {
            if (at(',') || at('}')) pending->value = s_.substr(pending_start, end - pending_start);
            pending = nullptr;
          }
          if (depth_ == 0) {
            if (i_ != s_.size()) return fail(out);
            out.valid = true;
            return out;
          }
          const bool in_object = top() == '{';
          if (at(',')) {
            ++i_;
            state = in_object ? State::key : State::value;
          } else if (at(in_object ? '}' : ']')) {
            ++i_;
            pop();
          } else {
            return fail(out);
          }
          break;
        }
        case State::key: {
          skip_space();
          const std::size_t start = i_;
          if (!at('"') || !string()) return fail(out);
          ScannedMember* member = nullptr;
          if (depth_ == 1) {
            const std::string_view content = s_.substr(start + 1, i_ - start - 2);
            member = names(content, "id") ? &out.id : names(content, "cmd") ? &out.cmd : nullptr;
            if (member != nullptr && member->value) {
              member->repeated = true;
              member = nullptr;
            }
          }
          skip_space();
          if (!at(':')) return fail(out);
          ++i_;
          skip_space();
          if (member != nullptr) {
            pending = member;
            pending_start = i_;
          }
          state = State::value;
          break;
        }
      }
    }
  }

 private:
  LineScan& fail(LineScan& out) const {
    out.valid = false;
    out.error_at = i_;
    return out;
  }

  // The open containers: the innermost ones in a fixed array, deeper ones (hostile lines) on the
  // heap.
  void push(char open) {
    if (depth_ < shallow_.size()) {
      shallow_[depth_] = open;
    } else {
      deep_.push_back(open);
    }
    ++depth_;
  }
  void pop() {
    if (depth_ > shallow_.size()) deep_.pop_back();
    --depth_;
  }
  char top() const { return depth_ <= shallow_.size() ? shallow_[depth_ - 1] : deep_.back(); }

  void skip_space() {
    while (i_ < s_.size() && is_space(s_[i_]))
      ++i_;
  }
  bool at(char c) const { return i_ < s_.size() && s_[i_] == c; }
  unsigned char byte(std::size_t k) const {
    return k < s_.size() ? static_cast<unsigned char>(s_[k]) : 0;
  }

  bool scalar() {
    if (at('"')) return string();
    if (at('-') || (i_ < s_.size() && is_digit(s_[i_]))) return number();
    return word("true") || word("false") || word("null");
  }

  bool word(std::string_view w) {
    if (s_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }

  bool digits() {
    if (i_ >= s_.size() || !is_digit(s_[i_])) return false;
    while (i_ < s_.size() && is_digit(s_[i_]))
      ++i_;
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool number() {
    if (at('-')) ++i_;
    if (at('0')) {
      ++i_;
    } else if (!digits()) {
      return false;
    }
    if (at('.')) {
      ++i_;
      if (!digits()) return false;
    }
    if (at('e') || at('E')) {
      ++i_;
      if (at('+') || at('-')) ++i_;
      if (!digits()) return false;
    }
    return true;
  }

  // At the opening quote; moves past the closing one. Escapes must be JSON's, a \u escape of a
  // surrogate must form a pair, raw bytes must be UTF-8 (RFC 3629: no overlong forms, no
  // surrogates, nothing past U+10FFFF) and control characters must be escaped.
  bool string() {
    ++i_;
    for (;;) {
      const unsigned char c = byte(i_);
      if (i_ >= s_.size() || c < 0x20) return false;
      if (c == '"') {
        ++i_;
        return true;
      }
      if (c == '\\') {
        if (!escape()) return false;
      } else if (c < 0x80) {
        ++i_;
      } else if (!utf8()) {
        return false;
      }
    }
  }

  bool escape() {
    const char e = i_ + 1 < s_.size() ? s_[i_ + 1] : '\0';
    if (e != 'u') {
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
          e != 't') {
        return false;
      }
      i_ += 2;
      return true;
    }
    const long unit = hex4(s_, i_ + 2);
    if (unit < 0 || (unit >= 0xDC00 && unit <= 0xDFFF)) return false;
    i_ += 6;
    if (unit < 0xD800 || unit > 0xDBFF) return true;
    if (!at('\\') || byte(i_ + 1) != 'u') return false;
    const long low = hex4(s_, i_ + 2);
    if (low < 0xDC00 || low > 0xDFFF) return false;
    i_ += 6;
    return true;
  }

  bool utf8() {
    const unsigned char lead = byte(i_);
    // The allowed range of the second byte and the count of bytes, by lead byte.
    unsigned char lo = 0x80, hi = 0xBF;
    std::size_t length = 0;
    if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      if (lead == 0xE0) lo = 0xA0;
      if (lead == 0xED) hi = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    } else {
      return false;
    }
    if (i_ + length > s_.size()) return false;
    if (byte(i_ + 1) < lo || byte(i_ + 1) > hi) return false;
    for (std::size_t k = 2; k < length; ++k) {
      if (byte(i_ + k) < 0x80 || byte(i_ + k) > 0xBF) return false;
    }
    i_ += length;
    return true;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::size_t depth_ = 0;           // open containers
  std::array<char, 64> shallow_{};  // '{' or '[' for the first 64 of them
  std::string deep_;                // the rest
};

}  // namespace

LineScan scan_line(std::string_view line) {
  return Scanner(line).run();
}

}  // namespace clipd::protocol
