// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the iptables matches (src/kmod/xt_match.rs): what needs
 * THIS_MODULE or a module parameter. Prototypes and contracts:
 * include/ipct_xt.h.
 */
#include <linux/module.h>
#include <linux/netfilter/x_tables.h>

#include "ip_conntrack.h"

static bool conntrack_match = true;
module_param(conntrack_match, bool, 0444);
MODULE_PARM_DESC(conntrack_match,
		 "register the conntrack match (revisions 1-3); N: only state revision 0, as on a kernel without xt_conntrack (tests use it to exercise that path)");

bool ipct_xt_param_conntrack_match(void)
{
	return READ_ONCE(conntrack_match);
}

int ipct_xt_register_matches(struct xt_match *matches, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		matches[i].me = THIS_MODULE;
	return xt_register_matches(matches, n);
}

void ipct_xt_unregister_matches(struct xt_match *matches, unsigned int n)
{
	xt_unregister_matches(matches, n);
}
