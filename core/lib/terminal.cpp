#include "nsrun/core/terminal.hpp"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "nsrun/core/log.hpp"

namespace nsrun::core {

using support::UniqueFd;

namespace {

// One message carrying `size` bytes of `data` and room for one descriptor (SCM_RIGHTS).
struct DescriptorMessage {
  DescriptorMessage(char* data, std::size_t size) : iov{data, size} {
    header.msg_iov = &iov;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
  }
  DescriptorMessage(const DescriptorMessage&) = delete;
  DescriptorMessage& operator=(const DescriptorMessage&) = delete;
  iovec iov;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr header{};
};

}  // namespace

TerminalRequest terminal_request(const boost::json::object& spec) {
  TerminalRequest request;
  const auto* process = spec.if_contains("process");
  if (!process || !process->is_object()) return request;
  if (const auto* terminal = process->as_object().if_contains("terminal")) {
    if (!terminal->is_bool()) throw Error("config.json: process.terminal must be true or false");
    request.terminal = terminal->as_bool();
  }
  if (const auto* size = process->as_object().if_contains("consoleSize");
      size && !size->is_null()) {
    auto dimension = [&](const char* name) -> unsigned short {
      const auto* value = size->is_object() ? size->as_object().if_contains(name) : nullptr;
      if (!value) return 0;
      if (value->is_int64() && value->as_int64() >= 0 && value->as_int64() <= 65535)
        return static_cast<unsigned short>(value->as_int64());
      if (value->is_uint64() && value->as_uint64() <= 65535)
        return static_cast<unsigned short>(value->as_uint64());
      throw Error(std::string("config.json: process.consoleSize.") + name +
                  " must be a whole number from 0 to 65535");
    };
    if (!size->is_object())
      throw Error("config.json: process.consoleSize must be an object {\"height\", \"width\"}");
    request.size = TerminalSize{dimension("height"), dimension("width")};
  }
  return request;
}

UniqueFd connect_console_socket(const std::string& path, const std::string& flag) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode))
    throw Error(flag + " " + path +
                " is not a Unix socket (give the socket that receives the terminal's master)");
  // Through an O_PATH descriptor of the socket file, so that a long path still fits sun_path.
  UniqueFd path_fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
  if (!path_fd) throw Error(flag + " " + path + ": " + std::strerror(errno));
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string via = "/proc/self/fd/" + std::to_string(path_fd.get());
  std::memcpy(address.sun_path, via.c_str(), via.size() + 1);
  UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!socket ||
      ::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    throw Error(flag + " " + path + ": cannot connect: " + std::strerror(errno) +
                " (is the engine listening on it?)");
  return socket;
}

std::optional<std::string> become_terminal_session(int channel, std::optional<TerminalSize> size) {
  auto failed = [](const char* what) {
    return std::optional<std::string>(std::string("terminal: ") + what + ": " +
                                      std::strerror(errno));
  };
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return failed("cannot open /dev/ptmx in the container");
  int unlock = 0;
  if (::ioctl(master.get(), TIOCSPTLCK, &unlock) != 0) return failed("cannot unlock the pty");
  // The peer through the master itself (TIOCGPTPEER), never by a name looked up in /dev/pts,
  // which the container could have replaced.
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY));
  if (!slave) return failed("cannot open the pty's terminal");
  if (size && size->rows && size->columns) {
    winsize ws{};
    ws.ws_row = size->rows;
    ws.ws_col = size->columns;
    if (::ioctl(master.get(), TIOCSWINSZ, &ws) != 0) return failed("cannot set the window size");
  }

  // As runc: the master, with the pty's name as the message, in one SCM_RIGHTS message.
  char name[] = "/dev/ptmx";
  DescriptorMessage out(name, sizeof name - 1);
  msghdr& message = out.header;
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  int master_fd = master.get();
  std::memcpy(CMSG_DATA(header), &master_fd, sizeof master_fd);
  ssize_t sent;
  while ((sent = ::sendmsg(channel, &message, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  if (sent < 0) return failed("cannot send the pty's master to the console socket");
  master.reset();

  if (::setsid() < 0) return failed("cannot start a new session");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) != 0) return failed("cannot make the pty the terminal");
  for (int target = 0; target <= 2; ++target)
    if (::dup2(slave.get(), target) < 0) return failed("cannot make the pty stdin/stdout/stderr");
  if (slave.get() <= 2) slave.release();
  return std::nullopt;
}

UniqueFd receive_descriptor(int socket) {
  char data[64];
  DescriptorMessage in(data, sizeof data);
  msghdr& message = in.header;
  ssize_t len;
  while ((len = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (len <= 0) return UniqueFd();
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header; header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level == SOL_SOCKET && header->cmsg_type == SCM_RIGHTS) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header), sizeof fd);
      return UniqueFd(fd);
    }
  }
  return UniqueFd();
}

namespace {

// Writes all of `data`, waiting when the descriptor is full; false when it is gone.
bool write_all(int fd, const char* data, std::size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      ::usleep(1000);
      continue;
    }
    if (n <= 0) return false;
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

TerminalRelay::TerminalRelay(UniqueFd master) : master_(std::move(master)) {
  if (::isatty(STDIN_FILENO) && ::tcgetattr(STDIN_FILENO, &saved_mode_) == 0) {
    termios raw = saved_mode_;
    ::cfmakeraw(&raw);
    raw_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  copy_window_size();
}

TerminalRelay::~TerminalRelay() {
  if (raw_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_mode_);
}

void TerminalRelay::copy_window_size() {
  winsize ws{};
  if (::ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0 || ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0)
    ::ioctl(master_.get(), TIOCSWINSZ, &ws);
}

void TerminalRelay::pump_input() {
  char buffer[4096];
  ssize_t n = ::read(STDIN_FILENO, buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  if (n <= 0) {
    input_open_ = false;
    // End of input: what Ctrl-D is on a terminal, so a shell reading the pty sees it end.
    termios mode{};
    char eof = ::tcgetattr(master_.get(), &mode) == 0 ? static_cast<char>(mode.c_cc[VEOF]) : 4;
    write_all(master_.get(), &eof, 1);
    return;
  }
  if (!write_all(master_.get(), buffer, static_cast<std::size_t>(n))) input_open_ = false;
}

bool TerminalRelay::pump_output() {
  char buffer[16384];
  ssize_t n = ::read(master_.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return true;
  if (n <= 0) return false;  // EIO: no process holds the pty's terminal any more
  write_all(STDOUT_FILENO, buffer, static_cast<std::size_t>(n));
  return true;
}

void TerminalRelay::drain() {
  // The workload is gone; what it wrote last may still sit in the pty.
  int flags = ::fcntl(master_.get(), F_GETFL);
  ::fcntl(master_.get(), F_SETFL, flags | O_NONBLOCK);
  char buffer[16384];
  ssize_t n;
  while ((n = ::read(master_.get(), buffer, sizeof buffer)) > 0)
    write_all(STDOUT_FILENO, buffer, static_cast<std::size_t>(n));
}

}  // namespace nsrun::core
