/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_conntrack: the C side of the kernel module.
 *
 * Rust-for-Linux 6.12 has no abstractions for netfilter hooks, procfs,
 * sysctl, sockopts or module parameters. The helpers below (provided by
 * src/kmod/helpers.c) do the parts that need C macros or static C
 * structures; everything else is called from Rust through bindings that
 * bindgen generates from this header (see Kbuild). Each helper is wrapped
 * once by a safe Rust type in src/kmod/.
 *
 * Provided by C (helpers.c): every ipct_* function declared here.
 * Provided by Rust: the callbacks passed in (hook functions, seq_file
 * operations, sysctl tables, sockopt handlers).
 */
#ifndef IP_CONNTRACK_H
#define IP_CONNTRACK_H

#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6/ip6_tables.h>
#include <linux/in6.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/sysctl.h>
#include <linux/types.h>

/* Module parameters (declared with module_param in helpers.c). */

/* The `hashsize` parameter: bucket count requested at load, 0 = automatic. */
unsigned int ipct_param_hashsize(void);
/* Shows @buckets as the parameter's value (the size chosen at load). */
void ipct_param_set_hashsize(unsigned int buckets);

/* Memory the bucket-count default is derived from, in bytes. */
unsigned long ipct_physmem_bytes(void);

/*
 * Adds one collector run to the debugfs files gc_ns, gc_max_hold_ns and
 * gc_runs: the run's duration and its longest stripe lock hold.
 */
void ipct_gc_account(u64 run_ns, u64 max_hold_ns);

/* Creates /sys/kernel/debug/ip_conntrack/ (best effort); removes it. */
void ipct_debugfs_init(void);
void ipct_debugfs_exit(void);

/* Mutual exclusion with the kernel's nf_conntrack. */

/* Whether some tracker (nf_conntrack) has installed nf_ct_hook. */
bool ipct_nf_ct_hook_in_use(void);

/*
 * Register a sockopt range, owned by this module (ops->owner is set here).
 * -EBUSY when the range overlaps a registered one: nf_conntrack registers
 * SO_ORIGINAL_DST for PF_INET at load, so whichever loads first wins.
 */
int ipct_sockopt_register(struct nf_sockopt_ops *ops);
void ipct_sockopt_unregister(struct nf_sockopt_ops *ops);

/*
 * What SO_ORIGINAL_DST looks up for @sk (getorigdst): its local address
 * and port as the source, its peer's as the destination (host order), its
 * protocol and its namespace, read under lock_sock.
 */
struct ipct_sock_tuple {
	u32 src;
	u32 dst;
	u16 sport;
	u16 dport;
	u8 proto;
	struct net *net;
};
void ipct_sock_tuple(struct sock *sk, struct ipct_sock_tuple *t);
/* Copies a sockaddr_in of @addr:@port (host order) to @user: 0 or -EFAULT. */
int ipct_put_sockaddr_in(void __user *user, u32 addr, u16 port);

/*
 * What IP6T_SO_ORIGINAL_DST looks up for @sk (ipv6_getorigdst): the same
 * for an IPv6 socket, addresses in network order, with what its answer
 * carries besides (bound device, flow label), read under lock_sock.
 */
struct ipct_sock_tuple6 {
	u8 src[16];
	u8 dst[16];
	u16 sport;
	u16 dport;
	u8 proto;
	int bound_dev_if;
	__be32 flow_label;
	struct net *net;
};
void ipct_sock_tuple6(struct sock *sk, struct ipct_sock_tuple6 *t);
/*
 * Copies a sockaddr_in6 of @addr (16 bytes, network order):@port (host
 * order) to @user, with the flow label's flowinfo bits and the scope of
 * @bound_dev_if for a link-local address: 0 or -EFAULT.
 */
int ipct_put_sockaddr_in6(void __user *user, const u8 *addr, u16 port,
			  __be32 flow_label, int bound_dev_if);

/* Netfilter hooks, registered in every network namespace. */

/*
 * Register @n hooks in every current and future network namespace. @ops
 * must stay valid until ipct_hooks_unregister() returns. Only one set of
 * hooks can be registered at a time (-EBUSY otherwise).
 */
int ipct_hooks_register(const struct nf_hook_ops *ops, unsigned int n);
void ipct_hooks_unregister(void);

/* /proc files: include/ipct_proc.h (helpers in proc_helpers.c). */
#include "ipct_proc.h"

/* Sysctl tables in the initial network namespace. */

/*
 * Register @n entries of @table under /proc/sys/@path in init_net. @table
 * must stay valid until ipct_sysctl_unregister(). NULL on failure.
 */
struct ctl_table_header *ipct_sysctl_register(const char *path,
					      struct ctl_table *table,
					      size_t n);
void ipct_sysctl_unregister(struct ctl_table_header *header);

#ifdef __BINDGEN__
/*
 * Values of C macros that bindgen cannot see through; Rust uses them as
 * `IPCT_*` constants.
 */
const unsigned int IPCT_NF_ACCEPT = NF_ACCEPT;
const unsigned int IPCT_SOCKADDR_IN_LEN = sizeof(struct sockaddr_in);
const unsigned int IPCT_NF_DROP = NF_DROP;
const u8 IPCT_NFPROTO_IPV4 = NFPROTO_IPV4;
const u8 IPCT_NFPROTO_IPV6 = NFPROTO_IPV6;
const u8 IPCT_PF_INET = PF_INET;
const int IPCT_SO_ORIGINAL_DST = SO_ORIGINAL_DST;
const unsigned int IPCT_SOCKADDR_IN6_LEN = sizeof(struct sockaddr_in6);
const u8 IPCT_PF_INET6 = PF_INET6;
const int IPCT_IP6T_SO_ORIGINAL_DST = IP6T_SO_ORIGINAL_DST;
#endif

/* The iptables matches: include/ipct_xt.h (helpers in xt_helpers.c). */
#include "ipct_xt.h"

/* The data path: include/ipct_conn.h (helpers in conn_helpers.c). */
#include "ipct_conn.h"
#include "ipct_guard.h"

/* ctnetlink: include/ipct_ctnl.h (helpers in ctnl_helpers.c). */
#include "ipct_ctnl.h"

/* NAT: include/ipct_nat.h (helpers in nat_helpers.c). */
#include "ipct_nat.h"

/* The nat table, NAT targets, nft chain type: include/ipct_nat_rules.h (nat_rules_helpers.c). */
#include "ipct_nat_rules.h"

#endif /* IP_CONNTRACK_H */
