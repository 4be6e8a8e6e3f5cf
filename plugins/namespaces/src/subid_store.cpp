// --userns auto: the subordinate id pool and the store of blocks handed out (see subid_store.hpp).
#include "nsrun/namespaces/subid_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <sstream>

#include "nsrun/stage.hpp"
#include "nsrun/support/files.hpp"

namespace nsrun::namespaces {
namespace {

constexpr std::uint64_t id_space = std::uint64_t{1} << 32;

bool parse_number(std::string_view text, std::uint64_t& out) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST)
    throw StageError("userns: cannot create " + path + ": " + std::strerror(errno));
}

// A torn or foreign file reads as an ownerless record (stale, so reclaimable).
boost::json::object read_record(const std::string& path, bool& exists) {
  auto text = support::read_file(path);
  exists = text.has_value();
  if (!text) return {};
  boost::system::error_code ec;
  auto value = boost::json::parse(*text, ec);
  if (ec || !value.is_object()) return {};
  return value.as_object();
}

}  // namespace

std::vector<IdRange> subordinate_ranges(const std::string& text, const std::string& user) {
  std::vector<IdRange> out;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.front() == '#') continue;
    auto first = line.find(':');
    auto second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos || line.substr(0, first) != user) continue;
    IdRange range;
    std::string_view rest(line);
    if (!parse_number(rest.substr(first + 1, second - first - 1), range.start) ||
        !parse_number(rest.substr(second + 1), range.count) || range.count == 0 ||
        range.start >= id_space)
      continue;
    range.count = std::min(range.count, id_space - range.start);
    out.push_back(range);
  }
  return out;
}

std::vector<IdRange> read_pool(const std::string& path, const std::string& flag) {
  auto text = support::read_file(path);
  if (!text)
    throw StageError(flag + ": cannot read " + path + ": " + std::strerror(errno) +
                     " (create it with a line such as " + pool_user + ":2147483647:2147483648)");
  auto ranges = subordinate_ranges(*text, pool_user);
  if (ranges.empty())
    throw StageError(flag + ": " + path + " gives the user \"" + pool_user +
                     "\" no subordinate ids (add a line such as " + pool_user +
                     ":2147483647:2147483648 to /etc/subuid and /etc/subgid)");
  return ranges;
}

std::optional<std::uint32_t> first_fit(const std::vector<IdRange>& pool,
                                       const std::vector<IdRange>& taken, std::uint32_t size) {
  if (size == 0) return std::nullopt;
  std::vector<IdRange> ranges = pool, busy = taken;
  auto by_start = [](const IdRange& a, const IdRange& b) { return a.start < b.start; };
  std::sort(ranges.begin(), ranges.end(), by_start);
  std::sort(busy.begin(), busy.end(), by_start);
  for (const IdRange& range : ranges) {
    std::uint64_t candidate = range.start;
    const std::uint64_t end = std::min(range.start + range.count, id_space);
    for (const IdRange& b : busy) {
      if (candidate + size <= b.start) break;  // room before this (and every later) block
      if (b.start + b.count > candidate) candidate = b.start + b.count;
    }
    if (candidate + size <= end) return static_cast<std::uint32_t>(candidate);
  }
  return std::nullopt;
}

SubidSession SubidStore::lock() const {
  make_dir(root_);
  const std::string base = root_ + "/_userns";
  make_dir(base);
  for (const char* kind : {"uids", "gids"}) make_dir(base + "/" + kind);
  const std::string lock_path = base + "/lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw StageError("userns: cannot open " + lock_path + ": " + std::strerror(errno));
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    int err = errno;
    ::close(fd);
    throw StageError("userns: cannot lock " + lock_path + ": " + std::strerror(err));
  }
  return SubidSession(root_, fd);
}

SubidSession::SubidSession(std::string state_root, int lock_fd)
    : root_(std::move(state_root)), lock_fd_(lock_fd) {}

SubidSession::SubidSession(SubidSession&& other) noexcept
    : root_(std::move(other.root_)), lock_fd_(other.lock_fd_) {
  other.lock_fd_ = -1;
}

SubidSession::~SubidSession() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // closing the only descriptor releases the flock
}

std::string SubidSession::dir(const std::string& kind) const {
  if (kind != "uids" && kind != "gids") throw StageError("userns: unknown id kind " + kind);
  return root_ + "/_userns/" + kind;
}

bool SubidSession::alive(const std::string& id) const {
  if (id.empty() || id.find('/') != std::string::npos || id == "." || id == "..") return false;
  return ::access((root_ + "/" + id).c_str(), F_OK) == 0;
}

std::vector<HeldBlock> SubidSession::live_blocks(const std::string& kind) const {
  std::vector<HeldBlock> out;
  const std::string base = dir(kind);
  for (const auto& name : support::list_directory(base)) {
    std::uint64_t start = 0;
    if (!parse_number(name, start) || start >= id_space) continue;
    bool exists = false;
    auto record = read_record(base + "/" + name, exists);
    const auto* id = record.if_contains("id");
    const auto* size = record.if_contains("size");
    if (!id || !id->is_string() || !size || !size->is_int64() || size->as_int64() <= 0 ||
        size->as_int64() > static_cast<std::int64_t>(id_space - start))
      continue;
    HeldBlock block{static_cast<std::uint32_t>(start), static_cast<std::uint32_t>(size->as_int64()),
                    std::string(id->as_string())};
    if (alive(block.id)) out.push_back(std::move(block));
  }
  return out;
}

void SubidSession::hold(const std::string& kind, const HeldBlock& block) {
  const std::string path = dir(kind) + "/" + std::to_string(block.start);
  boost::json::object record{{"id", block.id}, {"size", block.size}};
  if (support::Errno err =
          support::write_file_atomically(path, boost::json::serialize(record) + "\n", 0600))
    throw StageError("userns: cannot write " + path + ": " + std::strerror(err));
}

bool SubidSession::release(const std::string& kind, std::uint32_t start, const std::string& id) {
  const std::string path = dir(kind) + "/" + std::to_string(start);
  bool exists = false;
  auto record = read_record(path, exists);
  if (!exists) return false;
  const auto* owner = record.if_contains("id");
  std::string holder = owner && owner->is_string() ? std::string(owner->as_string()) : "";
  if (holder != id && alive(holder)) return false;  // someone else's (ours was reclaimed)
  if (::unlink(path.c_str()) != 0 && errno != ENOENT)
    throw StageError("userns: cannot remove " + path + ": " + std::strerror(errno));
  return true;
}

std::uint32_t choose_block(const SubidSession& session, const std::string& kind,
                           const std::vector<IdRange>& pool, std::uint32_t size,
                           const std::string& flag, const std::string& file) {
  std::vector<IdRange> taken;
  for (const auto& block : session.live_blocks(kind)) taken.push_back({block.start, block.size});
  auto start = first_fit(pool, taken, size);
  if (!start)
    throw StageError(flag + ": no free block of " + std::to_string(size) + " ids left in the " +
                     pool_user + " range of " + file + " (" + std::to_string(taken.size()) +
                     " in use; give " + pool_user + " a larger range, or remove stopped " +
                     "containers)");
  return *start;
}

}  // namespace nsrun::namespaces
