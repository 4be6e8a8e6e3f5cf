// Terminals: process.terminal with an engine's --console-socket (the pty master received here
// as conmon and the containerd shim receive it), `nsrun exec --tty`, and a foreground
// `nsrun run -t` driven through a pty as a person at a terminal would drive it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "e2e.hpp"

namespace fs = std::filesystem;
using namespace nsrun::test;
using Clock = std::chrono::steady_clock;

namespace {

// Reads `fd` until `needle` appears or `seconds` pass; returns everything read.
std::string read_until(int fd, const std::string& needle, int seconds = 10) {
  std::string text;
  auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (text.find(needle) == std::string::npos && Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buffer[4096];
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    text.append(buffer, static_cast<std::size_t>(n));
  }
  return text;
}

void write_text(int fd, const std::string& text) {
  ASSERT_EQ(::write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
}

// A console socket as an engine makes one: listens, accepts the runtime's connection, and
// receives the pty master in an SCM_RIGHTS message.
class ConsoleSocket {
 public:
  explicit ConsoleSocket(const std::string& path) : path_(path) {
    listener_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(listener_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(listener_, 1), 0);
  }
  ~ConsoleSocket() {
    if (master_ >= 0) ::close(master_);
    ::close(listener_);
    ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

  /// The master the runtime sent, or -1 after `seconds`.
  int receive_master(int seconds = 10) {
    pollfd p{listener_, POLLIN, 0};
    if (::poll(&p, 1, seconds * 1000) != 1) return -1;
    int connection = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection < 0) return -1;
    char data[64];
    iovec iov{data, sizeof data};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
    msghdr message{};
    message.msg_iov = &iov;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(connection, &message, MSG_CMSG_CLOEXEC);
    ::close(connection);
    cmsghdr* header = n > 0 ? CMSG_FIRSTHDR(&message) : nullptr;
    if (!header || header->cmsg_type != SCM_RIGHTS) return -1;
    std::memcpy(&master_, CMSG_DATA(header), sizeof master_);
    return master_;
  }

 private:
  std::string path_;
  int listener_ = -1;
  int master_ = -1;
};

// A program run with a new pty as its controlling terminal and stdio, as a terminal emulator
// runs a shell: the test types into the master and reads the screen from it.
class PtySession {
 public:
  PtySession(const std::vector<std::string>& argv, unsigned short rows, unsigned short columns) {
    master_ = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    EXPECT_GE(master_, 0);
    EXPECT_EQ(::grantpt(master_), 0);
    EXPECT_EQ(::unlockpt(master_), 0);
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = columns;
    ::ioctl(master_, TIOCSWINSZ, &ws);
    std::string slave_name = ::ptsname(master_);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setsid();
      int slave = ::open(slave_name.c_str(), O_RDWR);
      ::ioctl(slave, TIOCSCTTY, 0);
      for (int fd = 0; fd <= 2; ++fd) ::dup2(slave, fd);
      std::vector<char*> args;
      for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  ~PtySession() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::close(master_);
  }
  int master() const { return master_; }
  void resize(unsigned short rows, unsigned short columns) {
    winsize ws{};
    ws.ws_row = rows;
    ws.ws_col = columns;
    ::ioctl(master_, TIOCSWINSZ, &ws);  // the kernel sends the session's foreground SIGWINCH
  }
  /// The exit code, or -1 when it does not end within `seconds`. Reads (and drops) the screen
  /// meanwhile so that the program never blocks on a full pty.
  int wait(int seconds = 15) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (Clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      pollfd p{master_, POLLIN, 0};
      if (::poll(&p, 1, 20) == 1) {
        char buffer[4096];
        ssize_t n = ::read(master_, buffer, sizeof buffer);
        if (n > 0) screen_.append(buffer, static_cast<std::size_t>(n));
      }
    }
    return -1;
  }
  std::string& screen() { return screen_; }

 private:
  int master_ = -1;
  pid_t pid_ = -1;
  std::string screen_;
};

class Terminal : public ::testing::Test {
 protected:
  void SetUp() override {
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);  // created containers outlive nsrun create
    state_ = std::make_unique<TempDir>("nsrun-e2e-tty-");
    bundle_ = std::make_unique<TempDir>("nsrun-e2e-tty-bundle-");
  }
  void TearDown() override {
    auto left = delete_every_container(state_->path());
    EXPECT_TRUE(left.empty()) << "state left behind: " << (left.empty() ? "" : left.front());
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  }

