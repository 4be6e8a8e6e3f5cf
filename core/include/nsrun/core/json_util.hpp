// Reading JSON documents (config.json, pipelines, state) with errors that say where.
#pragma once

#include <sys/stat.h>

#include <boost/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace nsrun::core {

/// A user-facing error of the core: one line, no "nsrun: " prefix (the CLI adds it).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses `text`; on malformed input throws Error "<what>: line L, column C: <reason>".
boost::json::value parse_json_document(std::string_view text, std::string_view what);

/// Reads and parses a file; a missing or unreadable file is an Error naming it.
boost::json::value read_json_file(const std::string& path, std::string_view what);

/// The whole content of a file, or Error naming `what` and the path.
std::string read_text_file(const std::string& path, std::string_view what);

/// `text` as valid UTF-8: `text` itself when it is (the common case: nothing is copied), else a
/// copy in `replaced` in which each byte that starts no valid sequence is U+FFFD. Boost.JSON's
/// serializer writes a string's bytes as they are, so text from outside (a stage's messages, the
/// command line) passes through this before it goes into a JSON document or an SVG.
std::string_view valid_utf8(std::string_view text, std::string& replaced);

/// Where in `value` the first text that is not valid UTF-8 is (a member's name or a string), as a
/// field path such as `process.args[1]`, `where` its prefix; nullopt when all of it is valid.
/// Boost.JSON writes such text as it is, and every parser refuses it: it must not reach a stage.
std::optional<std::string> first_text_not_utf8(const boost::json::value& value,
                                               const std::string& where = "");

/// Every string in `value` (members' values and array elements, nested) made valid_utf8.
void make_valid_utf8(boost::json::value& value);

/// Writes `text` to `path` through a temporary file and rename, so readers never see half.
void write_file_atomically(const std::string& path, std::string_view text, unsigned mode = 0600);

/// Whether an output file the user names (--trace, --pid-file, bench's --json and --svg) is
/// written through, as a shell's `>` writes: it exists and is not a regular file (/dev/null,
/// /dev/stdout, a FIFO), or it is a symbolic link. Replacing it would take the device node, or
/// the link, off the host.
bool written_in_place(const std::string& path);
/// The same for a file whose lstat() gave `st`, for a caller that has it already.
bool written_in_place(const struct stat& st);

/// Whether two output paths name the same file: the same path once absolute and lexically
/// normal, or, when both exist, the same inode (a link, `..` through a symbolic link).
bool same_file(const std::string& a, const std::string& b);

/// Opens such a file for writing, truncated as `>` does: the descriptor, or -1 with errno set.
int open_in_place(const std::string& path);

/// An output file the user names: written through when written_in_place, else replaced
/// atomically. Throws Error naming `flag`.
void write_output_file(std::string_view flag, const std::string& path, std::string_view text,
                       unsigned mode);

}  // namespace nsrun::core
