// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers of the data path: what Rust-for-Linux 6.12 cannot express
 * (inline functions and macros around locks, refcounts, skbs, slab caches,
 * per-CPU data, delayed work, net_generic and nf_ct_hook). Prototypes and
 * contracts: include/ipct_conn.h.
 */
#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/netfilter.h>
#include <linux/percpu.h>
#include <linux/random.h>
#include <linux/ratelimit.h>
#include <linux/refcount.h>
#include <linux/skbuff.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/udp.h>
#include <linux/sctp.h>
#include <net/sctp/checksum.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <net/netfilter/ipv4/nf_defrag_ipv4.h>
#include <net/netfilter/ipv6/nf_defrag_ipv6.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/netfilter/nf_conntrack_tuple.h>

#include "ip_conntrack.h"

/* --- BH-disabling spinlocks ------------------------------------------------- */

void ipct_spin_lock_init(spinlock_t *lock, const char *name,
			 struct lock_class_key *key)
{
#ifdef CONFIG_DEBUG_SPINLOCK
	__raw_spin_lock_init(spinlock_check(lock), name, key, LD_WAIT_CONFIG);
#else
	spin_lock_init(lock);
#endif
}

/*
 * In softirq context (or with bottom halves disabled) no softirq can
 * interrupt the holder on this CPU, so the plain lock is enough, as
 * nf_conntrack's hash locks are taken there; spin_unlock_bh() would also
 * run __local_bh_enable_ip() for nothing.
 */
bool ipct_spin_lock_bh_off(spinlock_t *lock)
{
	if (softirq_count()) {
		spin_lock(lock);
		return false;
	}
	spin_lock_bh(lock);
	return true;
}

void ipct_spin_unlock_bh_off(spinlock_t *lock, bool bh)
{
	if (bh)
		spin_unlock_bh(lock);
	else
		spin_unlock(lock);
}

/* --- entry reference counts ------------------------------------------------- */

void ipct_nfct_init(struct nf_conntrack *ct)
{
	refcount_set(&ct->use, 1);
}

bool ipct_nfct_put_test(struct nf_conntrack *ct)
{
	return refcount_dec_and_test(&ct->use);
}

unsigned int ipct_nfct_use(const struct nf_conntrack *ct)
{
	return refcount_read(&ct->use);
}

/* --- skb ------------------------------------------------------------------- */

static const struct sk_buff ipct_slow_gro_probe = { .slow_gro = 1 };

bool ipct_skb_slow_gro_bit(unsigned long *offset, u8 *mask)
{
	const u8 *p = (const u8 *)&ipct_slow_gro_probe;
	size_t i;

	for (i = 0; i < sizeof(ipct_slow_gro_probe); i++) {
		if (p[i]) {
			*offset = i;
			*mask = p[i];
			return true;
		}
	}
	return false;
}

/* The field sizes skb.rs assumes when it reads them in place. */
static_assert(sizeof(((struct sk_buff *)0)->_nfct) == sizeof(unsigned long));
static_assert(sizeof(((struct sk_buff *)0)->head) == sizeof(void *));
static_assert(sizeof(((struct sk_buff *)0)->data) == sizeof(void *));
static_assert(sizeof(((struct sk_buff *)0)->len) == sizeof(u32));
static_assert(sizeof(((struct sk_buff *)0)->data_len) == sizeof(u32));
static_assert(sizeof(((struct sk_buff *)0)->network_header) == sizeof(u16));

const void *ipct_skb_head(const struct sk_buff *skb, void *buf,
			  unsigned int buflen, unsigned int *len,
			  unsigned int *frame_len)
{
	int off = skb_network_offset(skb);
	unsigned int n;

	if (off < 0 || skb->len < (unsigned int)off)
		return NULL;
	n = skb->len - off;
	*frame_len = n;
	if (n > buflen)
		n = buflen;
	if (!n)
		return NULL;
	*len = n;
	return skb_header_pointer(skb, off, n, buf);
}