  void write_bundle(const std::vector<std::string>& args, bool terminal) {
    boost::json::array argv(args.begin(), args.end());
    boost::json::object config = boost::json::parse(R"({"ociVersion": "1.0.2",
        "process": {"env": ["PATH=/bin", "TERM=xterm"], "cwd": "/",
                    "consoleSize": {"height": 30, "width": 90}},
        "hostname": "tty",
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
                                 {"type": "ipc"}, {"type": "network"}]}})")
                                     .as_object();
    config["process"].as_object()["args"] = argv;
    config["process"].as_object()["terminal"] = terminal;
    config["root"] = {{"path", busybox_rootfs()}};
    std::ofstream(bundle_->path() + "/config.json") << boost::json::serialize(config);
  }

  CommandResult nsrun(const std::vector<std::string>& args) {
    std::vector<std::string> argv{nsrun_binary(), "--root", state_->path()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, "", 30);
  }

  // create, with the container's stdio in files as an engine's would be (a pipe to this test
  // would stay open as long as the container lives).
  CommandResult create(const std::string& id, const std::string& console) {
    std::string line = shell_quote(nsrun_binary()) + " --root " + shell_quote(state_->path()) +
                       " create --bundle " + shell_quote(bundle_->path());
    if (!console.empty()) line += " --console-socket " + shell_quote(console);
    line += " " + id + " </dev/null >" + shell_quote(bundle_->path() + "/out") + " 2>" +
            shell_quote(bundle_->path() + "/err");
    auto r = sh(line, 30);
    std::ifstream err(bundle_->path() + "/err");
    r.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
    return r;
  }

  std::unique_ptr<TempDir> state_, bundle_;
};

