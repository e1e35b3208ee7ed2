// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of NAT: the per-namespace lists of nat lookups (as 6.12's
 * nf_nat_register_fn keeps them, over the kernel's nf_hook_entries), the
 * NAT hooks' registration, and skb operations Rust-for-Linux 6.12 cannot
 * reach (inline functions). Prototypes and contracts: include/ipct_nat.h.
 */
#include <linux/inetdevice.h>
#include <linux/mutex.h>
#include <linux/netdevice.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/random.h>
#include <linux/skbuff.h>
#include <net/inet_sock.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

/* IPCT_NETDEV_IFINDEX_OFFSET's field (include/ipct_nat.h). */
static_assert(sizeof(((struct net_device *)0)->ifindex) == sizeof(int));
#include <net/sock.h>
#include <net/tcp.h>
#include <net/route.h>

#include "ip_conntrack.h"

/*
 * Exported by net/netfilter/core.c for nf_nat_core, declared only in the
 * private net/netfilter/nf_internals.h: the same prototypes.
 */
int nf_hook_entries_insert_raw(struct nf_hook_entries __rcu **pp,
			       const struct nf_hook_ops *reg);
void nf_hook_entries_delete_raw(struct nf_hook_entries __rcu **pp,
				const struct nf_hook_ops *reg);

struct ipct_nat_net {
	/* Lookups per hook (indexed by hook number). */
	struct nf_hook_entries __rcu *entries[NF_INET_NUMHOOKS];
	/* Lookups registered; the NAT hooks are registered while nonzero. */
	unsigned int users;
};

static unsigned int ipct_nat_net_id __read_mostly;
static const struct nf_hook_ops *ipct_nat_ops;
static unsigned int ipct_nat_nops;
static DEFINE_MUTEX(ipct_nat_mutex);

static struct pernet_operations ipct_nat_net_ops = {
	.id = &ipct_nat_net_id,
	.size = sizeof(struct ipct_nat_net),
};

int ipct_nat_init(const struct nf_hook_ops *ops, unsigned int n)
{
	ipct_nat_ops = ops;
	ipct_nat_nops = n;
	return register_pernet_subsys(&ipct_nat_net_ops);
}

void ipct_nat_exit(void)
{
	unregister_pernet_subsys(&ipct_nat_net_ops);
	ipct_nat_ops = NULL;
}

int ipct_nat_register_lookup(struct net *net, const struct nf_hook_ops *ops)
{
	struct ipct_nat_net *nn = net_generic(net, ipct_nat_net_id);
	int ret;

	if (ops->pf != NFPROTO_IPV4 || ops->hooknum >= NF_INET_NUMHOOKS)
		return -EINVAL;
	mutex_lock(&ipct_nat_mutex);
	if (nn->users == 0) {
		ret = nf_register_net_hooks(net, ipct_nat_ops, ipct_nat_nops);
		if (ret < 0)
			goto out;
	}
	ret = nf_hook_entries_insert_raw(&nn->entries[ops->hooknum], ops);
	if (ret == 0)
		nn->users++;
	else if (nn->users == 0)
		nf_unregister_net_hooks(net, ipct_nat_ops, ipct_nat_nops);
out:
	mutex_unlock(&ipct_nat_mutex);
	return ret;
}

void ipct_nat_unregister_lookup(struct net *net, const struct nf_hook_ops *ops)
{
	struct ipct_nat_net *nn = net_generic(net, ipct_nat_net_id);

	if (ops->hooknum >= NF_INET_NUMHOOKS)
		return;
	mutex_lock(&ipct_nat_mutex);
	if (!WARN_ON(nn->users == 0)) {
		/* Waits for hook calls in flight before freeing the list. */
		nf_hook_entries_delete_raw(&nn->entries[ops->hooknum], ops);
		if (--nn->users == 0)
			nf_unregister_net_hooks(net, ipct_nat_ops, ipct_nat_nops);
	}
	mutex_unlock(&ipct_nat_mutex);
}

