// SPDX-License-Identifier: GPL-2.0
/*
 * TEST ONLY, never shipped: WARN()s once at load so the VM runner's
 * self-test can check that a kernel WARNING makes a run fail. Built by
 * scripts/module.sh into build/VARIANT/ipct_warn.ko, separately from
 * ip_conntrack.ko.
 */
#include <linux/bug.h>
#include <linux/init.h>
#include <linux/module.h>

static int __init ipct_warn_init(void)
{
	WARN(1, "ipct_warn: deliberate warning for the VM runner self-test\n");
	return 0;
}

static void __exit ipct_warn_exit(void)
{
}

module_init(ipct_warn_init);
module_exit(ipct_warn_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("ip_conntrack test helper: WARN() at load (test only)");
