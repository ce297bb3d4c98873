// SPDX-License-Identifier: GPL-2.0
// Every state a TCP socket of this machine passes, written to a ring buffer when it
// happens, with the kernel's CLOCK_MONOTONIC time (see harness/observe/bpf_observer.h).
//
// Tracepoints only (tp_btf): they load where function tracing (fentry/fexit, kprobes)
// is not allowed, as on the machines this runs on.
// - Full sockets: sock:inet_sock_set_state.
// - Timewait minisockets and request sockets have no state events. Each is an object of
//   its own slab cache with a timer_list inside: kmem:kmem_cache_alloc names the object,
//   timer:timer_start of its timer is the moment it is hashed (tcp_time_wait,
//   inet_csk_reqsk_queue_hash_add arm it right there), timer:timer_cancel and
//   timer:timer_expire_entry are the moment it is taken out (inet_twsk_deschedule_put,
//   inet_csk_reqsk_queue_drop cancel it; its handler kills it) unless the timer is
//   started again at once (a reschedule), and kmem:kmem_cache_free is when it is gone.
//   The caches are learned from full sockets (sk_prot->twsk_prot, sk_prot->rsk_prot).
// - Why it ended: the segment being processed on this CPU at that moment, if it is for
//   the object's 4-tuple (net:netif_receive_skb, until skb:kfree_skb or consume_skb),
//   with its flags and whether the kernel answered it with an RST (tcp:tcp_send_reset).
// - A minisocket's FIN_WAIT2 -> TIME_WAIT (the peer's FIN): its substate after each
//   segment processed for it, or when its timer is rescheduled.
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "state_events.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define TH_SYN 0x02
#define TH_RST 0x04
#define ST_FIN_WAIT2 5
#define ST_TIME_WAIT 6
#define ST_LISTEN 10
#define ST_SYN_RECV 3
#define ST_CLOSE 7
// A segment being processed is the cause of what happens to its object this long after
// it arrived at most (processing is synchronous; this only guards against a stale record).
#define SEGMENT_NS 10000000ULL

enum obj_kind { OBJ_TW = 1, OBJ_REQ = 2 };

struct tuple_key {  // 48 bytes: same_key() compares it in 8-byte words
  __u32 netns;
  __u16 family, local_port, remote_port, pad;
  __u8 local[16], remote[16];
  __u32 pad2;
};

struct object {
  __u8 kind, started, substate, why;
  __u8 reported, pad[3];  // its end is in the ring buffer already
  __u64 end_t_ns;  // its timer was cancelled or fired at this time (0: it is live)
  struct tuple_key key;
};

// Learned caches and timer functions (0: not yet).
__u64 tw_cache[2], req_cache[2];  // [0] IPv4, [1] IPv6
__u64 tw_timer_fn, req_timer_fn;

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4 << 20);
} events SEC(".maps");

// Records the ring buffer had no room for.
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} lost SEC(".maps");

// Minisockets and request sockets, from allocation to free, by address. A plain hash,
// not an LRU one: a SYN flood's request sockets made the LRU evict a live orphan's
// minisocket, whose end then went unrecorded. Full, it refuses and counts the loss.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct object);
} objects SEC(".maps");

// The hashed ones by 4-tuple, to find the object a segment is for.
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 65536);
  __type(key, struct tuple_key);
  __type(value, __u64);
} by_tuple SEC(".maps");

// The TCP segment this CPU is processing (softirq does not nest).
struct segment {
  __u64 skb, t_ns;
  struct tuple_key key;  // as its receiver sees it
  __u8 flags, rst_sent;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct segment);
} current SEC(".maps");

static __always_inline struct segment* segment_here(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&current, &zero);
}

static __always_inline void count_lost(void) {
  __u32 zero = 0;
  __u64* n = bpf_map_lookup_elem(&lost, &zero);
  if (n) __sync_fetch_and_add(n, 1);
}

