// The netstack: gVisor's TCP/IP stack on the TAP fd tcpfault hands the agent, with the
// addresses and routes of hello.

package main

import (
	"fmt"
	"net"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/link/fdbased"
	"gvisor.dev/gvisor/pkg/tcpip/network/arp"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
)

const nicID tcpip.NICID = 1

// agentMAC is locally administered; the IPv6 link-local address is made from it.
var agentMAC = net.HardwareAddr{0x02, 0x74, 0x66, 0x00, 0x00, 0x02}

// familyConfig is one family's part of hello.
type familyConfig struct {
	address net.IP
	prefix  int
	gateway net.IP // nil: no default route
}

type stackConfig struct {
	ipv4, ipv6 *familyConfig
	mtu        uint32
}

// newNetstack brings the stack up on the TAP: a NIC with the agent's MAC, the addresses,
// the on-link subnets and the default routes through the middlebox.
func newNetstack(tapFD int, c stackConfig) (*stack.Stack, error) {
	s := stack.New(stack.Options{
		NetworkProtocols: []stack.NetworkProtocolFactory{
			ipv4.NewProtocol, arp.NewProtocol,
			// The zero DAD and NDP configurations: no duplicate address detection (the
			// topology is fresh, and DAD would keep the addresses tentative for a
			// second), no router solicitations (hello names the router).
			ipv6.NewProtocolWithOptions(ipv6.Options{AutoGenLinkLocal: true}),
		},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol},
	})
	if err := configureAsRunsc(s); err != nil {
		return nil, err
	}
	link, err := fdbased.New(&fdbased.Options{
		FDs:            []int{tapFD},
		MTU:            c.mtu,
		EthernetHeader: true,
		Address:        tcpip.LinkAddress(agentMAC),
		// A TAP is not a socket: read it with readv.
		PacketDispatchMode: fdbased.Readv,
	})
	if err != nil {
		return nil, fmt.Errorf("the TAP device (fd %d): %v", tapFD, err)
	}
	if err := s.CreateNIC(nicID, link); err != nil {
		return nil, fmt.Errorf("create the NIC: %s", err)
	}
	var routes []tcpip.Route
	for _, f := range []struct {
		c     *familyConfig
		proto tcpip.NetworkProtocolNumber
		bits  int
	}{{c.ipv4, ipv4.ProtocolNumber, 32}, {c.ipv6, ipv6.ProtocolNumber, 128}} {
		if f.c == nil {
			continue
		}
		addr := tcpip.Address(ipBytes(f.c.address))
		if err := s.AddProtocolAddress(nicID, tcpip.ProtocolAddress{
			Protocol:          f.proto,
			AddressWithPrefix: tcpip.AddressWithPrefix{Address: addr, PrefixLen: f.c.prefix},
		}, stack.AddressProperties{}); err != nil {
			return nil, fmt.Errorf("add the address %s: %s", f.c.address, err)
		}
		routes = append(routes, tcpip.Route{Destination: subnet(f.c.address, f.c.prefix, f.bits), NIC: nicID})
		if f.c.gateway != nil {
			routes = append(routes, tcpip.Route{
				Destination: subnet(f.c.address, 0, f.bits),
				Gateway:     tcpip.Address(ipBytes(f.c.gateway)),
				NIC:         nicID,
			})
		}
	}
	s.SetRouteTable(routes)
	return s, nil
}

// configureAsRunsc sets what gVisor's sandbox (runsc/boot/loader.go) sets on the stack
// it gives applications, so the target is netstack as deployed, not its bare defaults:
// SACK on, a TTL and hop limit of 64, receive buffer moderation on.
func configureAsRunsc(s *stack.Stack) error {
	sack := tcpip.TCPSACKEnabled(true)
	moderate := tcpip.TCPModerateReceiveBufferOption(true)
	for _, opt := range []tcpip.SettableTransportProtocolOption{&sack, &moderate} {
		if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, opt); err != nil {
			return fmt.Errorf("set %T: %s", opt, err)
		}
	}
	ttl := tcpip.DefaultTTLOption(64)
	for _, proto := range []tcpip.NetworkProtocolNumber{ipv4.ProtocolNumber, ipv6.ProtocolNumber} {
		if err := s.SetNetworkProtocolOption(proto, &ttl); err != nil {
			return fmt.Errorf("set the TTL of protocol %d: %s", proto, err)
		}
	}
	return nil
}

// ipBytes is the 4-byte form of an IPv4 address, the 16-byte form of an IPv6 one.
func ipBytes(ip net.IP) []byte {
	if v4 := ip.To4(); v4 != nil {
		return v4
	}
	return ip.To16()
}

func subnet(ip net.IP, prefix, bits int) tcpip.Subnet {
	mask := net.CIDRMask(prefix, bits)
	raw := ipBytes(ip)
	masked := make([]byte, len(raw))
	for i := range raw {
		masked[i] = raw[i] & mask[i]
	}
	s, err := tcpip.NewSubnet(tcpip.Address(masked), tcpip.AddressMask(mask))
	if err != nil {
		panic(fmt.Sprintf("subnet %s/%d: %v", ip, prefix, err))
	}
	return s
}

// linkLocal is the IPv6 link-local address netstack makes from the MAC (EUI-64).
func linkLocal() net.IP {
	ip := net.IP{0xfe, 0x80, 0, 0, 0, 0, 0, 0, agentMAC[0] ^ 0x02, agentMAC[1], agentMAC[2], 0xff, 0xfe, agentMAC[3], agentMAC[4], agentMAC[5]}
	return ip
}
