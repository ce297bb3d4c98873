// The agent protocol's messages (docs/agent-protocol.md): one JSON object per line,
// requests in, replies and events out.

package main

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

const protocolVersion = 1

// maxLine is the protocol's limit for one message.
const maxLine = 1 << 20

// protocolError is a request that could not be understood or is not supported.
type protocolError struct {
	kind    string // malformed, bad_request, unknown_command, unsupported, bad_handle, version
	message string
}

func (e *protocolError) Error() string { return e.message }

func badRequest(format string, a ...any) *protocolError {
	return &protocolError{"bad_request", fmt.Sprintf(format, a...)}
}

func unsupported(format string, a ...any) *protocolError {
	return &protocolError{"unsupported", fmt.Sprintf(format, a...)}
}

// socketError is a socket call that failed the way a socket call fails: its errno is
// the Linux name; extra fields go into the reply (a failed connect's tuple).
type socketError struct {
	errno   string
	message string
	extra   map[string]any
}

func (e *socketError) Error() string { return e.errno + ": " + e.message }

// args reads one request's arguments, saying exactly which one is wrong.
type args struct {
	cmd    string
	fields map[string]json.RawMessage
}

func (a args) has(name string) bool {
	v, ok := a.fields[name]
	return ok && string(v) != "null"
}

func (a args) raw(name string) json.RawMessage {
	if !a.has(name) {
		panic(badRequest("%s: argument '%s' is missing", a.cmd, name))
	}
	return a.fields[name]
}

func (a args) bad(name, expected string) *protocolError {
	return badRequest("%s: argument '%s' %s", a.cmd, name, expected)
}

func (a args) integer(name string, min, max int64) int64 {
	v := a.raw(name)
	n, err := strconv.ParseInt(string(v), 10, 64)
	if errors.Is(err, strconv.ErrRange) && v[0] != '-' {
		n, err = math.MaxInt64, nil // a count past int64: as large as it gets, as lwIP's agent reads it
	}
	if err != nil || n < min || n > max {
		panic(a.bad(name, fmt.Sprintf("must be an integer from %d to %d, not %s", min, max, v)))
	}
	return n
}

func (a args) optInteger(name string, min, max, fallback int64) int64 {
	if !a.has(name) {
		return fallback
	}
	return a.integer(name, min, max)
}

func (a args) str(name string) string {
	var s string
	if err := json.Unmarshal(a.raw(name), &s); err != nil {
		panic(a.bad(name, "must be a string, not "+string(a.fields[name])))
	}
	return s
}

func (a args) boolean(name string) bool {
	var b bool
	if err := json.Unmarshal(a.raw(name), &b); err != nil {
		panic(a.bad(name, "must be true or false, not "+string(a.fields[name])))
	}
	return b
}

func (a args) optBoolean(name string, fallback bool) bool {
	if !a.has(name) {
		return fallback
	}
	return a.boolean(name)
}

func (a args) object(name string) args {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(a.raw(name), &fields); err != nil || fields == nil {
		panic(a.bad(name, "must be an object, not "+string(a.fields[name])))
	}
	return args{a.cmd + " " + name, fields}
}

func (a args) address(name string) net.IP {
	text := a.str(name)
	ip := net.ParseIP(text)
	if ip == nil {
		panic(a.bad(name, fmt.Sprintf("must be an IPv4 or IPv6 address such as 198.18.2.1 or 2001:2:0:2::1, not %q", text)))
	}
	return ip
}

// lineWriter sends whole lines; replies and events from many goroutines never interleave.
type lineWriter struct {
	mu  sync.Mutex
	out io.Writer
}

func (w *lineWriter) send(message map[string]any) {
	line, err := json.Marshal(message)
	if err != nil {
		line, _ = json.Marshal(map[string]any{"event": "log", "message": "cannot encode a message: " + err.Error()})
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.out.Write(line); err != nil {
		fmt.Fprintf(os.Stderr, "tcpfault-gvisor-agent: control socket write failed (%v): exiting\n", err)
		os.Exit(0)
	}
}

func okReply(id any, result map[string]any) map[string]any {
	reply := map[string]any{"id": id, "ok": true}
	for k, v := range result {
		reply[k] = v
	}
	return reply
}

func errnoReply(id any, e *socketError) map[string]any {
	reply := map[string]any{"id": id, "ok": false, "errno": e.errno, "message": e.message}
	for k, v := range e.extra {
		reply[k] = v
	}
	return reply
}

func protocolErrorReply(id any, e *protocolError) map[string]any {
	return map[string]any{"id": id, "error": e.kind, "message": e.message}
}

// lineReader yields the control socket's lines; a line over the limit is reported once
// (tooLong) and skipped to its end.
type lineReader struct {
	r *bufio.Reader
}

func newLineReader(r io.Reader) *lineReader { return &lineReader{bufio.NewReaderSize(r, 64<<10)} }

// next returns the next line, or tooLong, or io.EOF.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, isPrefix, err := l.r.ReadLine()
		if err != nil {
			return nil, false, err
		}
		if len(buf)+len(chunk) > maxLine {
			for isPrefix { // drop the rest of the line
				if _, isPrefix, err = l.r.ReadLine(); err != nil {
					return nil, true, nil
				}
			}
			return nil, true, nil
		}
		buf = append(buf, chunk...)
		if !isPrefix {
			return buf, false, nil
		}
	}
}

func hexBytes(a args, name string) []byte {
	text := a.str(name)
	out, err := hex.DecodeString(text)
	var bad hex.InvalidByteError
	switch {
	case errors.As(err, &bad):
		at := strings.IndexByte(text, byte(bad)) &^ 1 // the pair it is in
		panic(badRequest("%s data: '%s' at offset %d is not hex", a.cmd, text[at:at+2], at))
	case err != nil:
		panic(badRequest("%s data: hex data has an odd number of digits", a.cmd))
	}
	return out
}