TEST_F(Terminal, CreateSendsThePtyMasterToTheConsoleSocket) {
  write_bundle({"sh", "-c",
                "tty; stty size; test -t 0 && echo stdin-is-a-tty; read line; "
                "echo got:$line; exit 3"},
               true);
  ConsoleSocket console(bundle_->path() + "/console.sock");
  auto r = create("t1", console.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int master = console.receive_master();
  ASSERT_GE(master, 0) << "no pty master arrived on the console socket";
  ASSERT_EQ(nsrun({"start", "t1"}).exit_code, 0);
  write_text(master, "hello\n");
  std::string screen = read_until(master, "got:hello");
  EXPECT_NE(screen.find("/dev/pts/0"), std::string::npos)
      << "the pty comes from the container's own devpts: " << screen;
  EXPECT_NE(screen.find("30 90"), std::string::npos) << "process.consoleSize applied: " << screen;
  EXPECT_NE(screen.find("stdin-is-a-tty"), std::string::npos) << screen;
  EXPECT_NE(screen.find("got:hello"), std::string::npos) << screen;
  EXPECT_EQ(nsrun({"delete", "--force", "t1"}).exit_code, 0);
}

TEST_F(Terminal, ATerminalWithoutAConsoleSocketOrTheReverseIsRefusedBeforeAnythingExists) {
  write_bundle({"sh"}, true);
  auto r = create("t2", "");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: create: process.terminal is true but no --console-socket was given (give the "
            "socket that receives the terminal, or set process.terminal to false)\n");
  EXPECT_FALSE(fs::exists(state_->path() + "/t2"));

  write_bundle({"sh"}, false);
  ConsoleSocket console(bundle_->path() + "/console.sock");
  r = create("t3", console.path());
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: --console-socket was given but process.terminal is false (set it to true, or "
            "drop --console-socket)\n");
  EXPECT_FALSE(fs::exists(state_->path() + "/t3"));

  r = create("t4", bundle_->path() + "/no-such.sock");
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("--console-socket"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(state_->path() + "/t4"));
}

// runc's `run -d --console-socket S --pid-file P`: the pty master goes to the socket, the pid
// file holds the container process's pid when run returns.
TEST_F(Terminal, DetachedBundleRunSendsThePtyMasterAndWritesThePidFile) {
  write_bundle({"sh", "-c", "test -t 0 && echo stdin-is-a-tty; read line; echo got:$line"}, true);
  ConsoleSocket console(bundle_->path() + "/console.sock");
  const std::string pid_file = bundle_->path() + "/pid";
  auto r = nsrun({"run", "-d", "--bundle", bundle_->path(), "--console-socket", console.path(),
                  "--pid-file", pid_file, "t6"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  ASSERT_GT(pid, 0) << "the pid file is complete when run -d returns";
  EXPECT_EQ(::kill(pid, 0), 0) << "it names the running container process";
  int master = console.receive_master();
  ASSERT_GE(master, 0) << "no pty master arrived on the console socket";
  write_text(master, "hello\n");
  std::string screen = read_until(master, "got:hello");
  EXPECT_NE(screen.find("stdin-is-a-tty"), std::string::npos) << screen;
  EXPECT_NE(screen.find("got:hello"), std::string::npos) << screen;
  EXPECT_EQ(nsrun({"delete", "--force", "t6"}).exit_code, 0);
}

// As runc: a detached run's terminal has nowhere to go without a console socket; one given to a
// run from flags needs -t.
TEST_F(Terminal, ADetachedRunsTerminalNeedsAConsoleSocket) {
  write_bundle({"sh"}, true);
  auto r = nsrun({"run", "-d", "--bundle", bundle_->path(), "t7"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: run: process.terminal is true but -d detaches the container and no "
            "--console-socket was given (give the socket that receives the terminal, or set "
            "process.terminal to false)\n");
  ConsoleSocket console(bundle_->path() + "/console.sock");
  r = nsrun({"run", "--rootfs", busybox_rootfs(), "--network", "none", "--console-socket",
             console.path(), "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: run: --console-socket receives the workload's terminal, but no -t asks for "
            "one (add -t, or drop --console-socket)\n");
  EXPECT_FALSE(fs::exists(state_->path() + "/t7"));
}

TEST_F(Terminal, DetachedExecWithTtySendsItsOwnPty) {
  write_bundle({"sleep", "30"}, false);
  ASSERT_EQ(create("t5", "").exit_code, 0);
  ASSERT_EQ(nsrun({"start", "t5"}).exit_code, 0);
  ConsoleSocket console(bundle_->path() + "/exec.sock");
  auto r = nsrun({"exec", "--detach", "--tty", "--console-socket", console.path(), "--pid-file",
                  bundle_->path() + "/exec.pid", "t5", "sh", "-c",
                  "test -t 1 && echo exec-tty-$(cat /proc/self/stat | cut -d' ' -f6); read x"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  int master = console.receive_master();
  ASSERT_GE(master, 0);
  // Field 6 of stat is the session id: the exec'd shell leads a session of its own.
  std::string screen = read_until(master, "exec-tty-");
  EXPECT_NE(screen.find("exec-tty-"), std::string::npos) << screen;
  write_text(master, "\n");
  // The shell ends; this test adopted it (subreaper) and reaps it, as an engine's shim does. Until
  // it is reaped the container's init cannot finish dying.
  std::ifstream pid_file(bundle_->path() + "/exec.pid");
  pid_t exec_pid = 0;
  pid_file >> exec_pid;
  ASSERT_GT(exec_pid, 0);
  int status = -1;
  for (int i = 0; i < 500 && ::waitpid(exec_pid, &status, WNOHANG) != exec_pid; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the shell ended on its own";
  r = nsrun({"exec", "--detach", "--tty", "t5", "true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_EQ(r.err,
            "nsrun: exec: a terminal (--tty) with --detach needs --console-socket (the socket "
            "that receives the terminal)\n");
  r = nsrun({"delete", "--force", "t5"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Terminal, ForegroundRunIsARealTerminal) {
  PtySession session({nsrun_binary(), "--root", state_->path(), "run", "--rootfs", busybox_rootfs(),
                      "--network", "none", "-t", "sh"},
                     24, 80);
  // Typed before the shell is up: the pty keeps it, as a terminal does.
  write_text(session.master(), "stty size; echo is-$(tty)\r");
  std::string screen = read_until(session.master(), "is-/dev/pts/0");
  EXPECT_NE(screen.find("24 80"), std::string::npos) << "window size copied: " << screen;
  EXPECT_NE(screen.find("is-/dev/pts/0"), std::string::npos) << screen;

  session.resize(40, 100);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // SIGWINCH is asynchronous
  write_text(session.master(), "stty size\r");
  screen = read_until(session.master(), "40 100");
  EXPECT_NE(screen.find("40 100"), std::string::npos)
      << "a resize reaches the container: " << screen;

  // Ctrl-C is a byte in raw mode; the container's pty turns it into SIGINT for its foreground.
  write_text(session.master(), "trap 'echo got-int; exit 7' INT; echo armed; sleep 20\r");
  screen = read_until(session.master(), "armed");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  write_text(session.master(), "\x03");
  EXPECT_EQ(session.wait(), 7) << "the shell trapped SIGINT and exited 7: " << session.screen();
  EXPECT_NE(session.screen().find("got-int"), std::string::npos) << session.screen();
}

TEST_F(Terminal, ForegroundRunWithPipedInputEndsAtEndOfInput) {
  auto r = run({nsrun_binary(), "--root", state_->path(), "run", "--rootfs", busybox_rootfs(),
                "--network", "none", "-t", "sh", "-c", "test -t 0 && echo tty; cat"},
               "line one\n", 30);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("tty"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("line one"), std::string::npos) << r.out;
}

}  // namespace
