#include "nsrun/core/state.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "nsrun/core/json_util.hpp"
#include "nsrun/support/files.hpp"

namespace nsrun::core {

bool is_valid_container_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id[0])) return false;
  for (char c : id)
    if (!alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

std::string generate_container_id() {
  unsigned char bytes[6];
  if (::getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes))
    throw Error("cannot generate a container id: getrandom failed");
  static const char hex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : bytes) {
    id += hex[b >> 4];
    id += hex[b & 15];
  }
  return id;
}

StateDir::StateDir(std::string state_root, std::string id)
    : root_(std::move(state_root)), id_(std::move(id)), path_(root_ + "/" + id_) {}

StateLock::~StateLock() {
  if (fd_ >= 0) ::close(fd_);
}

StateLock& StateLock::operator=(StateLock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

StateLock StateDir::create() const {
  std::error_code ec;
  const bool made = std::filesystem::create_directories(root_, ec);
  if (ec) throw Error("cannot create state root " + root_ + ": " + ec.message());
  // A root nsrun makes, others may pass through (never list): a container in a user namespace
  // reaches its own state directory (0710, its root's group; see nsrun.namespaces) to bind its
  // generated files. Every state directory stays 0700 otherwise. A root that exists keeps its
  // mode: `--root` may name a directory that is not nsrun's (`--root /tmp` made /tmp 0711).
  if (made) ::chmod(root_.c_str(), 0711);
  // Made under a name no container id can have (ids start with a letter or digit), locked, then
  // moved to its id: RENAME_NOREPLACE refuses an existing id, so the id stays unique.
  std::string temporary = root_ + "/.creating-XXXXXX";
  if (!::mkdtemp(temporary.data()))
    throw Error("cannot create state directory in " + root_ + ": " + std::strerror(errno));
  auto discard = [&] { ::rmdir(temporary.c_str()); };
  int fd = ::open(temporary.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int saved = errno;
    if (fd >= 0) ::close(fd);
    discard();
    throw Error("cannot lock state directory " + temporary + ": " + std::strerror(saved));
  }
  StateLock lock(fd);
  if (::renameat2(AT_FDCWD, temporary.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE) != 0) {
    int saved = errno;
    discard();
    if (saved == EEXIST || saved == ENOTEMPTY)
      throw Error("a container named \"" + id_ + "\" already exists in " + root_ +
                  " (choose another --name, or remove it with: nsrun delete --force " + id_ + ")");
    throw Error("cannot create state directory " + path_ + ": " + std::strerror(saved));
  }
  return lock;
}

std::optional<StateLock> StateDir::try_lock() const {
  int fd = ::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open state directory " + path_ + ": " + std::strerror(errno));
  if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return StateLock(fd);
  int saved = errno;
  ::close(fd);
  if (saved == EWOULDBLOCK) return std::nullopt;
  throw Error("cannot lock state directory " + path_ + ": " + std::strerror(saved));
}

bool StateDir::exists() const {
  return ::access(path_.c_str(), F_OK) == 0;
}

bool StateDir::is_nsruns() const {
  if (::access((path_ + "/pipeline.json").c_str(), F_OK) == 0 ||
      ::access(journal_path().c_str(), F_OK) == 0)
    return true;
  if (auto text = support::read_file(path_ + "/state.json")) {
    // Other runtimes keep a state.json too (runc's libcontainer): nsrun's has its own member.
    boost::system::error_code ec;
    auto value = boost::json::parse(*text, ec);
    const auto* own = !ec && value.is_object() ? value.as_object().if_contains("nsrun") : nullptr;
    return own && own->is_object();
  }
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec))
    if (entry.path().filename() != "pipeline.json.tmp") return false;
  return !ec;
}

void StateDir::remove() const {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) throw Error("cannot remove state directory " + path_ + ": " + ec.message());
}

void StateDir::remove_all_but_record() const {
  std::error_code ec;
  std::filesystem::remove(path_ + "/pipeline.json", ec);
  if (ec) throw Error("cannot remove " + path_ + "/pipeline.json: " + ec.message());
  std::filesystem::directory_iterator entries(path_, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) return;
    throw Error("cannot read state directory " + path_ + ": " + ec.message());
  }
  std::vector<std::filesystem::path> doomed;
  for (const auto& entry : entries) {
    const std::string name = entry.path().filename().string();
    if (name != "state.json" && name != container_log_name && name != container_log_rotated_name)
      doomed.push_back(entry.path());
  }
  for (const auto& path : doomed) {
    std::filesystem::remove_all(path, ec);
    if (ec) throw Error("cannot remove " + path.string() + ": " + ec.message());
  }
}

void StateDir::write_state(const ContainerRecord& record) const {
  boost::json::object own{{"pidStartTime", record.pid_start_time}};
  if (record.exit_code) own["exitCode"] = *record.exit_code;
  if (!record.finished.empty()) own["finished"] = record.finished;
  boost::json::object state{{"ociVersion", "1.0.2"},     {"id", id_},
                            {"pid", record.pid},         {"status", record.status},
                            {"bundle", record.bundle},   {"annotations", record.annotations},
                            {"created", record.created}, {"nsrun", std::move(own)}};
  write_file_atomically(path_ + "/state.json", boost::json::serialize(state));
}

