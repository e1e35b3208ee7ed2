// SPDX-License-Identifier: GPL-2.0

//! ip_conntrack: IPv4 connection tracking for Linux 6.12, with the classic
//! 2.6 `ip_conntrack` interface.
//!
//! The crate root is thin: the module struct owns one RAII registration per
//! kernel facility, set up in [`IpConntrack::init`] and torn down in
//! reverse order when the struct drops. The C side lives in `helpers.c`
//! (prototypes in `include/ip_conntrack.h`).

use kernel::prelude::*;

// Engine files (src/engine/), mounted under the host crate's module names so
// `crate::config::Config` means the same thing in both crates.
#[forbid(unsafe_code)]
#[path = "../engine/config.rs"]
pub mod config;
#[forbid(unsafe_code)]
#[path = "../engine/ctinfo.rs"]
pub mod ctinfo;
#[forbid(unsafe_code)]
#[path = "../engine/ctmatch.rs"]
pub mod ctmatch;
#[forbid(unsafe_code)]
#[path = "../engine/driver.rs"]
pub mod driver;
#[forbid(unsafe_code)]
#[path = "../engine/entry.rs"]
pub mod entry;
#[forbid(unsafe_code)]
#[path = "../engine/expiry.rs"]
pub mod expiry;
#[forbid(unsafe_code)]
#[path = "../engine/flow_note.rs"]
pub mod flow_note;
#[forbid(unsafe_code)]
#[path = "../engine/hash.rs"]
pub mod hash;
#[forbid(unsafe_code)]
#[path = "../engine/invalid.rs"]
pub mod invalid;
#[forbid(unsafe_code)]
#[path = "../engine/nat/mod.rs"]
pub mod nat;
#[forbid(unsafe_code)]
#[path = "../engine/netlink/mod.rs"]
pub mod netlink;
#[forbid(unsafe_code)]
#[path = "../engine/packet.rs"]
pub mod packet;
#[forbid(unsafe_code)]
#[path = "../engine/procfmt.rs"]
pub mod procfmt;
#[forbid(unsafe_code)]
#[path = "../engine/proto/mod.rs"]
pub mod proto;
#[forbid(unsafe_code)]
#[path = "../engine/sizing.rs"]
pub mod sizing;
#[forbid(unsafe_code)]
#[path = "../engine/stats.rs"]
pub mod stats;
#[forbid(unsafe_code)]
#[path = "../engine/table.rs"]
pub mod table;
#[forbid(unsafe_code)]
#[path = "../engine/track.rs"]
pub mod track;
#[forbid(unsafe_code)]
#[path = "../engine/tuple.rs"]
pub mod tuple;
#[forbid(unsafe_code)]
#[path = "../engine/wire/mod.rs"]
pub mod wire;

/// Time in milliseconds on a monotonic clock (the engine's `Millis`).
pub type Millis = u64;

mod conn;
mod ctnetlink;
mod ffi;
mod debugfs;
mod dwork;
mod gc;
mod guard;
mod hooks;
mod klog;
// The kernel's table and statistics of one namespace (src/kmod/table.rs,
// stats.rs), named apart from the engine's `table` and `stats`.
#[path = "table.rs"]
mod ktable;
#[path = "stats.rs"]
mod kstats;
mod lock;
// The NAT core (src/kmod/nat.rs), named apart from the engine's `nat`.
#[path = "nat.rs"]
mod knat;
mod nat_table;
mod nfct_hook;
mod nft_nat;
mod packet_path;
mod params;
mod procfs;
mod settings;
mod skb;
mod sockopt;
mod sys;
mod sysctl;
mod xt_match;
mod xt_target;

module! {
    type: IpConntrack,
    name: "ip_conntrack",
    author: "ip_conntrack developers",
    description: "IPv4 connection tracking (classic ip_conntrack interface)",
    license: "GPL",
}

/// The loaded module.
///
/// Fields drop in declaration order, the reverse of their setup in `init`:
/// hooks first (no new packets), the sockopt last (nf_conntrack stays
/// unloadable until everything else is gone).
struct IpConntrack {
    /// First: no request or dump may reach a table being torn down.
    _ctnetlink: ctnetlink::Registration,
    /// No new nat chains (nft), nat tables or NAT rules; the tables'
    /// lookups go before the NAT core they are registered with.
    _nft_nat: nft_nat::ChainType,
    _nat_table: nat_table::Table,
    _nat_targets: xt_target::Registration,
    _matches: xt_match::Registration,
    _hooks: hooks::Registration<8>,
    /// The NAT hooks and lookup lists; after the hooks, before the tables
    /// (NAT state is freed with the entries).
    _nat: knat::Registration,
    _proc: procfs::Files,
    _sysctl: sysctl::Sysctls,
    /// Dropped after the hooks and /proc files: tears every namespace's
    /// table down and waits until packets let go of their entries.
    _tables: ktable::Tables,
    /// Removed once no entry is left (`destroy` must work until then).
    _nfct_hook: nfct_hook::Registration,
    /// Destroyed last among the data path: every entry is freed by now.
    _cache: conn::Cache,
    _sockopt: sockopt::Registration,
    /// Modules that would read entries as `struct nf_conn` may load again.
    _guard: guard::Guard,
    /// The collectors' accounting files; every collector has stopped.
    _gc_accounting: debugfs::Accounting,
}

impl kernel::Module for IpConntrack {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: reads one RCU-managed pointer without dereferencing it.
        if unsafe { ffi::ipct_nf_ct_hook_in_use() } {
            pr_err!("nf_conntrack is loaded; refusing to load (rmmod nf_conntrack first)\n");
            return Err(EBUSY);
        }
        // Claiming SO_ORIGINAL_DST is the lock against nf_conntrack, both
        // ways: it fails while nf_conntrack is loaded, and nf_conntrack
        // fails to load while we hold it.
        let sockopt = sockopt::Registration::new().inspect_err(|e| {
            if *e == EBUSY {
                pr_err!("SO_ORIGINAL_DST is taken (nf_conntrack loaded?); refusing to load\n");
            }
        })?;

        let guard = guard::Guard::new()?;
        skb::SlowGro::find()?;
        let sizing = params::Sizing::at_load()?;
        let gc_accounting = debugfs::Accounting::new();
        sizing.apply();
        let cache = conn::Cache::new()?;
        let nfct_hook = nfct_hook::Registration::new()?;
        let tables = ktable::Tables::new()?;
        let sysctl = sysctl::Sysctls::new()?;
        let proc = procfs::Files::new()?;
        let nat = knat::Registration::new()?;
        let hooks = hooks::Registration::new(packet_path::hook_ops())?;
        let matches = xt_match::register()?;
        let nat_targets = xt_target::register()?;
        let nat_table = nat_table::Table::register()?;
        let nft_nat = nft_nat::ChainType::register();
        let ctnetlink = ctnetlink::Registration::new()?;

        pr_info!(
            "loaded: {} buckets, {} max, {} hooks\n",
            sizing.buckets(),
            sizing.max(),
            hooks.count()
        );
        Ok(Self {
            _ctnetlink: ctnetlink,
            _nft_nat: nft_nat,
            _nat_table: nat_table,
            _nat_targets: nat_targets,
            _matches: matches,
            _hooks: hooks,
            _nat: nat,
            _proc: proc,
            _sysctl: sysctl,
            _tables: tables,
            _nfct_hook: nfct_hook,
            _cache: cache,
            _sockopt: sockopt,
            _guard: guard,
            _gc_accounting: gc_accounting,
        })
    }
}

impl Drop for IpConntrack {
    fn drop(&mut self) {
        pr_info!("unloading\n");
    }
}
