// SPDX-License-Identifier: GPL-2.0
/*
 * Kernel code that reads skb->_nfct as a whole struct nf_conn beyond the
 * words this module keeps true (the refcount, and the status word where
 * conn_helpers.c shadows it), and that does not depend on nf_conntrack.ko
 * (which cannot load next to us): it would read past our entries. While
 * ip_conntrack is loaded such modules are refused with the reason in the
 * kernel log; loaded before it, the ones that can be found by an export
 * make ip_conntrack refuse to load. Built-in ones are refused when the
 * module is built (scripts/module.sh). Prototypes: include/ipct_guard.h.
 */
#include <linux/module.h>
#include <linux/notifier.h>
#include <linux/string.h>

#include "ipct_guard.h"

struct ipct_reader {
	const char *module;
	const char *reads;
	const char *export;	/* how to find it already loaded, if it can be */
};

static const struct ipct_reader ipct_readers[] = {
	{ "nf_socket_ipv4", "socket lookups (xt_socket, nft socket) read the entry's tuples",
	  "nf_sk_lookup_slow_v4" },
	{ "nf_socket_ipv6", "socket lookups (xt_socket, nft socket) read the entry's tuples",
	  "nf_sk_lookup_slow_v6" },
	{ "cls_flow", "the flow classifier's keys read the entry's tuples", NULL },
	{ "cls_flower", "flower's ct keys read the entry's state, mark and zone", NULL },
};

static int ipct_module_notify(struct notifier_block *nb, unsigned long state,
			      void *data)
{
	struct module *mod = data;
	size_t i;

	if (state != MODULE_STATE_COMING)
		return NOTIFY_DONE;
	for (i = 0; i < ARRAY_SIZE(ipct_readers); i++) {
		if (strcmp(mod->name, ipct_readers[i].module))
			continue;
		pr_err("ip_conntrack: refusing to load %s: %s as a struct nf_conn, which ip_conntrack's entries are not (rmmod ip_conntrack first)\n",
		       mod->name, ipct_readers[i].reads);
		return notifier_from_errno(-EBUSY);
	}
	return NOTIFY_DONE;
}

static struct notifier_block ipct_module_nb = {
	.notifier_call = ipct_module_notify,
};

int ipct_guard_register(void)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ipct_readers); i++) {
		const char *sym = ipct_readers[i].export;

		if (!sym || !__symbol_get(sym))
			continue;
		__symbol_put(sym);
		pr_err("ip_conntrack: %s is loaded and %s as a struct nf_conn; refusing to load (rmmod %s first)\n",
		       ipct_readers[i].module, ipct_readers[i].reads,
		       ipct_readers[i].module);
		return -EBUSY;
	}
	return register_module_notifier(&ipct_module_nb);
}

void ipct_guard_unregister(void)
{
	unregister_module_notifier(&ipct_module_nb);
}