bool ipct_nat_run_lookup(const struct nf_hook_state *state,
			 struct sk_buff *skb, unsigned int i,
			 unsigned int *verdict)
{
	struct ipct_nat_net *nn = net_generic(state->net, ipct_nat_net_id);
	const struct nf_hook_entries *e;

	if (state->hook >= NF_INET_NUMHOOKS)
		return false;
	e = rcu_dereference(nn->entries[state->hook]);
	if (!e || i >= e->num_hook_entries)
		return false;
	*verdict = e->hooks[i].hook(e->hooks[i].priv, skb, state);
	return true;
}

u8 *ipct_skb_writable(struct sk_buff *skb, unsigned int len)
{
	if (skb_ensure_writable(skb, len))
		return NULL;
	return skb->data;
}

u8 *ipct_nat_writable(struct sk_buff *skb, unsigned int len, bool *partial)
{
	if (skb_ensure_writable(skb, len))
		return NULL;
	*partial = skb->ip_summed == CHECKSUM_PARTIAL;
	/* The headers are rewritten in place, or the packet dropped. */
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
	return skb->data;
}

int ipct_nat_reroute(const struct nf_hook_state *state, struct sk_buff *skb)
{
	return ip_route_me_harder(state->net, state->sk, skb, RTN_UNSPEC);
}

void ipct_skb_dst_drop(struct sk_buff *skb)
{
	skb_dst_drop(skb);
}

void ipct_nat_local_in_orphan(struct sk_buff *skb)
{
	struct sock *sk = skb->sk;

	if (sk && !inet_sk_transparent(sk))
		skb_orphan(skb);
}

void ipct_skb_csum_changed(struct sk_buff *skb)
{
	/* The checksums were updated in place; a sum over the received data
	 * (CHECKSUM_COMPLETE) no longer matches it: verify in software. */
	if (skb->ip_summed == CHECKSUM_COMPLETE)
		skb->ip_summed = CHECKSUM_NONE;
}

/* --- MASQUERADE's interface events -------------------------------------- */

static ipct_masq_cb ipct_masq_cb_fn;

static int ipct_masq_dev_event(struct notifier_block *nb, unsigned long event,
			       void *ptr)
{
	struct net_device *dev = netdev_notifier_info_to_dev(ptr);

	if (event == NETDEV_DOWN && ipct_masq_cb_fn)
		ipct_masq_cb_fn(dev_net(dev), dev->ifindex, 0);
	return NOTIFY_DONE;
}

static int ipct_masq_inet_event(struct notifier_block *nb, unsigned long event,
				void *ptr)
{
	const struct in_ifaddr *ifa = ptr;
	const struct in_device *idev = ifa->ifa_dev;

	/* A dying device is the device event's. */
	if (event != NETDEV_DOWN || idev->dead || !ipct_masq_cb_fn)
		return NOTIFY_DONE;
	ipct_masq_cb_fn(dev_net(idev->dev), idev->dev->ifindex,
			ntohl(ifa->ifa_address));
	return NOTIFY_DONE;
}

static struct notifier_block ipct_masq_dev_nb = {
	.notifier_call = ipct_masq_dev_event,
};

static struct notifier_block ipct_masq_inet_nb = {
	.notifier_call = ipct_masq_inet_event,
};

int ipct_nat_masq_register(ipct_masq_cb cb)
{
	int ret;

	ipct_masq_cb_fn = cb;
	ret = register_netdevice_notifier(&ipct_masq_dev_nb);
	if (ret)
		goto fail;
	ret = register_inetaddr_notifier(&ipct_masq_inet_nb);
	if (ret) {
		unregister_netdevice_notifier(&ipct_masq_dev_nb);
		goto fail;
	}
	return 0;
fail:
	ipct_masq_cb_fn = NULL;
	return ret;
}

void ipct_nat_masq_unregister(void)
{
	unregister_inetaddr_notifier(&ipct_masq_inet_nb);
	unregister_netdevice_notifier(&ipct_masq_dev_nb);
	ipct_masq_cb_fn = NULL;
}

u16 ipct_random_u16(void)
{
	return get_random_u16();
}
