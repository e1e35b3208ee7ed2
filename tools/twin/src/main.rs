//! twin: the DNS A/AAAA pattern on demand. For each of COUNT source ports
//! from FIRST on, one UDP socket bound to that port is shared by two
//! threads, which meet at a spin barrier and then both send one datagram
//! to DST:DPORT at the same instant: the first two packets of a new flow,
//! leaving on two CPUs together. A connection tracker sees two unconfirmed
//! entries for one flow and must resolve the clash without losing either
//! packet.
//!
//!     twin DST DPORT FIRST COUNT
//!
//! Prints "sent N of M" (M = 2 x COUNT) and exits 0 when every send
//! succeeded, 1 otherwise, 2 on a bad command line. Thread `i` is pinned to
//! CPU `i` and both spin at the barrier (no sleeping wake-up to wait for),
//! so the two sends of a round start within microseconds of each other; a
//! yield now and then keeps the barrier moving if pinning fails and they
//! share one CPU.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::process::exit;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

/// Spins between two yields while waiting at the barrier.
const SPINS_PER_YIELD: u32 = 4096;

fn usage() -> ! {
    eprintln!("usage: twin DST DPORT FIRST COUNT");
    exit(2)
}

fn arg<T: std::str::FromStr>(v: Option<String>) -> T {
    v.and_then(|s| s.parse().ok()).unwrap_or_else(|| usage())
}

/// Pins the calling thread to CPU `cpu`; false if the kernel refused.
fn pin(cpu: usize) -> bool {
    // SAFETY: `set` is a plain bit mask that CPU_ZERO/CPU_SET initialise;
    // pid 0 names the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Waits until both threads have arrived at barrier `round` (0, 1, ...).
fn meet(arrived: &AtomicUsize, round: usize) {
    arrived.fetch_add(1, Ordering::AcqRel);
    let want = 2 * (round + 1);
    let mut spins = 0u32;
    while arrived.load(Ordering::Acquire) < want {
        std::hint::spin_loop();
        spins += 1;
        if spins == SPINS_PER_YIELD {
            spins = 0;
            thread::yield_now();
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dst: Ipv4Addr = arg(args.next());
    let dport: u16 = arg(args.next());
    let first: u16 = arg(args.next());
    let count: u16 = arg(args.next());
    if args.next().is_some() || first.checked_add(count).is_none() {
        usage();
    }
    let to = SocketAddrV4::new(dst, dport);
    let mut sockets = Vec::with_capacity(usize::from(count));
    for port in first..first + count {
        match UdpSocket::bind((Ipv4Addr::UNSPECIFIED, port)) {
            Ok(s) => sockets.push(s),
            Err(e) => {
                eprintln!("twin: bind port {port}: {e}");
                exit(1);
            }
        }
    }
    let sockets = Arc::new(sockets);
    let arrived = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..2u8)
        .map(|id| {
            let sockets = Arc::clone(&sockets);
            let arrived = Arc::clone(&arrived);
            thread::spawn(move || {
                if !pin(usize::from(id)) {
                    eprintln!("twin: cannot pin thread {id} to CPU {id}; sharing a CPU");
                }
                let mut sent = 0usize;
                for (round, s) in sockets.iter().enumerate() {
                    meet(&arrived, round);
                    if s.send_to(&[b'A' + id], to).is_ok() {
                        sent += 1;
                    }
                }
                sent
            })
        })
        .collect();
    let sent: usize = workers.into_iter().map(|w| w.join().unwrap_or(0)).sum();
    let want = 2 * usize::from(count);
    println!("sent {sent} of {want}");
    exit(if sent == want { 0 } else { 1 });
}
