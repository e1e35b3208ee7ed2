/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ip_conntrack: the C side of the iptables matches "state" (revision 0)
 * and "conntrack" (revisions 1-3). Included from ip_conntrack.h, so the
 * project's bindgen run sees it.
 *
 * Provided by C (xt_helpers.c): every ipct_xt_* function declared here.
 * Provided by Rust (src/kmod/xt_match.rs): the match and checkentry
 * callbacks in the struct xt_match array passed in. A packet's
 * classification comes from the data path (skb->_nfct, read by skb.rs).
 */
#ifndef IPCT_XT_H
#define IPCT_XT_H

#include <linux/netfilter/x_tables.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/xt_conntrack.h>
#include <linux/netfilter/xt_state.h>

/*
 * The conntrack_match module parameter: whether to register the conntrack
 * match (revisions 1-3) next to state (revision 0).
 */
bool ipct_xt_param_conntrack_match(void);

/*
 * Register @n matches owned by this module (each .me is set to
 * THIS_MODULE here, so a rule using one pins the module). @matches must
 * stay valid and unmoved until ipct_xt_unregister_matches() returns.
 */
int ipct_xt_register_matches(struct xt_match *matches, unsigned int n);
void ipct_xt_unregister_matches(struct xt_match *matches, unsigned int n);

#ifdef __BINDGEN__
/* Values of macros and anonymous enums, as `IPCT_XT_*` Rust constants. */

/* xt_state statemask bits. */
const unsigned int IPCT_XT_STATE_INVALID = XT_STATE_INVALID;
const unsigned int IPCT_XT_STATE_UNTRACKED = XT_STATE_UNTRACKED;

/* xt_conntrack state_mask bits. */
const u16 IPCT_XT_CT_STATE_INVALID = XT_CONNTRACK_STATE_INVALID;
const u16 IPCT_XT_CT_STATE_SNAT = XT_CONNTRACK_STATE_SNAT;
const u16 IPCT_XT_CT_STATE_DNAT = XT_CONNTRACK_STATE_DNAT;
const u16 IPCT_XT_CT_STATE_UNTRACKED = XT_CONNTRACK_STATE_UNTRACKED;

/* xt_conntrack match_flags / invert_flags. */
const u16 IPCT_XT_CT_STATE = XT_CONNTRACK_STATE;
const u16 IPCT_XT_CT_PROTO = XT_CONNTRACK_PROTO;
const u16 IPCT_XT_CT_ORIGSRC = XT_CONNTRACK_ORIGSRC;
const u16 IPCT_XT_CT_ORIGDST = XT_CONNTRACK_ORIGDST;
const u16 IPCT_XT_CT_REPLSRC = XT_CONNTRACK_REPLSRC;
const u16 IPCT_XT_CT_REPLDST = XT_CONNTRACK_REPLDST;
const u16 IPCT_XT_CT_STATUS = XT_CONNTRACK_STATUS;
const u16 IPCT_XT_CT_EXPIRES = XT_CONNTRACK_EXPIRES;
const u16 IPCT_XT_CT_ORIGSRC_PORT = XT_CONNTRACK_ORIGSRC_PORT;
const u16 IPCT_XT_CT_ORIGDST_PORT = XT_CONNTRACK_ORIGDST_PORT;
const u16 IPCT_XT_CT_REPLSRC_PORT = XT_CONNTRACK_REPLSRC_PORT;
const u16 IPCT_XT_CT_REPLDST_PORT = XT_CONNTRACK_REPLDST_PORT;
const u16 IPCT_XT_CT_DIRECTION = XT_CONNTRACK_DIRECTION;
const u16 IPCT_XT_CT_STATE_ALIAS = XT_CONNTRACK_STATE_ALIAS;

/* Entry status bits --ctstatus names (enum ip_conntrack_status). */
const u32 IPCT_XT_IPS_EXPECTED = IPS_EXPECTED;
const u32 IPCT_XT_IPS_SEEN_REPLY = IPS_SEEN_REPLY;
const u32 IPCT_XT_IPS_ASSURED = IPS_ASSURED;
const u32 IPCT_XT_IPS_CONFIRMED = IPS_CONFIRMED;
#endif

#endif /* IPCT_XT_H */
