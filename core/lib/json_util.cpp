#include "nsrun/core/json_util.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
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
  return ::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
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
