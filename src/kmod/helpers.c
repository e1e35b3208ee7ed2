// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of ip_conntrack.ko: what Rust-for-Linux 6.12 cannot express
 * (module_param, THIS_MODULE, static pernet_operations, inline kernel
 * functions). Prototypes and contracts: include/ip_conntrack.h.
 */
#include <linux/debugfs.h>
#include <linux/errno.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/rcupdate.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/uaccess.h>
#include <net/inet_sock.h>
#include <net/ipv6.h>
#include <net/net_namespace.h>
#include <net/sock.h>

#include "ip_conntrack.h"

/* --- module parameters ---------------------------------------------------- */

static unsigned int hashsize;

/*
 * At load the value is only recorded (params.rs reads it); once the tables
 * exist, writing it resizes every namespace's table, as 2.6 allowed.
 */
static int ipct_hashsize_set(const char *val, const struct kernel_param *kp)
{
	unsigned int buckets;
	int ret;

	ret = kstrtouint(val, 0, &buckets);
	if (ret)
		return ret;
	ret = ipct_tables_resize(buckets);
	if (ret == -ENOENT)
		return param_set_uint(val, kp);
	if (!ret)
		WRITE_ONCE(hashsize, buckets);
	return ret;
}

static const struct kernel_param_ops ipct_hashsize_ops = {
	.set = ipct_hashsize_set,
	.get = param_get_uint,
};
module_param_cb(hashsize, &ipct_hashsize_ops, &hashsize, 0600);
MODULE_PARM_DESC(hashsize, "number of hash buckets (0 at load = from memory size; writable: resizes)");

unsigned int ipct_param_hashsize(void)
{
	return READ_ONCE(hashsize);
}

void ipct_param_set_hashsize(unsigned int buckets)
{
	WRITE_ONCE(hashsize, buckets);
}

unsigned long ipct_physmem_bytes(void)
{
	return get_num_physpages() << PAGE_SHIFT;
}

/*
 * What garbage collection costs, summed over every namespace's collector:
 * benchmark accounting, not a setting, so it lives in debugfs
 * (/sys/kernel/debug/ip_conntrack/gc_{ns,max_hold_ns,runs}; writing 0
 * resets a value).
 */
static unsigned long gc_ns;
static unsigned long gc_max_hold_ns;
static unsigned long gc_runs;
static DEFINE_SPINLOCK(gc_account_lock);
static struct dentry *debugfs_dir;

void ipct_debugfs_init(void)
{
	/* debugfs is optional: without it (or on error) the files are absent. */
	debugfs_dir = debugfs_create_dir("ip_conntrack", NULL);
	debugfs_create_ulong("gc_ns", 0644, debugfs_dir, &gc_ns);
	debugfs_create_ulong("gc_max_hold_ns", 0644, debugfs_dir, &gc_max_hold_ns);
	debugfs_create_ulong("gc_runs", 0644, debugfs_dir, &gc_runs);
}

void ipct_debugfs_exit(void)
{
	debugfs_remove(debugfs_dir);
	debugfs_dir = NULL;
}

void ipct_gc_account(u64 run_ns, u64 max_hold_ns)
{
	spin_lock(&gc_account_lock);
	WRITE_ONCE(gc_ns, gc_ns + run_ns);
	if (max_hold_ns > gc_max_hold_ns)
		WRITE_ONCE(gc_max_hold_ns, max_hold_ns);
	WRITE_ONCE(gc_runs, gc_runs + 1);
	spin_unlock(&gc_account_lock);
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

void ipct_sock_tuple(struct sock *sk, struct ipct_sock_tuple *t)
{
	const struct inet_sock *inet = inet_sk(sk);

	lock_sock(sk);
	t->src = ntohl(inet->inet_rcv_saddr);
	t->sport = ntohs(inet->inet_sport);
	t->dst = ntohl(inet->inet_daddr);
	t->dport = ntohs(inet->inet_dport);
	t->proto = sk->sk_protocol;
	release_sock(sk);
	t->net = sock_net(sk);
}

int ipct_put_sockaddr_in(void __user *user, u32 addr, u16 port)
{
	struct sockaddr_in sin = {
		.sin_family = AF_INET,
		.sin_port = htons(port),
		.sin_addr.s_addr = htonl(addr),
	};

	return copy_to_user(user, &sin, sizeof(sin)) ? -EFAULT : 0;
}

void ipct_sock_tuple6(struct sock *sk, struct ipct_sock_tuple6 *t)
{
	const struct inet_sock *inet = inet_sk(sk);
	const struct ipv6_pinfo *inet6 = inet6_sk(sk);

	lock_sock(sk);
	memcpy(t->src, &sk->sk_v6_rcv_saddr, sizeof(t->src));
	t->sport = ntohs(inet->inet_sport);
	memcpy(t->dst, &sk->sk_v6_daddr, sizeof(t->dst));
	t->dport = ntohs(inet->inet_dport);
	t->proto = sk->sk_protocol;
	t->bound_dev_if = sk->sk_bound_dev_if;
	t->flow_label = inet6 ? inet6->flow_label : 0;
	release_sock(sk);
	t->net = sock_net(sk);
}

int ipct_put_sockaddr_in6(void __user *user, const u8 *addr, u16 port,
			  __be32 flow_label, int bound_dev_if)
{
	struct sockaddr_in6 sin6 = {
		.sin6_family = AF_INET6,
		.sin6_port = htons(port),
		.sin6_flowinfo = flow_label & IPV6_FLOWINFO_MASK,
	};

	memcpy(&sin6.sin6_addr, addr, sizeof(sin6.sin6_addr));
	sin6.sin6_scope_id = ipv6_iface_scope_id(&sin6.sin6_addr, bound_dev_if);
	return copy_to_user(user, &sin6, sizeof(sin6)) ? -EFAULT : 0;
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
	/* Unregistering does not wait for hook calls in flight. */
	synchronize_net();
	ipct_hook_ops = NULL;
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
