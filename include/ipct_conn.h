/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_conntrack: C side of the data path (entries, tables, packet hooks).
 *
 * Provided by C (src/kmod/conn_helpers.c): every ipct_* function below, for
 * what Rust-for-Linux 6.12 cannot express (spin_lock_bh, slab caches,
 * per-CPU data, delayed work, net_generic, skb->_nfct, nf_ct_hook, inline
 * kernel functions). Provided by Rust: the callbacks passed in (pernet
 * table setup, delayed-work function, nf_ct_hook members). Each helper is
 * wrapped once by a safe Rust type in src/kmod/ (lock.rs, skb.rs, conn.rs,
 * table.rs, kstats in stats.rs, gc.rs, nfct_hook.rs).
 */
#ifndef IPCT_CONN_H
#define IPCT_CONN_H

#include <linux/netfilter.h>
#include <linux/skbuff.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>
#include <net/netfilter/nf_conntrack_tuple.h>

/* Spinlocks taken with bottom halves disabled (lock.rs). */
void ipct_spin_lock_init(spinlock_t *lock, const char *name,
			 struct lock_class_key *key);
/*
 * Takes @lock with bottom halves off: with spin_lock() when they already
 * are (softirq context, the packet path's usual one, or under
 * local_bh_disable()), else with spin_lock_bh(). Returns whether it turned
 * them off, for the unlock.
 */
bool ipct_spin_lock_bh_off(spinlock_t *lock);
/* Releases a lock taken by ipct_spin_lock_bh_off(), which returned @bh. */
void ipct_spin_unlock_bh_off(spinlock_t *lock, bool bh);

/*
 * Sets IPS_CONFIRMED in the entry's shadow of nf_conn.status, where this
 * kernel has readers of that word (conn_helpers.c); no-op elsewhere.
 */
void ipct_shadow_confirmed(void *obj);

/* The reference count at the start of every entry (conn.rs). */
void ipct_nfct_init(struct nf_conntrack *ct);
/* Drops one reference; true when it was the last. */
bool ipct_nfct_put_test(struct nf_conntrack *ct);
unsigned int ipct_nfct_use(const struct nf_conntrack *ct);

/*
 * Where skb_set_nfct() sets the slow_gro bit (a bitfield, which offsetof
 * cannot name): its byte's offset and its mask, found in a constant sk_buff
 * with only that bit set. skb.rs writes _nfct and this bit itself. Returns
 * false if the bit was not found (then the module refuses to load).
 */
bool ipct_skb_slow_gro_bit(unsigned long *offset, u8 *mask);
/*
 * The packet from its network header on, as skb_header_pointer() gives
 * it: a pointer to *@len (at most @buflen) bytes, into the packet when
 * they are linear, else copied into @buf. *@frame_len is the length from
 * the network header to the end of the packet. NULL when nothing can be
 * read.
 */
const void *ipct_skb_head(const struct sk_buff *skb, void *buf,
			  unsigned int buflen, unsigned int *len,
			  unsigned int *frame_len);
/*
 * The @n bytes at @off from the network header of @skb, as
 * skb_header_pointer() gives them: in place when linear, else copied into
 * @buf. NULL when they run past the packet.
 */
const void *ipct_skb_bytes(const struct sk_buff *skb, unsigned int off,
			   unsigned int n, void *buf);

/*
 * Whether the layer-4 checksum of @skb (IPv4, layer 4 at @l4off from the
 * network header, protocol @proto) is wrong, as nf_conntrack checks it at
 * PRE_ROUTING (nf_checksum; a UDP datagram without checksum passes).
 */
bool ipct_skb_l4_csum_bad(struct sk_buff *skb, unsigned int hook,
			  unsigned int l4off, u8 proto);
/*
 * The same over the first @len bytes of layer 4 (nf_checksum_partial:
 * UDP-Lite and DCCP checksum coverage; UDP-Lite passes IPPROTO_UDP, as
 * 6.12's udplite_error does).
 */
bool ipct_skb_l4_csum_partial_bad(struct sk_buff *skb, unsigned int hook,
				  unsigned int l4off, unsigned int len, u8 proto);
/* Both for IPv6 (the pseudo-header of nf_ip6_checksum). */
bool ipct_skb_l4_csum_bad6(struct sk_buff *skb, unsigned int hook,
			   unsigned int l4off, u8 proto);
bool ipct_skb_l4_csum_partial_bad6(struct sk_buff *skb, unsigned int hook,
				   unsigned int l4off, unsigned int len,
				   u8 proto);
/*
 * Whether the SCTP CRC32c of @skb (common header at @l4off from the network
 * header) is wrong, checked as 6.12's sctp_error: only for CHECKSUM_NONE
 * packets, which are marked CHECKSUM_UNNECESSARY once found right.
 */
bool ipct_skb_sctp_csum_bad(struct sk_buff *skb, unsigned int l4off);

/*
 * A slab cache of entries (conn.rs): objects of @size bytes, extended
 * (and the extension kept zeroed) where kernel code reading
 * nf_conn.status through skb->_nfct is built (see conn_helpers.c); with
 * @extra bytes more (8-byte aligned) past both, at the offset stored in
 * *@extra_at (entries with counters). Every cache has the same @size.
 */
struct kmem_cache *ipct_cache_create(const char *name, unsigned int size,
				     unsigned int align, unsigned int extra,
				     unsigned int *extra_at);
/* The size of the cache's objects, as allocated. */
unsigned int ipct_cache_object_size(struct kmem_cache *cache);
void *ipct_cache_alloc(struct kmem_cache *cache);
void ipct_cache_free(struct kmem_cache *cache, void *obj);

