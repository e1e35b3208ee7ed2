// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the iptables nat table, the NAT targets and the nftables
 * chain type "nat" (src/kmod/nat_table.rs, xt_target.rs, nft_nat.rs):
 * what needs THIS_MODULE, static pernet operations or inline kernel
 * functions. Prototypes and contracts: include/ipct_nat_rules.h. Modelled on
 * 6.12's iptable_nat.c, nf_nat_masquerade.c, nf_nat_redirect.c and
 * nft_chain_nat.c.
 */
#include <linux/inetdevice.h>
#include <linux/ip.h>
#include <linux/module.h>
#include <linux/netdevice.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv4/ip_tables.h>
#include <linux/netfilter/x_tables.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netfilter/nf_tables.h>
#include <net/netfilter/nf_tables_ipv4.h>
#include <net/route.h>

#include "ip_conntrack.h"

/* --- the iptables nat table ------------------------------------------------ */

static const struct xt_table ipct_nat_table = {
	.name		= "nat",
	.valid_hooks	= (1 << NF_INET_PRE_ROUTING) |
			  (1 << NF_INET_POST_ROUTING) |
			  (1 << NF_INET_LOCAL_OUT) |
			  (1 << NF_INET_LOCAL_IN),
	.me		= THIS_MODULE,
	.af		= NFPROTO_IPV4,
};

static unsigned int ipct_nat_net_id __read_mostly;
static const struct ipct_nat_lookups *ipct_nat_lookups;

/* The namespace's slot: what Rust keeps of its lookups, or NULL. */
static void **ipct_nat_slot(struct net *net)
{
	return net_generic(net, ipct_nat_net_id);
}

static int ipct_nat_table_init(struct net *net)
{
	struct ipt_replace *repl;
	struct xt_table *table;
	int ret;

	repl = ipt_alloc_initial_table(&ipct_nat_table);
	if (!repl)
		return -ENOMEM;
	ret = ipt_register_table(net, &ipct_nat_table, repl, NULL);
	kfree(repl);
	if (ret < 0)
		return ret;

	table = xt_find_table(net, NFPROTO_IPV4, "nat");
	if (WARN_ON_ONCE(!table))
		ret = -ENOENT;
	else
		ret = ipct_nat_lookups->attach(net, table, ipct_nat_slot(net));
	if (ret < 0)
		ipt_unregister_table_exit(net, "nat");
	return ret;
}

static void __net_exit ipct_nat_net_pre_exit(struct net *net)
{
	void *slot = *ipct_nat_slot(net);

	if (slot)
		ipct_nat_lookups->detach(net, slot);
}

/* The pernet core waits for a grace period between pre_exit and exit. */
static void __net_exit ipct_nat_net_exit(struct net *net)
{
	void **slot = ipct_nat_slot(net);

	if (*slot) {
		ipct_nat_lookups->release(*slot);
		*slot = NULL;
	}
	ipt_unregister_table_exit(net, "nat");
}

static struct pernet_operations ipct_nat_net_ops = {
	.pre_exit	= ipct_nat_net_pre_exit,
	.exit		= ipct_nat_net_exit,
	.id		= &ipct_nat_net_id,
	.size		= sizeof(void *),
};

int ipct_nat_table_register(const struct ipct_nat_lookups *lookups)
{
	int ret;

	if (ipct_nat_lookups)
		return -EBUSY;
	ipct_nat_lookups = lookups;
	/* net_generic slots must exist before a table is instantiated. */
	ret = register_pernet_subsys(&ipct_nat_net_ops);
	if (ret < 0)
		goto fail;
	ret = xt_register_template(&ipct_nat_table, ipct_nat_table_init);
	if (ret < 0) {
		unregister_pernet_subsys(&ipct_nat_net_ops);
		goto fail;
	}
	return 0;
fail:
	ipct_nat_lookups = NULL;
	return ret;
}

