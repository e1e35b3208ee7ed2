//! Counters of `/proc/net/stat/ip_conntrack`, one [`Stats`] per CPU, and
//! the file's text in the 2.6 layout:
//!
//! ```text
//! entries  searched found new invalid ignore delete delete_list insert insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete
//! 00000003  00000000 0000001a 00000004 00000000 ...  00000000 00000000 00000000 \n
//! ```
//!
//! Every field is `%08x`; the double spaces after `entries` and before
//! `expect_new`, and the space before each row's newline, are 2.6's (see
//! `ct_cpu_seq_show` in 2.6's `ip_conntrack_standalone.c`). `entries` is
//! the global count, repeated on every CPU's row.
//!
//! Linux 6.12 (`nf_conntrack_standalone.c`) reuses column 2 for
//! `clashres` and column 8 for `chainlength`, prints 0 for `new`,
//! `ignore` and `delete`, and appends `search_restart`. We keep the 2.6
//! header and meanings, which iptables-era tools (lnstat, collectd) parse
//! by position, and keep the modern counters [`Stats::clash_resolve`] and
//! [`Stats::chaintoolong`] as extra fields that the classic file does not
//! show (adding columns would change the header CONNTRACK.md fixes).
//!
//! `/proc/net/stat/nf_conntrack` ([`NF_HEADER`], [`format_nf_row`]) shows
//! the same counters in 6.12's layout, for the tools written against it
//! (`search_restart` is 0: lookups here never restart).
//!
//! Those two, with the table's shape, have a file of their own,
//! `/proc/net/stat/ip_conntrack_ext` ([`EXT_HEADER`], [`format_ext`]): one
//! header line and one line of decimal values for the whole namespace
//! (counters summed over the CPUs):
//!
//! ```text
//! entries buckets longest_chain clash_resolve chaintoolong
//! 3 2045 1 0 0
//! ```

use core::fmt::Write;

use crate::procfmt::{write_into, TooSmall};

/// The header line, newline included.
pub const HEADER: &str = "entries  searched found new invalid ignore delete delete_list insert \
insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete\n";

/// Length of one row: 16 fields of 8 digits, 18 spaces (one after each
/// field, two extra), a newline.
pub const ROW_LEN: usize = 16 * 8 + 18 + 1;

/// One counter; the classic ones in column order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Chain entries looked at during lookups. Never counted: 6.12 shows
    /// 0 here too, and counting cost every packet a per-CPU update.
    Searched,
    /// Lookups that found an entry. Never counted, as `searched` (6.12
    /// counts it only for NAT's clash checks).
    Found,
    /// Entries created (allocated for a first packet).
    New,
    /// Packets found INVALID.
    Invalid,
    /// Packets not tracked (already carried an entry, or untracked).
    Ignore,
    /// Entries destroyed.
    Delete,
    /// Entries removed from the table (expired, killed, early-dropped).
    DeleteList,
    /// Entries confirmed into the table.
    Insert,
    /// Confirmations that failed (a clash that could not be resolved).
    InsertFailed,
    /// Packets dropped because the table was full.
    Drop,
    /// Non-ASSURED entries evicted to make room.
    EarlyDrop,
    /// ICMP errors that could not be tied to an entry, and other
    /// protocol-level errors (the kernel's `error`).
    IcmpError,
    /// Expectations created by helpers (always 0: no helpers).
    ExpectNew,
    /// Expectations created (always 0).
    ExpectCreate,
    /// Expectations deleted (always 0).
    ExpectDelete,
    /// Clashes resolved by using the entry already in the table (not in
    /// the classic file).
    ClashResolve,
    /// Inserts refused because a chain was too long (not in the classic
    /// file).
    ChainTooLong,
}

impl Counter {
    /// Every counter: the classic columns, then the extras.
    pub const ALL: [Counter; 17] = [
        Counter::Searched,
        Counter::Found,
        Counter::New,
        Counter::Invalid,
        Counter::Ignore,
        Counter::Delete,
        Counter::DeleteList,
        Counter::Insert,
        Counter::InsertFailed,
        Counter::Drop,
        Counter::EarlyDrop,
        Counter::IcmpError,
        Counter::ExpectNew,
        Counter::ExpectCreate,
        Counter::ExpectDelete,
        Counter::ClashResolve,
        Counter::ChainTooLong,
    ];

