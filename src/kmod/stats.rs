// SPDX-License-Identifier: GPL-2.0

//! Per-CPU statistics of one table (`/proc/net/stat/ip_conntrack`): one
//! array of `u32` counters per possible CPU, in the order of
//! [`COUNTERS`], updated with `this_cpu_add` (safe in any context, no lock)
//! and summed or read per CPU by the `/proc` file.
//!
//! The engine counts through [`CpuCount`] straight into this CPU's array:
//! a packet that counts nothing (one of a known flow) costs nothing.

use crate::ffi;
use crate::stats::{Count, Counter, Stats};
use core::ffi::c_void;
use core::ptr::NonNull;
use kernel::prelude::*;

/// Every counter, in the order of the per-CPU arrays.
const COUNTERS: [Counter; 17] = Counter::ALL;

/// Bytes of one CPU's array.
const ARRAY_BYTES: usize = COUNTERS.len() * core::mem::size_of::<u32>();

/// One table's per-CPU counters; freed on drop.
///
/// # Invariants
///
/// `ptr` is a live per-CPU allocation of [`ARRAY_BYTES`] bytes per CPU.
pub(crate) struct PerCpu {
    ptr: NonNull<c_void>,
}

// SAFETY: the per-CPU memory is only touched through `this_cpu_add` (each
// CPU its own copy, atomically with respect to interrupts on that CPU) and
// copied out for reading; any thread may do both and free it on drop.
unsafe impl Send for PerCpu {}
// SAFETY: see `Send`; `&self` methods only add or copy.
unsafe impl Sync for PerCpu {}

impl PerCpu {
    /// Zeroed counters for every possible CPU.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: allocates; no preconditions.
        let p = unsafe { ffi::ipct_pcpu_alloc(ARRAY_BYTES) };
        // INVARIANT: a non-null result is such an allocation.
        Ok(Self {
            ptr: NonNull::new(p).ok_or(ENOMEM)?,
        })
    }

    /// Adds `n` to counter `c` of this CPU.
    pub(crate) fn inc_by(&self, c: Counter, n: u32) {
        // `Counter::ALL` (= COUNTERS) is in declaration order.
        let i = c.index();
        if i >= COUNTERS.len() {
            return;
        }
        // SAFETY: `ptr` is live with `COUNTERS.len()` counters per CPU
        // (type invariant) and `i` is below that.
        unsafe { ffi::ipct_pcpu_add(self.ptr.as_ptr(), i as u32, n) };
    }

    /// This table's counters as the engine counts into them: each
    /// increment goes to the current CPU's array at once.
    pub(crate) fn counter(&self) -> CpuCount<'_> {
        CpuCount(self)
    }

    /// Adds 1 to counter `c` of this CPU.
    pub(crate) fn inc(&self, c: Counter) {
        self.inc_by(c, 1);
    }

    /// Adds every counter of `s` to this CPU's.
    pub(crate) fn add(&self, s: &Stats) {
        for (i, c) in COUNTERS.iter().enumerate() {
            let n = s.get(*c);
            if n != 0 {
                let i = u32::try_from(i).unwrap_or(0);
                // SAFETY: as in `inc_by`.
                unsafe { ffi::ipct_pcpu_add(self.ptr.as_ptr(), i, n) };
            }
        }
    }

    /// The counters of CPU `cpu` (a possible CPU, see [`possible_cpus`]).
    pub(crate) fn cpu(&self, cpu: u32) -> Stats {
        let mut raw = [0u32; COUNTERS.len()];
        if cpu >= nr_cpu_ids() {
            return Stats::ZERO;
        }
        // SAFETY: `ptr` is live (type invariant), `cpu` is below
        // nr_cpu_ids, and `raw` has room for one CPU's array.
        unsafe {
            ffi::ipct_pcpu_read(
                self.ptr.as_ptr(),
                cpu,
                raw.as_mut_ptr().cast(),
                ARRAY_BYTES,
            )
        };
        let mut s = Stats::ZERO;
        for (c, n) in COUNTERS.iter().zip(raw) {
            s.add_to(*c, n);
        }
        s
    }

    /// The sum over every possible CPU (`/proc/net/stat/ip_conntrack_ext`).
    pub(crate) fn sum(&self) -> Stats {
        let mut s = Stats::ZERO;
        for cpu in possible_cpus() {
            s.add(&self.cpu(cpu));
        }
        s
    }
}

impl Drop for PerCpu {
    fn drop(&mut self) {
        // SAFETY: `ptr` is live (type invariant) and dropped only here.
        unsafe { ffi::ipct_pcpu_free(self.ptr.as_ptr()) };
    }
}

/// The engine's [`Count`] over a table's per-CPU counters.
pub(crate) struct CpuCount<'a>(&'a PerCpu);

impl Count for CpuCount<'_> {
    fn add_to(&mut self, c: Counter, n: u32) {
        self.0.inc_by(c, n);
    }
}

/// `nr_cpu_ids`: one more than the highest possible CPU number.
pub(crate) fn nr_cpu_ids() -> u32 {
    // SAFETY: reads a variable set at boot.
    unsafe { ffi::ipct_nr_cpu_ids() }
}

/// The possible CPUs, in increasing order (one `/proc/net/stat` row each).
pub(crate) fn possible_cpus() -> impl Iterator<Item = u32> {
    let mut prev: i32 = -1;
    core::iter::from_fn(move || {
        // SAFETY: only reads the possible-CPU mask.
        let next = unsafe { ffi::ipct_next_possible_cpu(prev) };
        let next_i = i32::try_from(next).ok()?;
        if next >= nr_cpu_ids() {
            return None;
        }
        prev = next_i;
        Some(next)
    })
}
