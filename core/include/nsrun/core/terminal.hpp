// Pseudo-terminals for `process.terminal`: the container's side and the caller's.
//
// The pty is opened inside the container, from its own devpts instance (/dev/ptmx there), so
// that the workload's terminal belongs to the container and not to the host. Its master leaves
// the container as runc's does: sent with SCM_RIGHTS over a Unix socket, either an engine's
// --console-socket (conmon and the containerd shim then own it) or, under a foreground
// `nsrun run -t` or `nsrun exec -t`, a socket to the nsrun that waits, which then relays the
// caller's terminal to it (raw mode, window size, and on exit the mode restored).
//
// The core owns this, not a stage: who holds the workload's stdin, stdout and stderr is the
// runtime's plumbing, as is the sync socket beside it.
#pragma once

#include <termios.h>

#include <optional>
#include <string>

#include "nsrun/core/json_util.hpp"
#include "nsrun/support/fd.hpp"

namespace nsrun::core {

struct TerminalSize {
  unsigned short rows = 0;
  unsigned short columns = 0;
};

/// What a config.json asks of the terminal: process.terminal, and process.consoleSize
/// ({"height", "width"}). Error naming the field when it is malformed.
struct TerminalRequest {
  bool terminal = false;
  std::optional<TerminalSize> size;
};
TerminalRequest terminal_request(const boost::json::object& spec);

/// Connects to an engine's console socket. Error naming `flag` when it is not a listening Unix
/// socket. Called before anything is created.
support::UniqueFd connect_console_socket(const std::string& path, const std::string& flag);

/// In the process that becomes the workload: opens a new pty from /dev/ptmx, sends its master
/// over `channel`, and makes the pty this process's controlling terminal and its stdin, stdout
/// and stderr (a new session). Returns why it failed, or nullopt.
std::optional<std::string> become_terminal_session(int channel, std::optional<TerminalSize> size);

/// Receives a descriptor sent with SCM_RIGHTS over `socket`; empty when the peer closed it or
/// sent none.
support::UniqueFd receive_descriptor(int socket);

/// The caller's side of a foreground terminal: copies stdin to the pty master and the master to
/// stdout, with stdin in raw mode while it lives when stdin is a terminal (so Ctrl-C reaches
/// the container as a byte, and the container's pty makes it a SIGINT), and the window size
/// copied on start and on every SIGWINCH.
class TerminalRelay {
 public:
  explicit TerminalRelay(support::UniqueFd master);
  ~TerminalRelay();
  TerminalRelay(const TerminalRelay&) = delete;
  TerminalRelay& operator=(const TerminalRelay&) = delete;

  int master() const { return master_.get(); }
  /// The caller's stdin while it has more to give, else -1 (for poll).
  int input() const { return input_open_ ? 0 : -1; }
  /// Copies what stdin has to the master. At end of input, the pty's end-of-file character is
  /// sent instead, as a terminal would on Ctrl-D.
  void pump_input();
  /// Copies what the master has to stdout; false once the pty is closed on the container's side.
  bool pump_output();
  /// Copies what is left on the master once the workload exited.
  void drain();
  /// Gives the pty the caller's window size (SIGWINCH).
  void copy_window_size();

 private:
  support::UniqueFd master_;
  bool input_open_ = true;
  bool raw_ = false;
  termios saved_mode_{};
};

}  // namespace nsrun::core
