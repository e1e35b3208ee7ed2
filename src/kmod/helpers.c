// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of ip_conntrack.ko: what Rust-for-Linux 6.12 cannot express
 * (module_param, THIS_MODULE, static pernet_operations, inline kernel
 * functions). Prototypes and contracts: include/ip_conntrack.h.
 */
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <net/net_namespace.h>

#include "ip_conntrack.h"

/* --- module parameters ---------------------------------------------------- */

static unsigned int hashsize;
module_param(hashsize, uint, 0400);
MODULE_PARM_DESC(hashsize, "number of hash buckets (0 = from memory size)");

unsigned int ipct_param_hashsize(void)
{
	return READ_ONCE(hashsize);
}

unsigned long ipct_physmem_bytes(void)
{
	return get_num_physpages() << PAGE_SHIFT;
}

/* --- mutual exclusion with nf_conntrack ------------------------------------ */

bool ipct_nf_ct_hook_in_use(void)
{
	return rcu_access_pointer(nf_ct_hook) != NULL;
}

int ipct_sockopt_register(struct nf_sockopt_ops *ops)
{
	ops->owner = THIS_MODULE;
	return nf_register_sockopt(ops);
}

void ipct_sockopt_unregister(struct nf_sockopt_ops *ops)
{
	nf_unregister_sockopt(ops);
}

/* --- netfilter hooks in every network namespace ----------------------------- */

static const struct nf_hook_ops *ipct_hook_ops;
static unsigned int ipct_hook_count;

static int __net_init ipct_hooks_net_init(struct net *net)
{
	return nf_register_net_hooks(net, ipct_hook_ops, ipct_hook_count);
}

static void __net_exit ipct_hooks_net_exit(struct net *net)
{
	nf_unregister_net_hooks(net, ipct_hook_ops, ipct_hook_count);
}

static struct pernet_operations ipct_hooks_net_ops = {
	.init = ipct_hooks_net_init,
	.exit = ipct_hooks_net_exit,
};

int ipct_hooks_register(const struct nf_hook_ops *ops, unsigned int n)
{
	int ret;

	if (ipct_hook_ops)
		return -EBUSY;
	ipct_hook_ops = ops;
	ipct_hook_count = n;
	ret = register_pernet_subsys(&ipct_hooks_net_ops);
	if (ret)
		ipct_hook_ops = NULL;
	return ret;
}

void ipct_hooks_unregister(void)
{
	unregister_pernet_subsys(&ipct_hooks_net_ops);
	ipct_hook_ops = NULL;
}

/* --- /proc/net/ip_conntrack and /proc/net/stat/ip_conntrack ------------------ */

static const char ipct_proc_name[] = "ip_conntrack";
static const struct seq_operations *ipct_list_ops;
static int (*ipct_stat_show)(struct seq_file *m, void *v);

static int __net_init ipct_proc_net_init(struct net *net)
{
	/* 0440 as in 2.6: the table reveals other users' connections. */
	if (!proc_create_net(ipct_proc_name, 0440, net->proc_net, ipct_list_ops,
			     sizeof(struct seq_net_private)))
		return -ENOMEM;
	if (!proc_create_net_single(ipct_proc_name, 0444, net->proc_net_stat,
				    ipct_stat_show, NULL)) {
		remove_proc_entry(ipct_proc_name, net->proc_net);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit ipct_proc_net_exit(struct net *net)
{
	remove_proc_entry(ipct_proc_name, net->proc_net_stat);
	remove_proc_entry(ipct_proc_name, net->proc_net);
}

static struct pernet_operations ipct_proc_net_ops = {
	.init = ipct_proc_net_init,
	.exit = ipct_proc_net_exit,
};

int ipct_proc_register(const struct seq_operations *list_ops,
		       int (*stat_show)(struct seq_file *m, void *v))
{
	int ret;

	if (ipct_list_ops)
		return -EBUSY;
	ipct_list_ops = list_ops;
	ipct_stat_show = stat_show;
	ret = register_pernet_subsys(&ipct_proc_net_ops);
	if (ret)
		ipct_list_ops = NULL;
	return ret;
}

void ipct_proc_unregister(void)
{
	unregister_pernet_subsys(&ipct_proc_net_ops);
	ipct_list_ops = NULL;
}

/* --- sysctl ------------------------------------------------------------------ */

struct ctl_table_header *ipct_sysctl_register(const char *path,
					      struct ctl_table *table,
					      size_t n)
{
	return register_net_sysctl_sz(&init_net, path, table, n);
}

void ipct_sysctl_unregister(struct ctl_table_header *header)
{
	unregister_net_sysctl_table(header);
}
