// SPDX-License-Identifier: GPL-2.0
/*
 * ctnetlink plumbing of ip_conntrack.ko: the nfnetlink subsystems'
 * static callback tables and the netlink dump control, which C macros
 * and inline functions build. Every request and answer is handled in
 * Rust (src/kmod/ctnetlink.rs); prototypes and contracts in
 * include/ipct_ctnl.h.
 */
#include <linux/errno.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netlink.h>
#include <linux/skbuff.h>
#include <net/netlink.h>
#include <net/sock.h>

#include "ip_conntrack.h"

static const struct ipct_ctnl_ops *ipct_ctnl;

static int ipct_ctnl_start(struct netlink_callback *cb)
{
	int ret = ipct_ctnl->dump_start(cb->nlh, cb->nlh->nlmsg_len);

	if (ret < 0)
		return ret;
	if (ret > 0)
		cb->answer_flags = NLM_F_DUMP_FILTERED;
	return 0;
}

static int ipct_ctnl_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	u32 room = skb_tailroom(skb);
	u32 n;

	n = ipct_ctnl->dump(sock_net(skb->sk), NETLINK_CB(cb->skb).portid,
			    cb->nlh, cb->nlh->nlmsg_len, (unsigned long *)cb->args,
			    skb_tail_pointer(skb), room);
	if (n > room)
		return -EINVAL;
	skb_put(skb, n);
	return skb->len;
}

/* Whether message @type of subsystem @subsys is answered by a dump. */
static bool ipct_ctnl_dumps(u8 subsys, u8 type)
{
	if (subsys == NFNL_SUBSYS_CTNETLINK)
		return type == IPCTNL_MSG_CT_GET || type == IPCTNL_MSG_CT_GET_CTRZERO ||
		       type == IPCTNL_MSG_CT_GET_STATS_CPU ||
		       type == IPCTNL_MSG_CT_GET_DYING ||
		       type == IPCTNL_MSG_CT_GET_UNCONFIRMED;
	return type == IPCTNL_MSG_EXP_GET || type == IPCTNL_MSG_EXP_GET_STATS_CPU;
}

static int ipct_ctnl_call(struct sk_buff *skb, const struct nfnl_info *info,
			  const struct nlattr * const cda[])
{
	const struct nlmsghdr *nlh = info->nlh;
	u8 subsys = NFNL_SUBSYS_ID(nlh->nlmsg_type);
	u8 type = NFNL_MSG_TYPE(nlh->nlmsg_type);

	if ((nlh->nlmsg_flags & NLM_F_DUMP) && ipct_ctnl_dumps(subsys, type)) {
		struct netlink_dump_control c = {
			.dump = ipct_ctnl_dump,
		};
		bool table = subsys == NFNL_SUBSYS_CTNETLINK &&
			     (type == IPCTNL_MSG_CT_GET || type == IPCTNL_MSG_CT_GET_CTRZERO);

		if (table)
			c.start = ipct_ctnl_start;
		/* Holds a reference on this module while the dump lasts. */
		return netlink_dump_start(info->sk, skb, nlh, &c);
	}
	return ipct_ctnl->request(info->net, NETLINK_CB(skb).portid, nlh, nlh->nlmsg_len);
}

/* Every type, under nfnetlink's subsystem mutex like 6.12's ctnetlink;
 * no policy here: the Rust side parses the attributes itself. */
#define IPCT_CB { .call = ipct_ctnl_call, .type = NFNL_CB_MUTEX }

static const struct nfnl_callback ipct_ctnl_cb[IPCTNL_MSG_MAX] = {
	[IPCTNL_MSG_CT_NEW] = IPCT_CB,
	[IPCTNL_MSG_CT_GET] = IPCT_CB,
	[IPCTNL_MSG_CT_DELETE] = IPCT_CB,
	[IPCTNL_MSG_CT_GET_CTRZERO] = IPCT_CB,
	[IPCTNL_MSG_CT_GET_STATS_CPU] = IPCT_CB,
	[IPCTNL_MSG_CT_GET_STATS] = IPCT_CB,
	[IPCTNL_MSG_CT_GET_DYING] = IPCT_CB,
	[IPCTNL_MSG_CT_GET_UNCONFIRMED] = IPCT_CB,
};

static const struct nfnl_callback ipct_ctnl_exp_cb[IPCTNL_MSG_EXP_MAX] = {
	[IPCTNL_MSG_EXP_GET] = IPCT_CB,
	[IPCTNL_MSG_EXP_NEW] = IPCT_CB,
	[IPCTNL_MSG_EXP_DELETE] = IPCT_CB,
	[IPCTNL_MSG_EXP_GET_STATS_CPU] = IPCT_CB,
};

static const struct nfnetlink_subsystem ipct_ctnl_subsys = {
	.name = "conntrack",
	.subsys_id = NFNL_SUBSYS_CTNETLINK,
	.cb_count = IPCTNL_MSG_MAX,
	.cb = ipct_ctnl_cb,
};

static const struct nfnetlink_subsystem ipct_ctnl_exp_subsys = {
	.name = "conntrack_expect",
	.subsys_id = NFNL_SUBSYS_CTNETLINK_EXP,
	.cb_count = IPCTNL_MSG_EXP_MAX,
	.cb = ipct_ctnl_exp_cb,
};

int ipct_ctnl_register(const struct ipct_ctnl_ops *ops)
{
	int ret;

	if (ipct_ctnl)
		return -EBUSY;
	ipct_ctnl = ops;
	ret = nfnetlink_subsys_register(&ipct_ctnl_subsys);
	if (ret)
		goto no_ct;
	ret = nfnetlink_subsys_register(&ipct_ctnl_exp_subsys);
	if (ret)
		goto no_exp;
	return 0;

no_exp:
	nfnetlink_subsys_unregister(&ipct_ctnl_subsys);
no_ct:
	ipct_ctnl = NULL;
	return ret;
}

void ipct_ctnl_unregister(void)
{
	/* Each waits for callbacks in flight (nfnl_lock, then RCU). */
	nfnetlink_subsys_unregister(&ipct_ctnl_exp_subsys);
	nfnetlink_subsys_unregister(&ipct_ctnl_subsys);
	ipct_ctnl = NULL;
}

int ipct_ctnl_unicast(struct net *net, u32 portid, const void *buf, u32 len)
{
	struct sk_buff *skb = alloc_skb(len, GFP_KERNEL);

	if (!skb)
		return -ENOMEM;
	skb_put_data(skb, buf, len);
	return nfnetlink_unicast(skb, net, portid);
}

bool ipct_ctnl_listening(struct net *net, unsigned int group)
{
	/*
	 * nfnetlink keeps a bit per conntrack event group that has a
	 * listener (set before a socket joins, cleared once no socket of any
	 * namespace is left in it); nf_conntrack's event cache looks at it
	 * first too. One load when nobody listens.
	 */
	if (group < 8 && !(READ_ONCE(nf_ctnetlink_has_listener) & (1U << group)))
		return false;
	return nfnetlink_has_listeners(net, group);
}

int ipct_ctnl_event(struct net *net, unsigned int group, const void *buf, u32 len)
{
	struct sk_buff *skb = alloc_skb(len, GFP_ATOMIC);

	if (!skb)
		return -ENOMEM;
	skb_put_data(skb, buf, len);
	/* A listener whose socket is full loses the event (ENOBUFS on its
	 * next read); packets never wait for listeners. */
	return nfnetlink_send(skb, net, 0, group, 0, GFP_ATOMIC);
}
