// The terminal plumbing without a container: what config.json asks for, and a pty made the
// controlling terminal of a process, its master handed over a socket.
#include "nsrun/core/terminal.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>

using namespace nsrun::core;

namespace {

TerminalRequest request_of(const char* json) {
  return terminal_request(boost::json::parse(json).as_object());
}

std::string error_of(const char* json) {
  try {
    request_of(json);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(TerminalRequest, ReadsTerminalAndConsoleSize) {
  EXPECT_FALSE(request_of(R"({})").terminal);
  EXPECT_FALSE(request_of(R"({"process": {"args": ["sh"]}})").size);
  auto request = request_of(R"({"process": {"terminal": true,
                                            "consoleSize": {"height": 30, "width": 90}}})");
  EXPECT_TRUE(request.terminal);
  ASSERT_TRUE(request.size);
  EXPECT_EQ(request.size->rows, 30);
  EXPECT_EQ(request.size->columns, 90);
}

TEST(TerminalRequest, MalformedFieldsAreNamed) {
  EXPECT_EQ(error_of(R"({"process": {"terminal": "yes"}})"),
            "config.json: process.terminal must be true or false");
  EXPECT_EQ(error_of(R"({"process": {"consoleSize": {"height": -1}}})"),
            "config.json: process.consoleSize.height must be a whole number from 0 to 65535");
  EXPECT_EQ(error_of(R"({"process": {"consoleSize": {"width": 70000}}})"),
            "config.json: process.consoleSize.width must be a whole number from 0 to 65535");
  EXPECT_EQ(error_of(R"({"process": {"consoleSize": [1, 2]}})"),
            "config.json: process.consoleSize must be an object {\"height\", \"width\"}");
}

TEST(TerminalSession, TheMasterArrivesAndTheProcessRunsOnThePty) {
  int sockets[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(sockets[0]);
    if (become_terminal_session(sockets[1], TerminalSize{12, 34})) ::_exit(10);
    winsize ws{};
    ::ioctl(1, TIOCGWINSZ, &ws);
    // A session leader on its own terminal, with stdin, stdout and stderr the pty.
    bool ok = ::isatty(0) && ::isatty(1) && ::isatty(2) && ::getsid(0) == ::getpid() &&
              ::tcgetpgrp(0) == ::getpgrp() && ws.ws_row == 12 && ws.ws_col == 34;
    const char* text = ok ? "all-good\n" : "wrong\n";
    ssize_t ignored = ::write(1, text, std::strlen(text));
    (void)ignored;
    ::_exit(0);
  }
  ::close(sockets[1]);
  auto master = receive_descriptor(sockets[0]);
  ::close(sockets[0]);
  ASSERT_TRUE(master);
  std::string screen;
  for (int i = 0; i < 50 && screen.find('\n') == std::string::npos; ++i) {
    pollfd p{master.get(), POLLIN, 0};
    if (::poll(&p, 1, 100) != 1) continue;
    char buffer[256];
    ssize_t n = ::read(master.get(), buffer, sizeof buffer);
    if (n <= 0) break;
    screen.append(buffer, static_cast<std::size_t>(n));
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(screen, "all-good\r\n") << "the pty's line discipline turns \\n into \\r\\n";
}

TEST(TerminalSession, ReceivingFromAPeerThatSentNoDescriptorGivesNone) {
  int sockets[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets), 0);
  ASSERT_EQ(::send(sockets[1], "x", 1, 0), 1);
  ::close(sockets[1]);
  EXPECT_FALSE(receive_descriptor(sockets[0]));
  EXPECT_FALSE(receive_descriptor(sockets[0])) << "end of file";
  ::close(sockets[0]);
}

}  // namespace