const void *ipct_skb_bytes(const struct sk_buff *skb, unsigned int off,
			   unsigned int n, void *buf)
{
	int noff = skb_network_offset(skb);

	if (noff < 0 || off > INT_MAX - (unsigned int)noff || n > INT_MAX)
		return NULL;
	return skb_header_pointer(skb, noff + (int)off, n, buf);
}

/* nf_checksum of family @pf, as udp_error and tcp_error call it. */
static bool l4_csum_bad(struct sk_buff *skb, unsigned int hook,
			unsigned int l4off, u8 proto, u8 pf)
{
	unsigned int dataoff = skb_network_offset(skb) + l4off;

	if (proto == IPPROTO_UDP) {
		__sum16 check, *p;

		p = skb_header_pointer(skb, dataoff + offsetof(struct udphdr, check),
				       sizeof(check), &check);
		if (!p || !*p)
			return false;
	}
	return nf_checksum(skb, hook, dataoff, proto, pf) != 0;
}

bool ipct_skb_l4_csum_bad(struct sk_buff *skb, unsigned int hook,
			  unsigned int l4off, u8 proto)
{
	return l4_csum_bad(skb, hook, l4off, proto, NFPROTO_IPV4);
}

bool ipct_skb_l4_csum_bad6(struct sk_buff *skb, unsigned int hook,
			   unsigned int l4off, u8 proto)
{
	return l4_csum_bad(skb, hook, l4off, proto, NFPROTO_IPV6);
}

bool ipct_skb_l4_csum_partial_bad(struct sk_buff *skb, unsigned int hook,
				  unsigned int l4off, unsigned int len, u8 proto)
{
	return nf_checksum_partial(skb, hook, skb_network_offset(skb) + l4off,
				   len, proto, NFPROTO_IPV4) != 0;
}

bool ipct_skb_l4_csum_partial_bad6(struct sk_buff *skb, unsigned int hook,
				   unsigned int l4off, unsigned int len,
				   u8 proto)
{
	return nf_checksum_partial(skb, hook, skb_network_offset(skb) + l4off,
				   len, proto, NFPROTO_IPV6) != 0;
}

bool ipct_skb_sctp_csum_bad(struct sk_buff *skb, unsigned int l4off)
{
	unsigned int dataoff = skb_network_offset(skb) + l4off;
	__le32 check, *p;

	if (skb->ip_summed != CHECKSUM_NONE)
		return false;
	p = skb_header_pointer(skb, dataoff + offsetof(struct sctphdr, checksum),
			       sizeof(check), &check);
	if (!p || *p != sctp_compute_cksum(skb, dataoff))
		return true;
	skb->ip_summed = CHECKSUM_UNNECESSARY;
	return false;
}

/* --- slab cache of entries --------------------------------------------------- */

/*
 * Kernel code outside nf_conntrack that reads `status` of the struct nf_conn
 * it believes skb->_nfct points to (docs/design.md, "Who else reads skb->_nfct"):
 *  - nf_defrag_ipv4 checks IPS_TEMPLATE of every packet that already
 *    carries an entry (looped-back traffic), in kernels without NF_NAT;
 *  - icmp_ndo_send() checks the NAT bits when a tunnel or similar device
 *    answers a packet with an ICMP error, in kernels with NF_NAT;
 *  - br_netfilter decides by IPS_CONFIRMED whether to call
 *    nf_ct_hook->confirm for a bridged packet, and nfnetlink_queue whether
 *    a queued packet's entry is still unconfirmed.
 * Our entries are smaller than a struct nf_conn, so where such a reader is
 * built, every entry is extended to cover that word and the word is kept
 * true: not a template, no NAT (the truth for this tracker), and
 * IPS_CONFIRMED once the entry joins the table (ipct_shadow_confirmed).
 * The reference configuration builds none of them, and entries stay 128
 * bytes. Readers of more than this word are kept out (guard_helpers.c).
 */
