/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_conntrack: /proc/net/ip_conntrack, /proc/net/stat/ip_conntrack,
 * /proc/net/stat/ip_conntrack_ext, and 6.12's /proc/net/nf_conntrack and
 * /proc/net/stat/nf_conntrack.
 *
 * Provided by C (src/kmod/proc_helpers.c): every ipct_* function below.
 * Provided by Rust (src/kmod/procfs.rs): the seq_operations of the
 * connection list and the show functions of the two statistics files.
 * Included from ip_conntrack.h, so bindgen sees it.
 */
#ifndef IPCT_PROC_H
#define IPCT_PROC_H

#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/seq_file_net.h>

/*
 * Create /proc/net/ip_conntrack (a seq_file over @list_ops whose private
 * data starts with a struct seq_net_private: ipct_seq_net() gives its
 * namespace),
 * /proc/net/stat/ip_conntrack and /proc/net/stat/ip_conntrack_ext
 * (single_open files printed by @stat_show and @ext_show:
 * ipct_seq_single_net() gives their namespace), /proc/net/nf_conntrack
 * (as the first, over @nf_list_ops) and /proc/net/stat/nf_conntrack
 * (printed by @nf_stat_show) in every current and future network
 * namespace. All must stay valid until ipct_proc_unregister() returns;
 * -EBUSY if already registered.
 */
int ipct_proc_register(const struct seq_operations *list_ops,
		       int (*stat_show)(struct seq_file *m, void *v),
		       int (*ext_show)(struct seq_file *m, void *v),
		       const struct seq_operations *nf_list_ops,
		       int (*nf_stat_show)(struct seq_file *m, void *v));
/* Remove the files everywhere; waits for readers in flight. */
void ipct_proc_unregister(void);

/* The namespace of an open connection list (seq_file_net). */
struct net *ipct_seq_net(struct seq_file *m);
/*
 * The iterator state of an open connection list (zeroed at open):
 * where the record `show` listed last ends, and a count of records moved
 * past (ipct_seq_list_tick() adds one and returns it).
 */
u64 *ipct_seq_list_next(struct seq_file *m);
unsigned int ipct_seq_list_tick(struct seq_file *m);

/* The namespace of an open /proc/net/stat file (seq_file_single_net). */
struct net *ipct_seq_single_net(struct seq_file *m);

/* The initial network namespace, where the sysctls live. */
struct net *ipct_init_net(void);

/* cond_resched(): lets a long dump yield the CPU (process context only). */
void ipct_cond_resched(void);

#endif /* IPCT_PROC_H */