static __always_inline struct state_event* reserve(__u8 kind, __u64 object, __u64 t_ns) {
  struct state_event* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
  if (!e) {
    __u32 zero = 0;
    __u64* n = bpf_map_lookup_elem(&lost, &zero);
    if (n) __sync_fetch_and_add(n, 1);
    return 0;
  }
  __builtin_memset(e, 0, sizeof(*e));
  e->t_ns = t_ns ? t_ns : bpf_ktime_get_ns();
  e->kind = kind;
  e->object = object;
  return e;
}

// IPv4 in IPv6 (::ffff:a.b.c.d) is keyed as IPv4, as the segment carries it.
static __always_inline void normalize(struct tuple_key* k) {
  if (k->family != AF_INET6) return;
  __u32* l = (__u32*)k->local;
  __u32* r = (__u32*)k->remote;
  if (l[0] || l[1] || l[2] != bpf_htonl(0xffff) || r[0] || r[1] || r[2] != bpf_htonl(0xffff)) return;
  k->family = AF_INET;
  l[0] = l[3];
  r[0] = r[3];
  l[1] = l[2] = l[3] = r[1] = r[2] = r[3] = 0;
}

// Addresses and namespace from the common head of a full, timewait or request socket.
static __always_inline void key_of(struct tuple_key* k, const struct sock_common* c) {
  __builtin_memset(k, 0, sizeof(*k));
  k->family = BPF_CORE_READ(c, skc_family);
  k->local_port = BPF_CORE_READ(c, skc_num);
  k->remote_port = bpf_ntohs(BPF_CORE_READ(c, skc_dport));
  k->netns = BPF_CORE_READ(c, skc_net.net, ns.inum);
  if (k->family == AF_INET6) {
    BPF_CORE_READ_INTO(&k->local, c, skc_v6_rcv_saddr.in6_u.u6_addr8);
    BPF_CORE_READ_INTO(&k->remote, c, skc_v6_daddr.in6_u.u6_addr8);
  } else {
    BPF_CORE_READ_INTO((__u32*)k->local, c, skc_rcv_saddr);
    BPF_CORE_READ_INTO((__u32*)k->remote, c, skc_daddr);
  }
}

static __always_inline void put_key(struct state_event* e, const struct tuple_key* k) {
  e->netns = k->netns;
  e->family = k->family;
  e->local_port = k->local_port;
  e->remote_port = k->remote_port;
  __builtin_memcpy(e->local, k->local, 16);
  __builtin_memcpy(e->remote, k->remote, 16);
}

static __always_inline bool same_key(const struct tuple_key* a, const struct tuple_key* b) {
  const __u64* x = (const __u64*)a;
  const __u64* y = (const __u64*)b;
#pragma unroll
  for (int i = 0; i < (int)(sizeof(*a) / 8); i++)
    if (x[i] != y[i]) return false;
  return true;
}

// ---- full sockets ----

