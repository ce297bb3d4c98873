// tcpfault-gvisor-agent: gVisor's netstack as a tcpfault target (docs/agent-protocol.md).
//
// fd 3 (TCPFAULT_AGENT_FD) is the control socket, fd 4 (TCPFAULT_TAP_FD) the TAP device.
// The agent exits when the control socket reaches end of file, or after "bye".
package main

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// gvisorVersion is the snapshot the agent is built against (set by the build).
var gvisorVersion = "(unknown)"

const usage = `usage: tcpfault-gvisor-agent
  Runs gVisor's netstack as a tcpfault target. It is started by tcpfault (target "gvisor"),
  which passes the control socket as fd 3 and the TAP device as fd 4 (or the fds named
  by TCPFAULT_AGENT_FD and TCPFAULT_TAP_FD) and speaks docs/agent-protocol.md on it.
`

func fdFromEnv(name string, fallback int) int {
	v := os.Getenv(name)
	if v == "" {
		return fallback
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 || fd > 65535 {
		fmt.Fprintf(os.Stderr, "tcpfault-gvisor-agent: %s=%s is not a file descriptor number\n%s", name, v, usage)
		os.Exit(2)
	}
	return fd
}

func requireOpen(fd int, what string) {
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != nil {
		fmt.Fprintf(os.Stderr, "tcpfault-gvisor-agent: fd %d (%s) is not open: %v\n%s", fd, what, err, usage)
		os.Exit(2)
	}
}

func main() {
	if len(os.Args) > 1 {
		if os.Args[1] == "--help" || os.Args[1] == "-h" {
			fmt.Print(usage)
			os.Exit(0)
		}
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	signal.Ignore(syscall.SIGPIPE)
	control := fdFromEnv("TCPFAULT_AGENT_FD", 3)
	tap := fdFromEnv("TCPFAULT_TAP_FD", 4)
	requireOpen(control, "the control socket")
	requireOpen(tap, "the TAP device")

	conn := os.NewFile(uintptr(control), "control")
	g := &agent{out: &lineWriter{out: conn}, tapFD: tap}
	lines := newLineReader(conn)
	for {
		line, tooLong, err := lines.next()
		if err == io.EOF || err != nil {
			os.Exit(0) // tcpfault is gone: so is the stack, at once
		}
		if tooLong {
			g.tooLong()
			continue
		}
		g.handleLine(line)
	}
}
