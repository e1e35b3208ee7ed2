/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Keeping out kernel code that would read ip_conntrack's entries as a
 * struct nf_conn (guard_helpers.c; used by src/kmod/guard.rs).
 */
#ifndef IPCT_GUARD_H
#define IPCT_GUARD_H

/*
 * Fails with -EBUSY (and logs why) if such a module is loaded; otherwise
 * refuses such modules from now on, until ipct_guard_unregister().
 */
int ipct_guard_register(void);
void ipct_guard_unregister(void);

#endif /* IPCT_GUARD_H */
