// Addresses as the protocol writes them: 198.18.2.1:8080 and [2001:2:0:2::1]:8080.

package main

import (
	"net"
	"strconv"

	"gvisor.dev/gvisor/pkg/tcpip"
)

func endpointAddress(addr tcpip.Address, port uint16) string {
	return net.JoinHostPort(net.IP([]byte(addr)).String(), strconv.Itoa(int(port)))
}

func fullAddress(a tcpip.FullAddress) string { return endpointAddress(a.Addr, a.Port) }
