/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_conntrack: C side of NAT (src/kmod/nat_helpers.c), wrapped once by
 * src/kmod/nat.rs.
 *
 * The NAT hooks are registered in a namespace only while something there
 * uses NAT: the first "lookup" (the iptables nat table's chains, an nft
 * chain of type nat) registers them, the last one gone unregisters them,
 * as 6.12's nf_nat_register_fn does; namespaces without NAT rules pay
 * nothing per packet.
 */
#ifndef IPCT_NAT_H
#define IPCT_NAT_H

#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/skbuff.h>
#include <linux/types.h>

/*
 * Sets up the per-namespace lookup lists; @ops are the module's four NAT
 * hooks (PRE_ROUTING, POST_ROUTING, LOCAL_OUT, LOCAL_IN), which must stay
 * valid until ipct_nat_exit() returns.
 */
int ipct_nat_init(const struct nf_hook_ops *ops, unsigned int n);
void ipct_nat_exit(void);

/*
 * Adds (removes) a lookup at @ops->hooknum of @net, ordered by
 * @ops->priority; the NAT hooks come and go with the first and last.
 * Process context.
 */
int ipct_nat_register_lookup(struct net *net, const struct nf_hook_ops *ops);
void ipct_nat_unregister_lookup(struct net *net, const struct nf_hook_ops *ops);

/*
 * Runs lookup @i of @state's hook and namespace on @skb, storing its
 * verdict; false when there is no lookup @i. Under rcu_read_lock (a hook).
 */
bool ipct_nat_run_lookup(const struct nf_hook_state *state,
			 struct sk_buff *skb, unsigned int i,
			 unsigned int *verdict);

/*
 * Makes the first @len bytes of @skb (from its data, the IPv4 header at
 * the NAT hooks) writable and linear: a pointer to them, or NULL.
 */
u8 *ipct_skb_writable(struct sk_buff *skb, unsigned int len);
/*
 * ipct_skb_writable() for a NAT rewrite of @skb's headers, with whether its
 * checksum is left to the device (CHECKSUM_PARTIAL) in @partial; a
 * received sum over its data (CHECKSUM_COMPLETE) is dropped at once, as
 * ipct_skb_csum_changed() does (the caller rewrites or drops the packet).
 */
u8 *ipct_nat_writable(struct sk_buff *skb, unsigned int len, bool *partial);
/* ip_route_me_harder for a locally generated packet NAT redirected. */
int ipct_nat_reroute(const struct nf_hook_state *state, struct sk_buff *skb);
/* Drops @skb's cached route (its destination changed at PRE_ROUTING). */
void ipct_skb_dst_drop(struct sk_buff *skb);
/*
 * At LOCAL_IN, once NAT changed the source: forgets the socket early
 * demux attached for the old one (unless it is transparent).
 */
void ipct_nat_local_in_orphan(struct sk_buff *skb);
/* After NAT changed @skb's headers: a received sum over its data
 * (CHECKSUM_COMPLETE) is dropped, to be verified again in software. */
void ipct_skb_csum_changed(struct sk_buff *skb);
/*
 * MASQUERADE's interface events (nf_nat_masquerade.c): @cb is called in
 * process context with the namespace, the interface index and, for an
 * address removed from an interface that stays up, that address (host
 * order; 0 when the interface went down). Registered until
 * ipct_nat_masq_unregister() returns.
 */
typedef void (*ipct_masq_cb)(struct net *net, int ifindex, u32 addr);
int ipct_nat_masq_register(ipct_masq_cb cb);
void ipct_nat_masq_unregister(void);
/* 16 random bits (the port search). */
u16 ipct_random_u16(void);

#ifdef __BINDGEN__
/* Where a device's index is (an int, checked in nat_helpers.c), so that
 * the NAT hook reads the outgoing one without a call. */
const unsigned long IPCT_NETDEV_IFINDEX_OFFSET = offsetof(struct net_device, ifindex);
#endif

#endif /* IPCT_NAT_H */
