// The agent: reads requests, brings the stack up on hello, admits each socket request in
// arrival order and runs it on a goroutine of its own, replies and sends events.

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"sort"
	"strings"
	"sync/atomic"
)

type agent struct {
	out      *lineWriter
	tapFD    int
	helloed  atomic.Bool
	commands *commands
	sysctls  *sysctls
	states   *stateEvents
}

type admit func(a args) job

func (g *agent) table() map[string]admit {
	return map[string]admit{
		"listen": g.commands.listen, "accept": g.commands.accept, "connect": g.commands.connect,
		"send": g.commands.send, "recv": g.commands.recv, "shutdown": g.commands.shutdown,
		"close": g.commands.close, "setsockopt": g.commands.setsockopt, "getsockopt": g.commands.getsockopt,
		"sockets": func(args) job {
			return func() (map[string]any, error) { return map[string]any{"sockets": g.states.sockets()}, nil }
		},
		"get_sysctl": g.sysctls.getSysctl, "set_sysctl": g.sysctls.setSysctl,
		"counters": func(args) job { return countersJob(g.commands.stack) },
	}
}

var commandNames = []string{"accept", "close", "connect", "counters", "get_sysctl", "getsockopt", "listen", "recv", "send",
	"set_sysctl", "setsockopt", "shutdown", "sockets"}

func knownCommands() string { return "hello, bye, " + strings.Join(commandNames, ", ") }

func (g *agent) log(message string) {
	fmt.Fprintf(os.Stderr, "tcpfault-gvisor-agent: %s\n", message)
	if g.helloed.Load() {
		g.out.send(map[string]any{"event": "log", "message": message})
	}
}

// reply sends a job's outcome, after the state changes that came before it.
func (g *agent) reply(id any, result map[string]any, err error) {
	if g.states != nil {
		g.states.flush()
	}
	switch e := err.(type) {
	case nil:
		g.out.send(okReply(id, result))
	case *socketError:
		g.out.send(errnoReply(id, e))
	case *protocolError:
		g.out.send(protocolErrorReply(id, e))
	default:
		g.out.send(protocolErrorReply(id, unsupported("agent failure: %v", err)))
	}
}

func (g *agent) tooLong() {
	g.out.send(protocolErrorReply(nil, &protocolError{"malformed",
		"a line longer than 1 MiB (1048576 bytes): the protocol's limit for one message"}))
}

func (g *agent) handleLine(line []byte) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(line, &fields); err != nil || fields == nil {
		shown := string(line)
		if len(shown) > 200 {
			shown = shown[:200]
		}
		g.out.send(protocolErrorReply(nil, &protocolError{"malformed", "not a JSON object: " + shown}))
		return
	}
	var id any
	defer func() { // argument errors are raised as panics while a request is admitted
		if r := recover(); r != nil {
			if e, ok := r.(*protocolError); ok {
				g.out.send(protocolErrorReply(id, e))
				return
			}
			panic(r)
		}
	}()
	rawID, ok := fields["id"]
	if !ok {
		panic(badRequest("a request needs an \"id\" (a positive integer)"))
	}
	var n int64
	if err := json.Unmarshal(rawID, &n); err != nil || n < 1 || strings.ContainsAny(string(rawID), ".eE") {
		panic(badRequest("\"id\" must be a positive integer, not %s", rawID))
	}
	id = n
	var cmd string
	if err := json.Unmarshal(fields["cmd"], &cmd); err != nil {
		panic(badRequest("a request needs a \"cmd\" string (one of: %s)", knownCommands()))
	}
	a := args{cmd, fields}
	if cmd == "hello" {
		g.hello(id, a)
		return
	}
	var admitted admit
	if g.commands != nil {
		admitted = g.table()[cmd]
	}
	if cmd != "bye" && admitted == nil && !contains(commandNames, cmd) {
		panic(&protocolError{"unknown_command", fmt.Sprintf("no command %q; the commands are: %s", cmd, knownCommands())})
	}
	if !g.helloed.Load() {
		panic(badRequest("%s before hello: the first request must be hello", cmd))
	}
	if cmd == "bye" {
		g.reply(id, map[string]any{}, nil)
		os.Exit(0)
	}
	run := admitted(a) // in arrival order: handles are taken now
	go g.run(id, run)
}

func (g *agent) run(id any, run job) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(*protocolError); ok {
				g.reply(id, nil, e)
				return
			}
			g.reply(id, nil, unsupported("agent failure: %v\n%s", r, debug.Stack()))
		}
	}()
	result, err := run()
	g.reply(id, result, err)
}

func (g *agent) hello(id any, a args) {
	version := a.integer("version", 0, 1<<31-1)
	if version != protocolVersion {
		reply := protocolErrorReply(id, &protocolError{"version",
			fmt.Sprintf("this agent speaks protocol version %d, not %d", protocolVersion, version)})
		reply["versions"] = []int{protocolVersion}
		g.out.send(reply)
		return
	}
	if g.helloed.Load() {
		panic(badRequest("hello again: the stack is already up"))
	}
	if side := a.str("side"); side != "server" && side != "client" {
		panic(a.bad("side", `must be "server" or "client", not "`+side+`"`))
	}
	var c stackConfig
	if a.has("ipv4") {
		c.ipv4 = familyArg(a, "ipv4", false)
	}
	if a.has("ipv6") {
		c.ipv6 = familyArg(a, "ipv6", true)
	}
	if c.ipv4 == nil && c.ipv6 == nil {
		panic(a.bad("ipv4", "or 'ipv6' is needed: the stack needs an address"))
	}
	c.mtu = uint32(a.optInteger("mtu", 1280, 65535, 1500))
	s, err := newNetstack(g.tapFD, c)
	if err != nil {
		g.out.send(errnoReply(id, failErrno("EIO", "could not bring the stack up: "+err.Error())))
		return
	}
	handles := newHandleTable()
	g.sysctls = newSysctls(s, handles)
	g.commands = &commands{stack: s, handles: handles, sysctls: g.sysctls}
	g.states = newStateEvents(g.out.send)
	features := append([]string{"state_events", "sysctls", "counters"}, socketOptions...)
	sort.Strings(features[3:])
	g.helloed.Store(true)
	g.reply(id, map[string]any{
		"version":         protocolVersion,
		"agent":           "tcpfault-gvisor-agent, gVisor netstack " + gvisorVersion + " (Debian golang-gvisor-gvisor-dev)",
		"features":        features,
		"sysctls":         g.sysctls.declared(),
		"counters":        declaredCounters(),
		"mac":             agentMAC.String(),
		"ipv6_link_local": linkLocal().String(),
	}, nil)
}

func familyArg(hello args, name string, v6 bool) *familyConfig {
	a := hello.object(name)
	ip := a.address("address")
	if (ip.To4() == nil) != v6 {
		panic(a.bad("address", fmt.Sprintf("must be an %s address, not %s", map[bool]string{false: "IPv4", true: "IPv6"}[v6], ip)))
	}
	bits := int64(32)
	if v6 {
		bits = 128
	}
	c := &familyConfig{address: ip, prefix: int(a.integer("prefix", 1, bits))}
	if a.has("gateway") {
		c.gateway = a.address("gateway")
		if c.gateway.To4() == nil != v6 {
			panic(a.bad("gateway", "must be of the address's family, not "+c.gateway.String()))
		}
	}
	return c
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