#if !IS_ENABLED(CONFIG_NF_NAT) || IS_ENABLED(CONFIG_NET_IP_TUNNEL) || \
	IS_ENABLED(CONFIG_NET_IPVTI) || IS_ENABLED(CONFIG_XFRM_INTERFACE) || \
	IS_ENABLED(CONFIG_WIREGUARD) || IS_ENABLED(CONFIG_GTP) || \
	IS_ENABLED(CONFIG_AMT) || IS_ENABLED(CONFIG_IPV6_TUNNEL) || \
	IS_ENABLED(CONFIG_IPV6_GRE) || IS_ENABLED(CONFIG_IPV6_VTI) || \
	IS_ENABLED(CONFIG_SUNVNET_COMMON) || \
	IS_ENABLED(CONFIG_BRIDGE_NETFILTER) || \
	IS_ENABLED(CONFIG_NETFILTER_NETLINK_QUEUE)
#define IPCT_STATUS_SHADOW 1
#else
#define IPCT_STATUS_SHADOW 0
#endif

void ipct_shadow_confirmed(void *obj)
{
	if (IPCT_STATUS_SHADOW)
		set_bit(IPS_CONFIRMED_BIT,
			(unsigned long *)(obj + offsetof(struct nf_conn, status)));
}

/* Bytes of an entry the Rust side uses (set by ipct_cache_create). */
static unsigned int ipct_obj_used;

struct kmem_cache *ipct_cache_create(const char *name, unsigned int size,
				     unsigned int align, unsigned int extra,
				     unsigned int *extra_at)
{
	slab_flags_t flags = SLAB_HWCACHE_ALIGN;
	unsigned int end = size;

	ipct_obj_used = size;
	if (IPCT_STATUS_SHADOW) {
		size_t off = offsetof(struct nf_conn, status);

		/* The shadow word must lie past what Rust uses. */
		if (off < size) {
			pr_err("ip_conntrack: nf_conn.status at %zu overlaps the %u-byte entry\n",
			       off, size);
			return NULL;
		}
		end = off + sizeof(unsigned long);
		/* Memory over alignment: the shadow costs a few bytes only. */
		flags = 0;
	}
	if (extra) {
		/* The extension (counters) goes past the shadow word. */
		end = ALIGN(end, __alignof__(u64));
		*extra_at = end;
		end += extra;
	}
	return kmem_cache_create(name, end, align, flags, NULL);
}

struct kmem_cache *ipct_cache_create6(const char *name, unsigned int size,
				      unsigned int align, unsigned int extra,
				      unsigned int *addrs_at,
				      unsigned int *extra_at)
{
	size_t off = offsetof(struct nf_conn, status);
	unsigned int end;

	if (off < size) {
		pr_err("ip_conntrack: nf_conn.status at %zu overlaps the %u-byte entry\n",
		       off, size);
		return NULL;
	}
	end = ALIGN(off + sizeof(unsigned long), __alignof__(u64));
	*addrs_at = end;
	end += 4 * sizeof(u64);
	if (extra) {
		end = ALIGN(end, __alignof__(u64));
		*extra_at = end;
		end += extra;
	}
	return kmem_cache_create(name, end, align, SLAB_HWCACHE_ALIGN, NULL);
}

void *ipct_cache_alloc6(struct kmem_cache *cache)
{
	void *obj = kmem_cache_alloc(cache, GFP_ATOMIC | __GFP_NOWARN);

	if (obj)
		*(unsigned long *)(obj + offsetof(struct nf_conn, status)) = 0;
	return obj;
}

void ipct_status_confirmed6(void *obj)
{
	set_bit(IPS_CONFIRMED_BIT,
		(unsigned long *)(obj + offsetof(struct nf_conn, status)));
}

void *ipct_cache_alloc(struct kmem_cache *cache)
{
	/* Packet path (softirq): never sleeps; a failure drops the packet. */
	void *obj = kmem_cache_alloc(cache, GFP_ATOMIC | __GFP_NOWARN);

	/* Zero from the end of the Rust part through the shadow word. */
	if (IPCT_STATUS_SHADOW && obj)
		memset(obj + ipct_obj_used, 0,
		       offsetof(struct nf_conn, status) + sizeof(unsigned long) -
		       ipct_obj_used);
	return obj;
}

void ipct_cache_free(struct kmem_cache *cache, void *obj)
{
	kmem_cache_free(cache, obj);
}

