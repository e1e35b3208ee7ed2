// SPDX-License-Identifier: GPL-2.0
/*
 * /proc plumbing of ip_conntrack.ko: the per-namespace files and the
 * seq_file inlines Rust cannot call. Prototypes and contracts:
 * include/ipct_proc.h; the Rust side is src/kmod/procfs.rs.
 */
#include <linux/errno.h>
#include <linux/sched.h>
#include <net/net_namespace.h>

#include "ip_conntrack.h"

static const char ipct_proc_name[] = "ip_conntrack";
static const char ipct_ext_name[] = "ip_conntrack_ext";
static const char ipct_nf_name[] = "nf_conntrack";
static const struct seq_operations *ipct_list_ops;
static const struct seq_operations *ipct_nf_list_ops;
static int (*ipct_stat_show)(struct seq_file *m, void *v);
static int (*ipct_ext_show)(struct seq_file *m, void *v);
static int (*ipct_nf_stat_show)(struct seq_file *m, void *v);

/* The connection list's iterator state (procfs.rs). */
struct ipct_list_iter {
	struct seq_net_private p; /* first: seq_file_net() reads it */
	u64 next;
	unsigned int records;
};

static int __net_init ipct_proc_net_init(struct net *net)
{
	/* 0440 as in 2.6: the table reveals other users' connections. */
	if (!proc_create_net(ipct_proc_name, 0440, net->proc_net, ipct_list_ops,
			     sizeof(struct ipct_list_iter)))
		return -ENOMEM;
	if (!proc_create_net_single(ipct_proc_name, 0444, net->proc_net_stat,
				    ipct_stat_show, NULL))
		goto no_stat;
	if (!proc_create_net_single(ipct_ext_name, 0444, net->proc_net_stat,
				    ipct_ext_show, NULL))
		goto no_ext;
	/* 6.12's names and modes (nf_conntrack_standalone_init_proc). */
	if (!proc_create_net(ipct_nf_name, 0440, net->proc_net, ipct_nf_list_ops,
			     sizeof(struct ipct_list_iter)))
		goto no_nf;
	if (!proc_create_net_single(ipct_nf_name, 0444, net->proc_net_stat,
				    ipct_nf_stat_show, NULL))
		goto no_nf_stat;
	return 0;

no_nf_stat:
	remove_proc_entry(ipct_nf_name, net->proc_net);
no_nf:
	remove_proc_entry(ipct_ext_name, net->proc_net_stat);
no_ext:
	remove_proc_entry(ipct_proc_name, net->proc_net_stat);
no_stat:
	remove_proc_entry(ipct_proc_name, net->proc_net);
	return -ENOMEM;
}

static void __net_exit ipct_proc_net_exit(struct net *net)
{
	remove_proc_entry(ipct_nf_name, net->proc_net_stat);
	remove_proc_entry(ipct_nf_name, net->proc_net);
	remove_proc_entry(ipct_ext_name, net->proc_net_stat);
	remove_proc_entry(ipct_proc_name, net->proc_net_stat);
	remove_proc_entry(ipct_proc_name, net->proc_net);
}

static struct pernet_operations ipct_proc_net_ops = {
	.init = ipct_proc_net_init,
	.exit = ipct_proc_net_exit,
};

int ipct_proc_register(const struct seq_operations *list_ops,
		       int (*stat_show)(struct seq_file *m, void *v),
		       int (*ext_show)(struct seq_file *m, void *v),
		       const struct seq_operations *nf_list_ops,
		       int (*nf_stat_show)(struct seq_file *m, void *v))
{
	int ret;

	if (ipct_list_ops)
		return -EBUSY;
	ipct_list_ops = list_ops;
	ipct_stat_show = stat_show;
	ipct_ext_show = ext_show;
	ipct_nf_list_ops = nf_list_ops;
	ipct_nf_stat_show = nf_stat_show;
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

struct net *ipct_seq_net(struct seq_file *m)
{
	return seq_file_net(m);
}

u64 *ipct_seq_list_next(struct seq_file *m)
{
	return &((struct ipct_list_iter *)m->private)->next;
}

unsigned int ipct_seq_list_tick(struct seq_file *m)
{
	return ++((struct ipct_list_iter *)m->private)->records;
}

struct net *ipct_seq_single_net(struct seq_file *m)
{
	return seq_file_single_net(m);
}

struct net *ipct_init_net(void)
{
	return &init_net;
}

void ipct_cond_resched(void)
{
	cond_resched();
}