// The 4-tuple of a child a listener is making of a request socket, at its LISTEN -> SYN_RECV.
// Older kernels (6.1 and 6.12 among them) set that state in inet_csk_clone_lock() before
// they copy the request's addresses into the clone, so the record would carry the
// listener's (no remote port) and the reader could not tie the child to its request
// socket: the life would seem to end in SYN_RECV -> CLOSED and start again at the ACK.
// Newer kernels (6.18) copy the addresses first. Which order a kernel has is in its code, not
// its types, so this is decided by what the socket holds: a remote port of 0 is the
// listener's. The child is made while the segment that completes the handshake (the
// ACK, a cookie's ACK, a Fast Open SYN) is being processed on this CPU: the request
// socket hashed for its 4-tuple gives the key, else the segment's own 4-tuple does.
static __always_inline void child_key(struct tuple_key* k) {
  struct segment* s = segment_here();
  if (!s || !s->skb || bpf_ktime_get_ns() - s->t_ns >= SEGMENT_NS) return;
  if (s->key.netns != k->netns || s->key.local_port != k->local_port) return;
  __u64* req = bpf_map_lookup_elem(&by_tuple, &s->key);
  if (req) {
    __u64 addr = *req;
    struct object* o = bpf_map_lookup_elem(&objects, &addr);
    if (o && o->kind == OBJ_REQ && o->started) {
      *k = o->key;
      return;
    }
  }
  *k = s->key;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_state, const struct sock* sk, int oldstate, int newstate) {
  if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP) return 0;
  // Learn the caches of this family's minisockets and request sockets.
  int v6 = BPF_CORE_READ(sk, __sk_common.skc_family) == AF_INET6;
  if (!tw_cache[v6 & 1]) tw_cache[v6 & 1] = (__u64)BPF_CORE_READ(sk, __sk_common.skc_prot, twsk_prot, twsk_slab);
  if (!req_cache[v6 & 1]) req_cache[v6 & 1] = (__u64)BPF_CORE_READ(sk, __sk_common.skc_prot, rsk_prot, slab);
  struct state_event* e = reserve(SE_STATE, (__u64)sk, 0);
  if (!e) return 0;
  struct tuple_key k;
  key_of(&k, &sk->__sk_common);
  // The bound port, as the tracepoint's own record has it: a closing socket has left
  // its port (skc_num = 0) before the step to CLOSED is reported.
  k.local_port = bpf_ntohs(BPF_CORE_READ((const struct inet_sock*)sk, inet_sport));
  if (oldstate == ST_LISTEN && newstate == ST_SYN_RECV && !k.remote_port) child_key(&k);
  put_key(e, &k);
  e->from = oldstate;
  e->to = newstate;
  bpf_ringbuf_submit(e, 0);
  return 0;
}

// ---- minisockets and request sockets ----

static __always_inline int kind_of_cache(__u64 s) {
  if (!s) return 0;
  if (s == tw_cache[0] || s == tw_cache[1]) return OBJ_TW;
  if (s == req_cache[0] || s == req_cache[1]) return OBJ_REQ;
  return 0;
}

// The slab tracepoints are attached raw (untyped arguments): only the addresses are used,
// and kernels before 6.4 or so refuse a typed program that reads a `const void *`
// argument ("arg1 type UNKNOWN is not a struct"). Arguments: call_site, ptr, cache.
SEC("raw_tp/kmem_cache_alloc")
int on_alloc(struct bpf_raw_tracepoint_args* ctx) {
  const void* ptr = (const void*)ctx->args[1];
  int kind = kind_of_cache(ctx->args[2]);
  if (!kind || !ptr) return 0;
  struct object o = {};
  o.kind = kind;
  __u64 key = (__u64)ptr;
  if (bpf_map_update_elem(&objects, &key, &o, BPF_ANY) != 0) count_lost();
  return 0;
}

// The object whose timer this is, if any.
static __always_inline struct object* owner(struct timer_list* t, __u64* addr) {
  __u64 fn = (__u64)BPF_CORE_READ(t, function);
  if (!fn) return 0;
  if (tw_timer_fn && req_timer_fn && fn != tw_timer_fn && fn != req_timer_fn) return 0;
  __u64 tw = (__u64)t - bpf_core_field_offset(struct inet_timewait_sock, tw_timer);
  __u64 req = (__u64)t - bpf_core_field_offset(struct request_sock, rsk_timer);
  if (!tw_timer_fn || fn == tw_timer_fn) {
    struct object* o = bpf_map_lookup_elem(&objects, &tw);
    if (o && o->kind == OBJ_TW) {
      tw_timer_fn = fn;
      *addr = tw;
      return o;
    }
  }
  if (!req_timer_fn || fn == req_timer_fn) {
    struct object* o = bpf_map_lookup_elem(&objects, &req);
    if (o && o->kind == OBJ_REQ) {
      req_timer_fn = fn;
      *addr = req;
      return o;
    }
  }
  return 0;
}