void ipct_cache_destroy(struct kmem_cache *cache)
{
	kmem_cache_destroy(cache);
}

unsigned int ipct_cache_object_size(struct kmem_cache *cache)
{
	return kmem_cache_size(cache);
}

/* --- clock, randomness, sleeping, logging ------------------------------------- */

u64 ipct_now_ms(void)
{
	return jiffies64_to_msecs(get_jiffies_64());
}

void ipct_log_invalid(u8 proto, u32 src, u32 dst, const char *why, size_t len)
{
	__be32 s = htonl(src), d = htonl(dst);

	net_info_ratelimited("ip_conntrack: invalid packet (proto %u) %pI4 -> %pI4: %.*s\n",
			     proto, &s, &d, (int)len, why);
}

void ipct_warn_ratelimited(const char *msg, size_t len)
{
	net_warn_ratelimited("%.*s\n", (int)len, msg);
}

/* --- per-CPU counters ----------------------------------------------------------- */

void __percpu *ipct_pcpu_alloc(size_t size)
{
	return __alloc_percpu(size, __alignof__(u64));
}

void ipct_pcpu_free(void __percpu *p)
{
	free_percpu(p);
}

void ipct_pcpu_add(void __percpu *p, unsigned int index, u32 n)
{
	u32 __percpu *c = (u32 __percpu *)p + index;

	this_cpu_add(*c, n);
}

void ipct_pcpu_read(void __percpu *p, unsigned int cpu, void *dst, size_t size)
{
	memcpy(dst, per_cpu_ptr(p, cpu), size);
}

unsigned int ipct_next_possible_cpu(int prev)
{
	return cpumask_next(prev, cpu_possible_mask);
}

unsigned int ipct_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

/* --- delayed work ---------------------------------------------------------------- */

static void ipct_dwork_fn(struct work_struct *work)
{
	struct ipct_dwork *w = container_of(to_delayed_work(work),
					    struct ipct_dwork, dwork);

	w->fn(w->ctx);
}

void ipct_dwork_init(struct ipct_dwork *w, void (*fn)(void *ctx), void *ctx)
{
	w->fn = fn;
	w->ctx = ctx;
	INIT_DELAYED_WORK(&w->dwork, ipct_dwork_fn);
}

void ipct_dwork_schedule(struct ipct_dwork *w, unsigned int delay_ms)
{
	queue_delayed_work(system_power_efficient_wq, &w->dwork,
			   msecs_to_jiffies(delay_ms));
}

void ipct_dwork_cancel_sync(struct ipct_dwork *w)
{
	cancel_delayed_work_sync(&w->dwork);
}

/* --- one table per network namespace ---------------------------------------------- */

/*
 * A namespace's slot: its table, and its place in the list of tables that
 * a resize walks. ipct_tables_mutex orders table creation (which reads the
 * bucket count) against resizes (which change it, then walk the list), and
 * a table leaves the list before it is torn down.
 */
struct ipct_table_slot {
	void *table;
	struct list_head list;
};

static unsigned int ipct_table_net_id __read_mostly;
static int (*ipct_table_init)(struct net *net, void **slot);
static void (*ipct_table_exit)(struct net *net, void *table);
static int (*ipct_table_resize)(void *table, unsigned int buckets);
static int (*ipct_buckets_set)(unsigned int buckets);
static DEFINE_MUTEX(ipct_tables_mutex);
static LIST_HEAD(ipct_table_list);

static int __net_init ipct_tables_net_init(struct net *net)
{
	struct ipct_table_slot *slot = net_generic(net, ipct_table_net_id);
	int ret;

	/* Fragments are reassembled (priority -400) before tracking (-200). */
	ret = nf_defrag_ipv4_enable(net);
	if (ret)
		return ret;
	ret = nf_defrag_ipv6_enable(net);
	if (ret) {
		nf_defrag_ipv4_disable(net);
		return ret;
	}
	mutex_lock(&ipct_tables_mutex);
	ret = ipct_table_init(net, &slot->table);
	if (!ret)
		list_add(&slot->list, &ipct_table_list);
	mutex_unlock(&ipct_tables_mutex);
	if (ret) {
		nf_defrag_ipv6_disable(net);
		nf_defrag_ipv4_disable(net);
	}
	return ret;
}

