/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_conntrack: the C side of the iptables nat table, the NAT targets and
 * the nftables chain type "nat". Included from ip_conntrack.h, so the
 * project's bindgen run sees it.
 *
 * Provided by C (nat_rules_helpers.c): every ipct_nat_* function declared here;
 * the static struct xt_table, pernet_operations and nft_chain_type (they
 * need THIS_MODULE) and the nft hook function (nft_set_pktinfo* are
 * inline).
 * Provided by Rust: the callbacks passed in (src/kmod/nat_table.rs:
 * the table's lookups; src/kmod/xt_target.rs: the targets' functions;
 * the NAT core's lookup registry for the chain type).
 */
#ifndef IPCT_NAT_RULES_H
#define IPCT_NAT_RULES_H

#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/x_tables.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/skbuff.h>

/* --- the iptables nat table ------------------------------------------------ */

/* What the nat table asks of Rust, per network namespace. */
struct ipct_nat_lookups {
	/*
	 * The table @table of @net exists: register its lookups and keep
	 * what is needed to undo it in *@slot (NULL before). 0 or -errno;
	 * on error nothing stays registered and *@slot stays NULL.
	 */
	int (*attach)(struct net *net, struct xt_table *table, void **slot);
	/* Unregister what attach() registered (pernet pre_exit). */
	void (*detach)(struct net *net, void *slot);
	/* Free it, after an RCU grace period since detach() (pernet exit). */
	void (*release)(void *slot);
};

/*
 * Register the nat table as iptable_nat does: a template instantiated in
 * a namespace when userspace first asks for "nat" there (the initial
 * table: four chains, policy ACCEPT, no hook ops of its own), and the
 * pernet operations that tear it down. @lookups must stay valid until
 * ipct_nat_table_unregister() returns. -EEXIST if a "nat" table template
 * is registered already.
 */
int ipct_nat_table_register(const struct ipct_nat_lookups *lookups);
/* Unregister the template, then every namespace's table and lookups. */
void ipct_nat_table_unregister(void);

/* --- the targets ---------------------------------------------------------- */

/*
 * Register @n targets owned by this module (each .me is set here, so a
 * rule using one pins the module). @targets must stay valid and unmoved
 * until ipct_nat_unregister_targets() returns.
 */
int ipct_nat_register_targets(struct xt_target *targets, unsigned int n);
void ipct_nat_unregister_targets(struct xt_target *targets, unsigned int n);

/*
 * MASQUERADE's address (network order): the one @out would use towards
 * the packet's next hop (nf_nat_masquerade_ipv4); 0 if it has none.
 */
__be32 ipct_nat_masq_source(const struct sk_buff *skb,
			    const struct net_device *out);
/* Logs "%s ate my IP address" for @out, as nf_nat_masquerade_ipv4. */
void ipct_nat_masq_no_address(const struct net_device *out);
/* @dev's interface index. */
int ipct_nat_ifindex(const struct net_device *dev);
/*
 * REDIRECT's address on PREROUTING (network order): the first IPv4
 * address of the device the packet came in on; 0 if none.
 */
__be32 ipct_nat_redirect_dest(const struct sk_buff *skb);
/* The packet's IPv4 source and destination address (network order). */
void ipct_nat_ip_addrs(const struct sk_buff *skb, __be32 *saddr,
		       __be32 *daddr);

/* --- the nftables chain type "nat" (NFPROTO_IPV4) ------------------------- */

/*
 * Register the chain type, its base chains' hooks registered and
 * unregistered through @reg and @unreg (the NAT core's lookup registry,
 * as nf_nat_ipv4_register_fn). Each chain of the type pins the module.
 */
void ipct_nat_chain_type_register(
	int (*reg)(struct net *net, const struct nf_hook_ops *ops),
	void (*unreg)(struct net *net, const struct nf_hook_ops *ops));
void ipct_nat_chain_type_unregister(void);

#endif /* IPCT_NAT_RULES_H */