void ipct_nat_table_unregister(void)
{
	xt_unregister_template(&ipct_nat_table);
	unregister_pernet_subsys(&ipct_nat_net_ops);
	ipct_nat_lookups = NULL;
}

/* --- the targets ---------------------------------------------------------- */

int ipct_nat_register_targets(struct xt_target *targets, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		targets[i].me = THIS_MODULE;
	return xt_register_targets(targets, n);
}

void ipct_nat_unregister_targets(struct xt_target *targets, unsigned int n)
{
	xt_unregister_targets(targets, n);
}

__be32 ipct_nat_masq_source(const struct sk_buff *skb,
			    const struct net_device *out)
{
	const struct rtable *rt = skb_rtable(skb);
	__be32 nh;

	if (!rt || !out)
		return 0;
	nh = rt_nexthop(rt, ip_hdr(skb)->daddr);
	return inet_select_addr(out, nh, RT_SCOPE_UNIVERSE);
}

void ipct_nat_masq_no_address(const struct net_device *out)
{
	pr_info("%s ate my IP address\n", out ? out->name : "(none)");
}

int ipct_nat_ifindex(const struct net_device *dev)
{
	return dev ? dev->ifindex : 0;
}

/* Called from a netfilter hook, under rcu_read_lock(). */
__be32 ipct_nat_redirect_dest(const struct sk_buff *skb)
{
	const struct in_device *indev;
	const struct in_ifaddr *ifa;

	indev = skb->dev ? __in_dev_get_rcu(skb->dev) : NULL;
	if (!indev)
		return 0;
	ifa = rcu_dereference(indev->ifa_list);
	return ifa ? ifa->ifa_local : 0;
}

void ipct_nat_ip_addrs(const struct sk_buff *skb, __be32 *saddr,
		       __be32 *daddr)
{
	const struct iphdr *iph = ip_hdr(skb);

	*saddr = iph->saddr;
	*daddr = iph->daddr;
}

/* --- the nftables chain type "nat" (NFPROTO_IPV4) ------------------------- */

/* nft_chain_nat.c's nft_nat_do_chain, IPv4 only. */
static unsigned int ipct_nft_nat_do_chain(void *priv, struct sk_buff *skb,
					  const struct nf_hook_state *state)
{
	struct nft_pktinfo pkt;

	nft_set_pktinfo(&pkt, skb, state);
	nft_set_pktinfo_ipv4(&pkt);
	return nft_do_chain(&pkt, priv);
}

static struct nft_chain_type ipct_nft_chain_nat_ipv4 = {
	.name		= "nat",
	.type		= NFT_CHAIN_T_NAT,
	.family		= NFPROTO_IPV4,
	.owner		= THIS_MODULE,
	.hook_mask	= (1 << NF_INET_PRE_ROUTING) |
			  (1 << NF_INET_POST_ROUTING) |
			  (1 << NF_INET_LOCAL_OUT) |
			  (1 << NF_INET_LOCAL_IN),
	.hooks		= {
		[NF_INET_PRE_ROUTING]	= ipct_nft_nat_do_chain,
		[NF_INET_POST_ROUTING]	= ipct_nft_nat_do_chain,
		[NF_INET_LOCAL_OUT]	= ipct_nft_nat_do_chain,
		[NF_INET_LOCAL_IN]	= ipct_nft_nat_do_chain,
	},
};

void ipct_nat_chain_type_register(
	int (*reg)(struct net *net, const struct nf_hook_ops *ops),
	void (*unreg)(struct net *net, const struct nf_hook_ops *ops))
{
	ipct_nft_chain_nat_ipv4.ops_register = reg;
	ipct_nft_chain_nat_ipv4.ops_unregister = unreg;
	nft_register_chain_type(&ipct_nft_chain_nat_ipv4);
}

void ipct_nat_chain_type_unregister(void)
{
	nft_unregister_chain_type(&ipct_nft_chain_nat_ipv4);
}
