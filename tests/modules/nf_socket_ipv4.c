// SPDX-License-Identifier: GPL-2.0
/*
 * TEST ONLY, never shipped: stands in for the kernel's nf_socket_ipv4
 * (socket lookups for xt_socket), which the test kernel does not build,
 * so the guest can check that ip_conntrack keeps such a reader of
 * skb->_nfct out, and refuses to load next to one. Same module name and
 * export as the real one; it does nothing.
 */
#include <linux/init.h>
#include <linux/module.h>

struct sock *nf_sk_lookup_slow_v4(void);

struct sock *nf_sk_lookup_slow_v4(void)
{
	return NULL;
}
EXPORT_SYMBOL_GPL(nf_sk_lookup_slow_v4);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ip_conntrack test helper: stands in for nf_socket_ipv4 (test only)");
