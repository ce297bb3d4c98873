// lwIP's headers for every file of the agent, in the order they need each other.
//
// Debian's liblwip is built with its own lwipopts.h (/usr/include/lwip): NO_SYS=0,
// LWIP_TCPIP_CORE_LOCKING=1, sockets with the lwip_ prefix over the system's socket
// headers, and the system's errno values (so lwIP's errnos are Linux's).
#pragma once

// lwipopts.h declares the core lock functions without extern "C": give them C linkage
// before opt.h includes it.
extern "C" {
#include <lwipopts.h>
}
#include <lwip/opt.h>

#include <lwip/etharp.h>
#include <lwip/ethip6.h>
#include <lwip/init.h>
#include <lwip/ip_addr.h>
#include <lwip/nd6.h>
#include <lwip/netif.h>
#include <lwip/pbuf.h>
#include <lwip/priv/nd6_priv.h>
#include <lwip/priv/tcp_priv.h>
#include <lwip/sockets.h>
#include <lwip/tcp.h>
#include <lwip/tcpip.h>
#include <netif/ethernet.h>
