// The records the BPF state observer (state_events.bpf.c) writes into its ring buffer,
// shared by the BPF program and the harness (harness/observe/bpf_observer.cpp).
//
// Every record names the kernel object it is about (a full socket, a timewait minisocket
// or a request socket, by its address), its addresses and its network namespace (the
// inode number of /proc/self/ns/net there), and carries the kernel's CLOCK_MONOTONIC time.
#pragma once

#ifdef __bpf__
typedef __u8 se_u8;
typedef __u16 se_u16;
typedef __u32 se_u32;
typedef __u64 se_u64;
#else
#include <cstdint>
typedef std::uint8_t se_u8;
typedef std::uint16_t se_u16;
typedef std::uint32_t se_u32;
typedef std::uint64_t se_u64;
#endif

enum state_event_kind {
  SE_STATE = 1,      // a full socket's state change (sock:inet_sock_set_state)
  SE_TW_NEW = 2,     // a minisocket hashed (its timer armed); the closing full
                     // socket it replaces shows a step to CLOSED right after
  SE_TW_SUBSTATE = 3,// a minisocket's FIN_WAIT2 -> TIME_WAIT (the peer's FIN)
  SE_TW_END = 4,     // a minisocket gone (why: se_end_why)
  SE_REQ_NEW = 5,    // a request socket hashed: SYN_RECV for a SYN (its timer armed)
  SE_REQ_END = 6,    // a request socket freed (why: se_end_why); the reader ignores it
                     // when the request became a full socket (a child with its 4-tuple)
};

// Why a timewait minisocket or a request socket ended: what was going on when its timer
// was cancelled (or fired).
enum se_end_why {
  SE_END_OTHER = 0,    // no segment: a connect() took over a minisocket's 4-tuple
                       // (tcp_tw_reuse), a listener went, a namespace went away
  SE_END_TIMER = 1,    // its own timer (TIME_WAIT's 60 s, an orphan's tcp_fin_timeout,
                       // a request's SYN-ACK retries spent)
  SE_END_RST = 2,      // an RST from the peer, for its 4-tuple
  SE_END_RST_SENT = 3, // a segment for its 4-tuple that the kernel answered with an RST
  SE_END_SYN = 4,      // a new SYN for its 4-tuple, taken by a listener
  SE_END_SEGMENT = 5,  // another segment for its 4-tuple
};

struct state_event {
  se_u64 t_ns;        // bpf_ktime_get_ns(): CLOCK_MONOTONIC
  se_u64 object;      // the kernel object's address: struct sock, timewait or request sock
  se_u64 unused;
  se_u32 netns;       // inode number of its network namespace
  se_u8 kind;         // state_event_kind
  se_u8 from, to;     // TCP states as the kernel numbers them (1 ESTABLISHED ... 12 NEW_SYN_RECV)
  se_u8 why;          // se_end_why (SE_TW_END, SE_REQ_END)
  se_u16 family;      // AF_INET or AF_INET6
  se_u16 local_port;  // host order; 0 before connect() chose it
  se_u16 remote_port; // host order
  se_u8 pad[6];
  se_u8 local[16];    // IPv4 in the first 4 bytes
  se_u8 remote[16];
};