    /// The counters of the classic file, in column order (after `entries`).
    pub const CLASSIC: &'static [Counter] = Counter::ALL.split_at(15).0;
}

/// Counters of one CPU (or their sum). Each wraps at `u32::MAX`, as the
/// kernel's `unsigned int` counters do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Stats {
    /// See [`Counter::Searched`].
    pub searched: u32,
    /// See [`Counter::Found`].
    pub found: u32,
    /// See [`Counter::New`].
    pub new: u32,
    /// See [`Counter::Invalid`].
    pub invalid: u32,
    /// See [`Counter::Ignore`].
    pub ignore: u32,
    /// See [`Counter::Delete`].
    pub delete: u32,
    /// See [`Counter::DeleteList`].
    pub delete_list: u32,
    /// See [`Counter::Insert`].
    pub insert: u32,
    /// See [`Counter::InsertFailed`].
    pub insert_failed: u32,
    /// See [`Counter::Drop`].
    pub drop: u32,
    /// See [`Counter::EarlyDrop`].
    pub early_drop: u32,
    /// See [`Counter::IcmpError`].
    pub icmp_error: u32,
    /// See [`Counter::ExpectNew`].
    pub expect_new: u32,
    /// See [`Counter::ExpectCreate`].
    pub expect_create: u32,
    /// See [`Counter::ExpectDelete`].
    pub expect_delete: u32,
    /// See [`Counter::ClashResolve`].
    pub clash_resolve: u32,
    /// See [`Counter::ChainTooLong`].
    pub chaintoolong: u32,
}

impl Stats {
    /// All counters zero.
    pub const ZERO: Stats = Stats {
        searched: 0,
        found: 0,
        new: 0,
        invalid: 0,
        ignore: 0,
        delete: 0,
        delete_list: 0,
        insert: 0,
        insert_failed: 0,
        drop: 0,
        early_drop: 0,
        icmp_error: 0,
        expect_new: 0,
        expect_create: 0,
        expect_delete: 0,
        clash_resolve: 0,
        chaintoolong: 0,
    };

    /// The storage of counter `c`.
    fn slot(&mut self, c: Counter) -> &mut u32 {
        match c {
            Counter::Searched => &mut self.searched,
            Counter::Found => &mut self.found,
            Counter::New => &mut self.new,
            Counter::Invalid => &mut self.invalid,
            Counter::Ignore => &mut self.ignore,
            Counter::Delete => &mut self.delete,
            Counter::DeleteList => &mut self.delete_list,
            Counter::Insert => &mut self.insert,
            Counter::InsertFailed => &mut self.insert_failed,
            Counter::Drop => &mut self.drop,
            Counter::EarlyDrop => &mut self.early_drop,
            Counter::IcmpError => &mut self.icmp_error,
            Counter::ExpectNew => &mut self.expect_new,
            Counter::ExpectCreate => &mut self.expect_create,
            Counter::ExpectDelete => &mut self.expect_delete,
            Counter::ClashResolve => &mut self.clash_resolve,
            Counter::ChainTooLong => &mut self.chaintoolong,
        }
    }

    /// The value of counter `c`.
    pub fn get(&self, c: Counter) -> u32 {
        match c {
            Counter::Searched => self.searched,
            Counter::Found => self.found,
            Counter::New => self.new,
            Counter::Invalid => self.invalid,
            Counter::Ignore => self.ignore,
            Counter::Delete => self.delete,
            Counter::DeleteList => self.delete_list,
            Counter::Insert => self.insert,
            Counter::InsertFailed => self.insert_failed,
            Counter::Drop => self.drop,
            Counter::EarlyDrop => self.early_drop,
            Counter::IcmpError => self.icmp_error,
            Counter::ExpectNew => self.expect_new,
            Counter::ExpectCreate => self.expect_create,
            Counter::ExpectDelete => self.expect_delete,
            Counter::ClashResolve => self.clash_resolve,
            Counter::ChainTooLong => self.chaintoolong,
        }
    }

    /// Adds 1 to counter `c` (wrapping).
    pub fn inc(&mut self, c: Counter) {
        self.add_to(c, 1);
    }

