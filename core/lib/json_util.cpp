#include "nsrun/core/json_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "nsrun/spec_json.hpp"
#include "nsrun/support/fd.hpp"
#include "nsrun/support/files.hpp"

namespace nsrun::core {

boost::json::value parse_json_document(std::string_view text, std::string_view what) {
  boost::json::stream_parser parser;
  boost::system::error_code ec;
  std::size_t consumed = parser.write_some(text.data(), text.size(), ec);
  if (!ec && consumed < text.size())
    ec = boost::json::make_error_code(boost::json::error::extra_data);
  if (!ec) parser.finish(ec);
  if (ec) {
    // On a syntax error write_some stops at the offending byte, so `consumed` is its offset.
    throw Error(std::string(what) + ": malformed JSON at " + json_text_position(text, consumed) +
                ": " + ec.message());
  }
  return parser.release();
}

namespace {

// The length of the valid UTF-8 sequence `text` starts with, or 0 (RFC 3629: no overlong form,
// no surrogate, nothing above U+10FFFF, none cut short).
std::size_t utf8_sequence(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  if (lead < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80, high = 0xBF;  // the second byte's range
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // overlong
    if (lead == 0xED) high = 0x9F;  // a surrogate
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // overlong
    if (lead == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (text.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i)
    if ((byte(i) & 0xC0) != 0x80) return 0;
  return length;
}

}  // namespace

std::string_view valid_utf8(std::string_view text, std::string& replaced) {
  std::size_t valid = 0;
  while (valid < text.size()) {
    // Eight ASCII bytes at a time: a trace's text is almost all ASCII, and all of it is checked.
    std::uint64_t word = 0;
    if (valid + sizeof word <= text.size()) {
      std::memcpy(&word, text.data() + valid, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        valid += sizeof word;
        continue;
      }
    }
    if (static_cast<unsigned char>(text[valid]) < 0x80) {
      ++valid;
    } else if (const std::size_t length = utf8_sequence(text.substr(valid))) {
      valid += length;
    } else {
      break;
    }
  }
  if (valid == text.size()) return text;
  replaced.assign(text.substr(0, valid));
  for (std::size_t at = valid; at < text.size();) {
    if (const std::size_t length = utf8_sequence(text.substr(at))) {
      replaced.append(text.substr(at, length));
      at += length;
    } else {
      replaced.append("\xEF\xBF\xBD");  // U+FFFD
      ++at;
    }
  }
  return replaced;
}

std::optional<std::string> first_text_not_utf8(const boost::json::value& value,
                                               const std::string& where) {
  std::string replaced;
  auto invalid = [&](boost::json::string_view text) {
    return valid_utf8(std::string_view(text.data(), text.size()), replaced).data() != text.data();
  };
  if (const auto* text = value.if_string()) {
    if (invalid(*text)) return where;
  } else if (const auto* array = value.if_array()) {
    for (std::size_t i = 0; i < array->size(); ++i)
      if (auto found = first_text_not_utf8((*array)[i], where + "[" + std::to_string(i) + "]"))
        return found;
  } else if (const auto* object = value.if_object()) {
    for (const auto& member : *object) {
      const std::string name =
          where.empty() ? std::string(member.key()) : where + "." + std::string(member.key());
      if (invalid(member.key())) return name;
      if (auto found = first_text_not_utf8(member.value(), name)) return found;
    }
  }
  return std::nullopt;
}

void make_valid_utf8(boost::json::value& value) {
  if (auto* text = value.if_string()) {
    std::string replaced;
    if (valid_utf8(std::string_view(text->data(), text->size()), replaced).data() != text->data())
      *text = boost::json::string_view(replaced.data(), replaced.size());
  } else if (auto* array = value.if_array()) {
    for (auto& element : *array) make_valid_utf8(element);
  } else if (auto* object = value.if_object()) {
    for (auto& member : *object) make_valid_utf8(member.value());
  }
}

std::string read_text_file(const std::string& path, std::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(std::string(what) + ": cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

boost::json::value read_json_file(const std::string& path, std::string_view what) {
  return parse_json_document(read_text_file(path, what), std::string(what) + " " + path);
}

void write_file_atomically(const std::string& path, std::string_view text, unsigned mode) {
  if (support::Errno err = support::write_file_atomically(path, text, mode))
    throw Error("cannot write " + path + ": " + std::strerror(err));
}

bool written_in_place(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && written_in_place(st);
}

bool written_in_place(const struct stat& st) {
  return !S_ISREG(st.st_mode);
}

bool same_file(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path first = fs::absolute(a, ec).lexically_normal();
  const fs::path second = fs::absolute(b, ec).lexically_normal();
  if (first == second) return true;
  return fs::exists(a, ec) && fs::exists(b, ec) && fs::equivalent(a, b, ec);
}

int open_in_place(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_TRUNC | O_NOCTTY | O_CLOEXEC);
}

void write_output_file(std::string_view flag, const std::string& path, std::string_view text,
                       unsigned mode) {
  support::Errno err = 0;
  if (written_in_place(path)) {
    support::UniqueFd fd(open_in_place(path));
    err = fd ? support::write_all(fd.get(), text) : errno;
  } else {
    err = support::write_file_atomically(path, text, mode);
  }
  if (err) throw Error(std::string(flag) + " " + path + ": cannot write it: " + std::strerror(err));
}

}  // namespace nsrun::core
