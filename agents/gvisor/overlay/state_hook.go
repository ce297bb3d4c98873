// This file is added to gVisor's tcp package by the agent's build (go build -overlay):
// netstack has no public hook for an endpoint's state changes, and polling misses the
// short-lived ones (SYN_RECV, CLOSE_WAIT, FIN_WAIT2).

package tcp

import (
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// StateHook, when set, hears every change of every endpoint's state, in order. It runs
// with the endpoint's lock held, inside the stack's processing: it must only record the
// change, never call into the stack.
var StateHook func(ep tcpip.Endpoint, id stack.TransportEndpointID, from, to EndpointState)

// stateChanged is called by setEndpointState (endpoint.go, patched by the build).
func stateChanged(e *endpoint, from, to EndpointState) {
	if hook := StateHook; hook != nil && from != to {
		hook(e, e.TransportEndpointInfo.ID, from, to)
	}
}