    /// Adds `n` to counter `c` (wrapping).
    pub fn add_to(&mut self, c: Counter, n: u32) {
        let slot = self.slot(c);
        *slot = slot.wrapping_add(n);
    }

    /// Adds every counter of `other` (wrapping): sums per-CPU copies.
    pub fn add(&mut self, other: &Stats) {
        for c in Counter::ALL
        {
            self.add_to(c, other.get(c));
        }
    }
}

/// Where the engine counts: a [`Stats`] on the host, the per-CPU
/// counters of the table in the kernel (each increment goes straight
/// there, so a packet that counts nothing costs nothing).
pub trait Count {
    /// Adds `n` to counter `c` (wrapping).
    fn add_to(&mut self, c: Counter, n: u32);

    /// Adds 1 to counter `c`.
    fn inc(&mut self, c: Counter) {
        self.add_to(c, 1);
    }
}

impl Count for Stats {
    fn add_to(&mut self, c: Counter, n: u32) {
        Stats::add_to(self, c, n);
    }
}

impl Counter {
    /// The counter's position in [`Counter::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The header line of `/proc/net/stat/ip_conntrack_ext`, newline included.
pub const EXT_HEADER: &str = "entries buckets longest_chain clash_resolve chaintoolong\n";

/// Longest line of `/proc/net/stat/ip_conntrack_ext` after the header: five
/// `u32` in decimal (at most 10 digits each), four spaces, a newline.
pub const EXT_ROW_LEN: usize = 5 * 10 + 4 + 1;

/// What `/proc/net/stat/ip_conntrack_ext` shows of one namespace's table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Ext {
    /// Entries allocated (the count of the classic file's `entries`).
    pub entries: u32,
    /// Hash buckets.
    pub buckets: u32,
    /// Entries in the longest bucket chain (expired ones not yet collected
    /// included): what a hash flood would drive up.
    pub longest_chain: u32,
    /// [`Counter::ClashResolve`], summed over the CPUs.
    pub clash_resolve: u32,
    /// [`Counter::ChainTooLong`], summed over the CPUs.
    pub chaintoolong: u32,
}

/// Writes the value line of `/proc/net/stat/ip_conntrack_ext` (columns of
/// [`EXT_HEADER`], decimal); its length or [`TooSmall`].
pub fn format_ext(buf: &mut [u8], x: &Ext) -> Result<usize, TooSmall> {
    write_into(buf, |w| {
        writeln!(
            w,
            "{} {} {} {} {}",
            x.entries, x.buckets, x.longest_chain, x.clash_resolve, x.chaintoolong
        )
    })
}

/// The header line of `/proc/net/stat/nf_conntrack` (6.12's
/// `ct_cpu_seq_show`), newline included.
pub const NF_HEADER: &str = "entries  clashres found new invalid ignore delete chainlength insert \
insert_failed drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n";

/// Length of one row of `/proc/net/stat/nf_conntrack`: 17 fields of 8
/// digits, 18 spaces (two of them doubled), a newline.
pub const NF_ROW_LEN: usize = 17 * 8 + 18 + 1;

/// Writes one CPU's row of `/proc/net/stat/nf_conntrack` as 6.12 does:
/// `entries`, then `clash_resolve` where 2.6 had `searched`, 0 for
/// `new`, `ignore` and `delete`, `chaintoolong` where 2.6 had
/// `delete_list`, and `search_restart` (0) at the end; no trailing space.
/// Its length ([`NF_ROW_LEN`]) or [`TooSmall`].
pub fn format_nf_row(buf: &mut [u8], entries: u32, st: &Stats) -> Result<usize, TooSmall> {
    write_into(buf, |w| {
        write!(w, "{entries:08x}  {:08x} {:08x} {:08x} ", st.clash_resolve, st.found, 0)?;
        write!(w, "{:08x} {:08x} {:08x} {:08x} ", st.invalid, 0, 0, st.chaintoolong)?;
        write!(w, "{:08x} {:08x} {:08x} ", st.insert, st.insert_failed, st.drop)?;
        write!(w, "{:08x} {:08x}  ", st.early_drop, st.icmp_error)?;
        writeln!(w, "{:08x} {:08x} {:08x} {:08x}", st.expect_new, st.expect_create, st.expect_delete, 0)
    })
}