std::optional<ContainerRecord> StateDir::read_record() const {
  auto text = support::read_file(path_ + "/state.json");
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  auto value = boost::json::parse(*text, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto& state = value.as_object();
  ContainerRecord record;
  auto string_of = [&](const char* key) {
    const auto* v = state.if_contains(key);
    return v && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  record.status = string_of("status");
  record.bundle = string_of("bundle");
  record.created = string_of("created");
  if (const auto* pid = state.if_contains("pid"); pid && pid->is_int64())
    record.pid = static_cast<pid_t>(pid->as_int64());
  if (const auto* a = state.if_contains("annotations"); a && a->is_object())
    record.annotations = a->as_object();
  if (const auto* own = state.if_contains("nsrun"); own && own->is_object()) {
    const auto& fields = own->as_object();
    if (const auto* t = fields.if_contains("pidStartTime"); t && t->is_number())
      record.pid_start_time = t->to_number<std::uint64_t>();
    if (const auto* code = fields.if_contains("exitCode"); code && code->is_int64())
      record.exit_code = static_cast<int>(code->as_int64());
    if (const auto* finished = fields.if_contains("finished"); finished && finished->is_string())
      record.finished = finished->as_string();
  }
  return record;
}

namespace {

// Calls `try_once` every 5 ms until it succeeds or `timeout_ms` have passed; whether it did.
// flock has no timeout of its own, and a blocking flock could not be given up on.
template <typename TryOnce>
bool poll_within(int timeout_ms, TryOnce try_once) {
  for (int waited = 0;; waited += 5) {
    if (try_once()) return true;
    if (waited >= timeout_ms) return false;
    ::usleep(5000);
  }
}

}  // namespace

std::optional<StateLock> StateDir::lock_within(int timeout_ms) const {
  std::optional<StateLock> lock;
  poll_within(timeout_ms, [&] {
    lock = try_lock();
    return lock.has_value();
  });
  return lock;
}

std::optional<StateLock> StateDir::lock_changes_within(int timeout_ms) const {
  const std::string file = path_ + "/pipeline.json";
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) throw Error("cannot open " + file + ": " + std::strerror(errno));
  StateLock lock(fd);
  bool locked = poll_within(timeout_ms, [&] {
    if (::flock(fd, LOCK_EX | LOCK_NB) == 0) return true;
    if (errno != EWOULDBLOCK) throw Error("cannot lock " + file + ": " + std::strerror(errno));
    return false;
  });
  if (!locked) return std::nullopt;
  return lock;
}

std::string rfc3339_now() {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  char buffer[64];
  std::size_t n = std::strftime(buffer, sizeof buffer, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(buffer + n, sizeof buffer - n, ".%09ldZ", now.tv_nsec);
  return buffer;
}

void StateDir::write_pipeline(const boost::json::value& pipeline) const {
  write_file_atomically(path_ + "/pipeline.json", boost::json::serialize(pipeline));
}

boost::json::value StateDir::read_pipeline() const {
  return read_json_file(path_ + "/pipeline.json", "state pipeline");
}

void StateDir::write_plugin_paths(const std::map<std::string, std::string>& paths) const {
  boost::json::object out;
  for (const auto& [name, path] : paths) out[name] = path;
  write_file_atomically(path_ + "/plugins.json", boost::json::serialize(out));
}

std::map<std::string, std::string> StateDir::read_plugin_paths() const {
  std::map<std::string, std::string> out;
  try {
    auto value = read_json_file(path_ + "/plugins.json", "state plugins");
    if (!value.is_object()) return out;
    for (const auto& kv : value.as_object())
      if (kv.value().is_string()) out[std::string(kv.key())] = std::string(kv.value().as_string());
  } catch (const Error&) {
  }
  return out;
}

bool JournalFile::append(std::string_view stage, std::string_view type,
                         const boost::json::object& data) {
  boost::json::object record{{"stage", stage}, {"type", type}, {"data", data}};
  std::string line = boost::json::serialize(record) + "\n";
  int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  // One write per record with O_APPEND: a record is either whole or a torn last line.
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  return ok;
}

std::vector<JournalRecord> JournalFile::records_of(std::string_view stage) const {
  std::vector<JournalRecord> out;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) continue;  // a torn line from a crash mid-append
    const auto& object = value.as_object();
    const auto* name = object.if_contains("stage");
    const auto* type = object.if_contains("type");
    const auto* data = object.if_contains("data");
    if (!name || !name->is_string() || name->as_string() != stage) continue;
    if (!type || !type->is_string() || !data || !data->is_object()) continue;
    out.push_back({std::string(type->as_string()), data->as_object()});
  }
  return out;
}

std::vector<std::string> JournalFile::stages() const {
  std::vector<std::string> out;
  std::ifstream in(path_);
  std::string line;
  while (std::getline(in, line)) {
    boost::system::error_code ec;
    auto value = boost::json::parse(line, ec);
    if (ec || !value.is_object()) continue;
    const auto* name = value.as_object().if_contains("stage");
    if (!name || !name->is_string()) continue;
    std::string stage(name->as_string());
    if (std::find(out.begin(), out.end(), stage) == out.end()) out.push_back(std::move(stage));
  }
  return out;
}

bool StageJournal::append(std::string_view type, const boost::json::object& data) noexcept {
  try {
    return file_.append(stage_, type, data);
  } catch (...) {
    return false;
  }
}

}  // namespace nsrun::core
