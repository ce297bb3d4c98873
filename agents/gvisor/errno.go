// netstack's errors as the errno a Linux application would see: the translation is
// gVisor's own (syserr), the one its sandbox gives applications.

package main

import (
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/syserr"
	"gvisor.dev/gvisor/pkg/tcpip"
)

func errnoOf(err tcpip.Error) (name string) {
	defer func() {
		if recover() != nil { // an error syserr has no Linux errno for
			name = "EIO"
		}
	}()
	translated := syserr.TranslateNetstackError(err)
	if translated == nil {
		return "EIO"
	}
	if name := unix.ErrnoName(syscall.Errno(translated.ToLinux())); name != "" {
		return name
	}
	return "EIO"
}

// failure is a socket call's error reply for a netstack error.
func failure(err tcpip.Error, call string) *socketError {
	return &socketError{errno: errnoOf(err), message: err.String() + " (" + call + ")"}
}

func failErrno(errno, message string) *socketError {
	return &socketError{errno: errno, message: message}
}