static void __net_exit ipct_tables_net_exit(struct net *net)
{
	struct ipct_table_slot *slot = net_generic(net, ipct_table_net_id);

	if (slot->table) {
		mutex_lock(&ipct_tables_mutex);
		list_del(&slot->list);
		mutex_unlock(&ipct_tables_mutex);
		ipct_table_exit(net, slot->table);
	}
	slot->table = NULL;
	nf_defrag_ipv6_disable(net);
	nf_defrag_ipv4_disable(net);
}

static struct pernet_operations ipct_tables_net_ops = {
	.init = ipct_tables_net_init,
	.exit = ipct_tables_net_exit,
	.id = &ipct_table_net_id,
	.size = sizeof(struct ipct_table_slot),
};

int ipct_tables_register(int (*init)(struct net *net, void **slot),
			 void (*exit)(struct net *net, void *table),
			 int (*set)(unsigned int buckets),
			 int (*resize)(void *table, unsigned int buckets))
{
	int ret;

	if (ipct_table_init)
		return -EBUSY;
	ipct_table_init = init;
	ipct_table_exit = exit;
	ret = register_pernet_subsys(&ipct_tables_net_ops);
	if (ret) {
		ipct_table_init = NULL;
		return ret;
	}
	mutex_lock(&ipct_tables_mutex);
	ipct_buckets_set = set;
	ipct_table_resize = resize;
	mutex_unlock(&ipct_tables_mutex);
	return 0;
}

void ipct_tables_unregister(void)
{
	mutex_lock(&ipct_tables_mutex);
	ipct_buckets_set = NULL;
	ipct_table_resize = NULL;
	mutex_unlock(&ipct_tables_mutex);
	unregister_pernet_subsys(&ipct_tables_net_ops);
	ipct_table_init = NULL;
}

int ipct_tables_resize(unsigned int buckets)
{
	struct ipct_table_slot *slot;
	int ret;

	mutex_lock(&ipct_tables_mutex);
	if (!ipct_table_resize) {
		ret = -ENOENT;
		goto out;
	}
	ret = ipct_buckets_set(buckets);
	if (ret)
		goto out;
	list_for_each_entry(slot, &ipct_table_list, list) {
		ret = ipct_table_resize(slot->table, buckets);
		if (ret)
			break;
	}
out:
	mutex_unlock(&ipct_tables_mutex);
	return ret;
}

void *ipct_net_table(const struct net *net)
{
	return ((struct ipct_table_slot *)net_generic(net, ipct_table_net_id))->table;
}

/* --- nf_ct_hook ------------------------------------------------------------------ */

int ipct_nf_ct_hook_install(const struct nf_ct_hook *hook)
{
	const struct nf_ct_hook __rcu **p = &nf_ct_hook;

	/* Fully ordered: the hook's contents are visible before the pointer. */
	if (cmpxchg((const struct nf_ct_hook **)p, NULL, hook) != NULL)
		return -EBUSY;
	return 0;
}

void ipct_nf_ct_hook_remove(const struct nf_ct_hook *hook)
{
	const struct nf_ct_hook __rcu **p = &nf_ct_hook;

	cmpxchg((const struct nf_ct_hook **)p, hook, NULL);
	synchronize_rcu();
}

void ipct_fill_tuple(struct nf_conntrack_tuple *t, const struct ipct_tuple *v)
{
	memset(t, 0, sizeof(*t));
	t->src.l3num = NFPROTO_IPV4;
	t->src.u3.ip = htonl(v->src);
	t->dst.u3.ip = htonl(v->dst);
	t->dst.protonum = v->proto;
	t->dst.dir = v->dir;
	switch (v->proto) {
	case IPPROTO_ICMP:
		t->src.u.icmp.id = htons(v->icmp_id);
		t->dst.u.icmp.type = v->icmp_type;
		t->dst.u.icmp.code = v->icmp_code;
		break;
	default:
		t->src.u.all = htons(v->sport);
		t->dst.u.all = htons(v->dport);
		break;
	}
}
