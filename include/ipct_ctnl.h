/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_conntrack: the ctnetlink subsystems (NFNL_SUBSYS_CTNETLINK and
 * NFNL_SUBSYS_CTNETLINK_EXP) registered with nfnetlink.
 *
 * Provided by C (src/kmod/ctnl_helpers.c): every ipct_ctnl_* function
 * below, the static nfnl_callback tables and the dump control.
 * Provided by Rust (src/kmod/ctnetlink.rs): struct ipct_ctnl_ops, which
 * parses every request and encodes every answer.
 * Included from ip_conntrack.h, so bindgen sees it.
 */
#ifndef IPCT_CTNL_H
#define IPCT_CTNL_H

#include <linux/types.h>

struct net;

struct ipct_ctnl_ops {
	/*
	 * A request that is not a dump: @len bytes of netlink message at
	 * @msg, sent from port @portid of @net. Process context, nfnetlink's
	 * subsystem mutex held. Returns 0 or a negative errno.
	 */
	int (*request)(struct net *net, u32 portid, const void *msg, u32 len);
	/*
	 * A dump request of the table, before the dump starts: a negative
	 * errno refuses it, 1 says it is filtered (NLM_F_DUMP_FILTERED), 0
	 * not.
	 */
	int (*dump_start)(const void *msg, u32 len);
	/*
	 * One round of dump @msg for port @portid of @net: writes whole
	 * messages into @buf (@room bytes, the tail room of the skb going
	 * out) and returns how many bytes it wrote (0: the dump is over).
	 * @pos is the callback's args[6], zero at the start, kept between
	 * rounds. Process context; no lock held by the caller.
	 */
	u32 (*dump)(struct net *net, u32 portid, const void *msg, u32 len,
		    unsigned long *pos, void *buf, u32 room);
};

/* Registers both subsystems (-EBUSY if another owner has them). */
int ipct_ctnl_register(const struct ipct_ctnl_ops *ops);
/* Unregisters them; no callback runs afterwards. */
void ipct_ctnl_unregister(void);

/*
 * Sends the @len bytes at @buf (whole netlink messages) to port @portid of
 * @net (nfnetlink_unicast). 0 or a negative errno.
 */
int ipct_ctnl_unicast(struct net *net, u32 portid, const void *buf, u32 len);

/* Whether a socket of @net listens to multicast group @group. Any context. */
bool ipct_ctnl_listening(struct net *net, unsigned int group);

/*
 * Sends the event message at @buf (@len bytes) to group @group of @net
 * (nfnetlink_send, atomic allocation). Any context. 0 or a negative errno.
 */
int ipct_ctnl_event(struct net *net, unsigned int group, const void *buf, u32 len);

#endif /* IPCT_CTNL_H */