static __always_inline __u8 tw_substate(__u64 tw) {
  return BPF_CORE_READ((struct inet_timewait_sock*)tw, tw_substate);
}

// A minisocket that was FIN_WAIT2 and is TIME_WAIT now got the peer's FIN.
static __always_inline void check_substate(struct object* o, __u64 tw) {
  if (o->kind != OBJ_TW || !o->started || o->substate != ST_FIN_WAIT2) return;
  __u8 now = tw_substate(tw);
  if (now != ST_TIME_WAIT) return;
  o->substate = now;
  struct state_event* e = reserve(SE_TW_SUBSTATE, tw, 0);
  if (!e) return;
  put_key(e, &o->key);
  e->from = ST_FIN_WAIT2;
  e->to = ST_TIME_WAIT;
  bpf_ringbuf_submit(e, 0);
}

SEC("tp_btf/timer_start")
int BPF_PROG(on_timer_start, struct timer_list* t) {
  __u64 addr = 0;
  struct object* o = owner(t, &addr);
  if (!o) return 0;
  if (o->started) {  // rescheduled: alive after all
    o->end_t_ns = 0;
    o->why = SE_END_OTHER;
    check_substate(o, addr);
    return 0;
  }
  o->started = 1;
  if (o->kind == OBJ_TW) {
    key_of(&o->key, &((struct inet_timewait_sock*)addr)->__tw_common);
    o->substate = tw_substate(addr);
  } else {
    key_of(&o->key, &((struct request_sock*)addr)->__req_common);
  }
  normalize(&o->key);
  if (bpf_map_update_elem(&by_tuple, &o->key, &addr, BPF_ANY) != 0) count_lost();
  struct state_event* e = reserve(o->kind == OBJ_TW ? SE_TW_NEW : SE_REQ_NEW, addr, 0);
  if (!e) return 0;
  put_key(e, &o->key);
  e->from = o->kind == OBJ_TW ? 0 : ST_LISTEN;
  e->to = o->kind == OBJ_TW ? o->substate : ST_SYN_RECV;
  bpf_ringbuf_submit(e, 0);
  return 0;
}

SEC("tp_btf/timer_cancel")
int BPF_PROG(on_timer_cancel, struct timer_list* t) {
  __u64 addr = 0;
  struct object* o = owner(t, &addr);
  if (!o || !o->started || o->end_t_ns) return 0;
  o->end_t_ns = bpf_ktime_get_ns();
  o->why = SE_END_OTHER;
  struct segment* s = segment_here();
  if (s && s->skb && o->end_t_ns - s->t_ns < SEGMENT_NS && same_key(&s->key, &o->key))
    o->why = (s->flags & TH_RST) ? SE_END_RST
             : s->rst_sent       ? SE_END_RST_SENT
             : (s->flags & TH_SYN) ? SE_END_SYN
                                   : SE_END_SEGMENT;
  return 0;
}

// The end of a started object, written now.
static __always_inline void report_end(struct object* o, __u64 addr) {
  struct state_event* e = reserve(o->kind == OBJ_TW ? SE_TW_END : SE_REQ_END, addr, o->end_t_ns);
  if (!e) return;
  put_key(e, &o->key);
  e->from = o->kind == OBJ_TW ? tw_substate(addr) : ST_SYN_RECV;
  e->to = ST_CLOSE;
  e->why = o->why;
  bpf_ringbuf_submit(e, 0);
  o->reported = 1;
}

SEC("tp_btf/timer_expire_entry")
int BPF_PROG(on_timer_fired, struct timer_list* t) {
  __u64 addr = 0;
  struct object* o = owner(t, &addr);
  if (!o || !o->started) return 0;
  o->end_t_ns = bpf_ktime_get_ns();  // a request's handler may rearm it (a SYN-ACK again)
  o->why = SE_END_TIMER;
  // A minisocket's handler always kills it: its end is now. Its memory may be freed
  // much later (the last reference), and a wait for the free left an orphan's
  // FIN_WAIT2 timeout unrecorded for seconds under load.
  if (o->kind == OBJ_TW && !o->reported) report_end(o, addr);
  return 0;
}