/// Writes [`HEADER`] into `buf`; its length or [`TooSmall`].
pub fn format_header(buf: &mut [u8]) -> Result<usize, TooSmall> {
    write_into(buf, |w| w.write_str(HEADER))
}

/// Writes one CPU's row: `entries` (the global count) and the classic
/// counters of `st`; its length ([`ROW_LEN`]) or [`TooSmall`].
pub fn format_row(buf: &mut [u8], entries: u32, st: &Stats) -> Result<usize, TooSmall> {
    write_into(buf, |w| {
        write!(w, "{entries:08x} ")?;
        for &c in Counter::CLASSIC {
            // 2.6 puts a second space before entries' neighbour and
            // before expect_new.
            if matches!(c, Counter::Searched | Counter::ExpectNew) {
                w.write_str(" ")?;
            }
            write!(w, "{:08x} ", st.get(c))?;
        }
        w.write_str("\n")
    })
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]
mod tests {
    #[test]
    fn counters_are_indexed_in_all_order() {
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index(), i);
        }
    }

    use super::*;
    use std::str;

    fn row(entries: u32, st: &Stats) -> std::string::String {
        let mut buf = [0u8; ROW_LEN];
        let n = format_row(&mut buf, entries, st).unwrap();
        str::from_utf8(&buf[..n]).unwrap().into()
    }

    #[test]
    fn header_is_the_classic_one() {
        let mut buf = [0u8; 200];
        let n = format_header(&mut buf).unwrap();
        assert_eq!(
            str::from_utf8(&buf[..n]).unwrap(),
            "entries  searched found new invalid ignore delete delete_list insert insert_failed \
             drop early_drop icmp_error  expect_new expect_create expect_delete\n"
        );
        assert_eq!(format_header(&mut buf[..n - 1]), Err(TooSmall));
    }

    #[test]
    fn row_matches_2_6_printf() {
        // Each classic counter gets its column number, so a swapped column
        // shows up as a wrong value.
        let mut st = Stats::ZERO;
        for (i, c) in Counter::CLASSIC.iter().copied().enumerate() {
            st.add_to(c, i as u32 + 1);
        }
        st.clash_resolve = 0xdead;
        st.chaintoolong = 0xbeef;
        assert_eq!(
            row(0x1234, &st),
            "00001234  00000001 00000002 00000003 00000004 00000005 00000006 00000007 \
             00000008 00000009 0000000a 0000000b 0000000c  0000000d 0000000e 0000000f \n"
        );
        assert_eq!(row(0, &st).len(), ROW_LEN);
        assert_eq!(st.searched, 1);
        assert_eq!(st.found, 2);
        assert_eq!(st.new, 3);
        assert_eq!(st.invalid, 4);
        assert_eq!(st.ignore, 5);
        assert_eq!(st.delete, 6);
        assert_eq!(st.delete_list, 7);
        assert_eq!(st.insert, 8);
        assert_eq!(st.insert_failed, 9);
        assert_eq!(st.drop, 10);
        assert_eq!(st.early_drop, 11);
        assert_eq!(st.icmp_error, 12);
        assert_eq!(st.expect_new, 13);
        assert_eq!(st.expect_create, 14);
        assert_eq!(st.expect_delete, 15);
    }

    /// 6.12's columns, each counter given its own value so that a
    /// swapped column shows; the header is `ct_cpu_seq_show`'s.
    #[test]
    fn nf_row_is_6_12s() {
        let mut st = Stats::ZERO;
        for (i, c) in Counter::ALL.iter().copied().enumerate() {
            st.add_to(c, i as u32 + 1);
        }
        let mut buf = [0u8; NF_ROW_LEN];
        let n = format_nf_row(&mut buf, 0x1234, &st).unwrap();
        // clashres=16 found=2 new=0 invalid=4 ignore=0 delete=0
        // chainlength=17 insert=8 insert_failed=9 drop=10 early_drop=11
        // icmp_error=12 expect_*=13,14,15 search_restart=0.
        assert_eq!(
            str::from_utf8(&buf[..n]).unwrap(),
            "00001234  00000010 00000002 00000000 00000004 00000000 00000000 00000011 \
             00000008 00000009 0000000a 0000000b 0000000c  0000000d 0000000e 0000000f 00000000\n"
        );
        assert_eq!(n, NF_ROW_LEN);
        assert_eq!(
            NF_HEADER,
            "entries  clashres found new invalid ignore delete chainlength insert insert_failed \
             drop early_drop icmp_error  expect_new expect_create expect_delete search_restart\n"
        );
        assert_eq!(NF_HEADER.split_whitespace().count(), 17);
        // A row the reference kernel printed (35 entries, 4 INVALID, one
        // ICMP error on that CPU).
        let st = Stats { invalid: 4, icmp_error: 1, ..Stats::ZERO };
        let n = format_nf_row(&mut buf, 0x23, &st).unwrap();
        assert_eq!(
            str::from_utf8(&buf[..n]).unwrap(),
            "00000023  00000000 00000000 00000000 00000004 00000000 00000000 00000000 00000000 \
             00000000 00000000 00000000 00000001  00000000 00000000 00000000 00000000\n"
        );
        for short in 0..NF_ROW_LEN {
            assert_eq!(format_nf_row(&mut buf[..short], 1, &st), Err(TooSmall));
        }
    }

    #[test]
    fn header_and_row_columns_line_up() {
        // Same number of whitespace-separated columns.
        let mut buf = [0u8; 200];
        let n = format_header(&mut buf).unwrap();
        let header_cols = str::from_utf8(&buf[..n]).unwrap().split_whitespace().count();
        assert_eq!(row(u32::MAX, &Stats::ZERO).split_whitespace().count(), header_cols);
        assert_eq!(header_cols, 16);
    }

    #[test]
    fn ext_line_has_a_value_per_header_column() {
        let x = Ext {
            entries: 3,
            buckets: 2045,
            longest_chain: 2,
            clash_resolve: 7,
            chaintoolong: 1,
        };
        let mut buf = [0u8; EXT_ROW_LEN];
        let n = format_ext(&mut buf, &x).unwrap();
        assert_eq!(str::from_utf8(&buf[..n]).unwrap(), "3 2045 2 7 1\n");
        let max = Ext {
            entries: u32::MAX,
            buckets: u32::MAX,
            longest_chain: u32::MAX,
            clash_resolve: u32::MAX,
            chaintoolong: u32::MAX,
        };
        let n = format_ext(&mut buf, &max).unwrap();
        assert_eq!(n, EXT_ROW_LEN);
        assert_eq!(
            str::from_utf8(&buf[..n]).unwrap().split_whitespace().count(),
            EXT_HEADER.split_whitespace().count()
        );
        assert_eq!(format_ext(&mut buf[..n - 1], &max), Err(TooSmall));
    }

    #[test]
    fn row_too_small() {
        let mut buf = [0u8; ROW_LEN];
        for n in 0..ROW_LEN {
            assert_eq!(format_row(&mut buf[..n], 1, &Stats::ZERO), Err(TooSmall));
        }
    }

    #[test]
    fn counters_wrap_and_sum() {
        let mut a = Stats::ZERO;
        a.found = u32::MAX;
        a.inc(Counter::Found);
        assert_eq!(a.found, 0);
        a.inc(Counter::ClashResolve);
        a.inc(Counter::ChainTooLong);
        a.add_to(Counter::Insert, 5);
        let mut b = Stats { insert: 7, found: u32::MAX, ..Stats::default() };
        b.add(&a);
        assert_eq!((b.insert, b.found, b.clash_resolve, b.chaintoolong), (12, u32::MAX, 1, 1));
        assert_eq!(b.get(Counter::Insert), 12);
        // Every counter is reachable and distinct.
        let all =
            Counter::CLASSIC.iter().copied().chain([Counter::ClashResolve, Counter::ChainTooLong]);
        for (i, c) in all.enumerate() {
            let mut s = Stats::ZERO;
            s.inc(c);
            let mut sum = Stats::ZERO;
            sum.add(&s);
            sum.add(&s);
            assert_eq!(sum.get(c), 2, "{c:?}");
            let total: u32 = Counter::CLASSIC.iter().map(|&d| sum.get(d)).sum::<u32>()
                + sum.clash_resolve
                + sum.chaintoolong;
            assert_eq!(total, 2, "counter {i}");
        }
    }
}