/*
 * The cache of IPv6 entries: @size bytes for Rust, then the word at
 * offsetof(struct nf_conn, status), always (nf_defrag_ipv6 reads it of
 * every packet carrying an entry), then the four address words (32 bytes,
 * 8-byte aligned, at *@addrs_at), then @extra bytes (counters, at
 * *@extra_at when @extra). Hardware-cache aligned. NULL when the status
 * word would overlap what Rust uses.
 */
struct kmem_cache *ipct_cache_create6(const char *name, unsigned int size,
				      unsigned int align, unsigned int extra,
				      unsigned int *addrs_at,
				      unsigned int *extra_at);
/* An IPv6 entry with its status word zeroed (not a template, no NAT). */
void *ipct_cache_alloc6(struct kmem_cache *cache);
/* Sets IPS_CONFIRMED in an IPv6 entry's status word. */
void ipct_status_confirmed6(void *obj);
void ipct_cache_destroy(struct kmem_cache *cache);

/* Clock (when HZ does not divide 1000) and logging. */
u64 ipct_now_ms(void);
/* Rate-limited log line for an INVALID packet (ip_conntrack_log_invalid). */
void ipct_log_invalid(u8 proto, u32 src, u32 dst, const char *why, size_t len);
/* pr_warn_ratelimited of @len bytes at @msg (table full). */
void ipct_warn_ratelimited(const char *msg, size_t len);

/* Per-CPU counters (stats.rs): arrays of @n u32 counters. */
void __percpu *ipct_pcpu_alloc(size_t size);
void ipct_pcpu_free(void __percpu *p);
/* Adds @n to counter @index of this CPU's array. */
void ipct_pcpu_add(void __percpu *p, unsigned int index, u32 n);
/* Copies @size bytes of CPU @cpu's copy into @dst. */
void ipct_pcpu_read(void __percpu *p, unsigned int cpu, void *dst, size_t size);
/* The first possible CPU after @prev (-1: the first); >= nr_cpu_ids: none. */
unsigned int ipct_next_possible_cpu(int prev);
unsigned int ipct_nr_cpu_ids(void);

/* Delayed work calling @fn(@ctx) in process context (gc.rs). */
struct ipct_dwork {
	struct delayed_work dwork;
	void (*fn)(void *ctx);
	void *ctx;
};
void ipct_dwork_init(struct ipct_dwork *w, void (*fn)(void *ctx), void *ctx);
void ipct_dwork_schedule(struct ipct_dwork *w, unsigned int delay_ms);
void ipct_dwork_cancel_sync(struct ipct_dwork *w);

/*
 * One table per network namespace (table.rs), kept in net_generic. At
 * namespace setup @init builds the table and stores it in *@slot (after
 * enabling nf_defrag_ipv4 and nf_defrag_ipv6 there); at exit @exit tears it down (then
 * defragmentation is disabled again). Register before the hooks so that the
 * table exists whenever they run.
 *
 * ipct_tables_resize() (the hashsize parameter, at run time) calls @set
 * with the new bucket count (it checks and publishes it, or fails), then
 * @resize on every table, all under one mutex that table creation takes
 * too: a table is made with the old count and resized, or made with the
 * new one. -ENOENT while nothing is registered (at load, when the
 * parameter is only recorded).
 */
int ipct_tables_register(int (*init)(struct net *net, void **slot),
			 void (*exit)(struct net *net, void *table),
			 int (*set)(unsigned int buckets),
			 int (*resize)(void *table, unsigned int buckets));
void ipct_tables_unregister(void);
int ipct_tables_resize(unsigned int buckets);
/* The table of @net (NULL before its setup and after its exit). */
void *ipct_net_table(const struct net *net);

/* nf_ct_hook (nfct_hook.rs). -EBUSY when another tracker installed one. */
int ipct_nf_ct_hook_install(const struct nf_ct_hook *hook);
/* Clears the hook if it is @hook, then waits for callers (synchronize_rcu). */
void ipct_nf_ct_hook_remove(const struct nf_ct_hook *hook);
/* Fills a kernel tuple; every value in host byte order. */
struct ipct_tuple {
	u32 src;
	u32 dst;
	u16 sport;	/* TCP/UDP */
	u16 dport;	/* TCP/UDP */
	u16 icmp_id;
	u8 icmp_type;
	u8 icmp_code;
	u8 proto;
	u8 dir;		/* 0 original, 1 reply */
};
void ipct_fill_tuple(struct nf_conntrack_tuple *t, const struct ipct_tuple *v);

#ifdef __BINDGEN__
const unsigned long IPCT_NFCT_INFOMASK = NFCT_INFOMASK;
/* Ticks per second, to turn jiffies_64 into milliseconds without a call. */
const unsigned int IPCT_HZ = HZ;
/*
 * Where the fields the packet path reads are in struct sk_buff, so it reads
 * them without a call (sizes checked in conn_helpers.c): _nfct (unsigned
 * long), head and data (pointers), len and data_len (unsigned int),
 * network_header (u16, from head).
 */
const unsigned long IPCT_SKB_NFCT_OFFSET = offsetof(struct sk_buff, _nfct);
const unsigned long IPCT_SKB_HEAD_OFFSET = offsetof(struct sk_buff, head);
const unsigned long IPCT_SKB_DATA_OFFSET = offsetof(struct sk_buff, data);
const unsigned long IPCT_SKB_LEN_OFFSET = offsetof(struct sk_buff, len);
const unsigned long IPCT_SKB_DATA_LEN_OFFSET = offsetof(struct sk_buff, data_len);
const unsigned long IPCT_SKB_NETWORK_HEADER_OFFSET = offsetof(struct sk_buff, network_header);
const unsigned long IPCT_CT_UNTRACKED = IP_CT_UNTRACKED;
#endif

#endif /* IPCT_CONN_H */