SEC("raw_tp/kmem_cache_free")
int on_free(struct bpf_raw_tracepoint_args* ctx) {
  if (!kind_of_cache(ctx->args[2])) return 0;
  __u64 addr = ctx->args[1];
  struct object* o = bpf_map_lookup_elem(&objects, &addr);
  if (!o) return 0;
  if (o->started) {
    __u64* indexed = bpf_map_lookup_elem(&by_tuple, &o->key);
    if (indexed && *indexed == addr) bpf_map_delete_elem(&by_tuple, &o->key);
    if (!o->reported) report_end(o, addr);
  }
  bpf_map_delete_elem(&objects, &addr);
  return 0;
}

// ---- the segment being processed ----

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(on_receive, struct sk_buff* skb) {
  struct segment* s = segment_here();
  if (!s) return 0;
  s->skb = 0;
  __u16 proto = bpf_ntohs(BPF_CORE_READ(skb, protocol));
  const __u8* data = BPF_CORE_READ(skb, data);
  struct tuple_key k = {};
  __u32 l4 = 0;
  if (proto == ETH_P_IP) {
    __u8 vihl = 0, p = 0;
    bpf_probe_read_kernel(&vihl, 1, data);
    bpf_probe_read_kernel(&p, 1, data + 9);
    if ((vihl >> 4) != 4 || p != IPPROTO_TCP) return 0;
    k.family = AF_INET;
    bpf_probe_read_kernel(k.remote, 4, data + 12);
    bpf_probe_read_kernel(k.local, 4, data + 16);
    l4 = (vihl & 0xf) * 4;
  } else if (proto == ETH_P_IPV6) {
    __u8 next = 0;
    bpf_probe_read_kernel(&next, 1, data + 6);
    if (next != IPPROTO_TCP) return 0;
    k.family = AF_INET6;
    bpf_probe_read_kernel(k.remote, 16, data + 8);
    bpf_probe_read_kernel(k.local, 16, data + 24);
    l4 = 40;
  } else {
    return 0;
  }
  __u16 ports[2] = {};
  bpf_probe_read_kernel(ports, 4, data + l4);
  k.remote_port = bpf_ntohs(ports[0]);
  k.local_port = bpf_ntohs(ports[1]);
  k.netns = BPF_CORE_READ(skb, dev, nd_net.net, ns.inum);
  bpf_probe_read_kernel(&s->flags, 1, data + l4 + 13);
  s->key = k;
  s->rst_sent = 0;
  s->t_ns = bpf_ktime_get_ns();
  s->skb = (__u64)skb;
  return 0;
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_send_reset, const struct sock* sk, const struct sk_buff* skb) {
  struct segment* s = segment_here();
  if (s && s->skb == (__u64)skb) s->rst_sent = 1;
  return 0;
}

// Done with the segment: did it move a minisocket from FIN_WAIT2 to TIME_WAIT?
static __always_inline void segment_done(struct sk_buff* skb) {
  struct segment* s = segment_here();
  if (!s || s->skb != (__u64)skb) return;
  s->skb = 0;
  __u64* addr = bpf_map_lookup_elem(&by_tuple, &s->key);
  if (!addr) return;
  __u64 tw = *addr;
  struct object* o = bpf_map_lookup_elem(&objects, &tw);
  if (o) check_substate(o, tw);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(on_kfree_skb, struct sk_buff* skb) {
  segment_done(skb);
  return 0;
}

SEC("tp_btf/consume_skb")
int BPF_PROG(on_consume_skb, struct sk_buff* skb) {
  segment_done(skb);
  return 0;
}
