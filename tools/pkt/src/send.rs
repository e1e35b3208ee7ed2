//! Delivery: a raw IP socket, or Ethernet frames on an AF_PACKET socket.
//!
//! The raw socket (IPPROTO_RAW, which implies IP_HDRINCL) sends through the
//! sender's routing and netfilter, and the kernel rewrites part of the
//! header (see README.md). The packet socket puts our bytes on the wire
//! exactly as built.

use std::ffi::CString;
use std::io;
use std::mem::{size_of, zeroed};

use crate::build;

/// Closes the descriptor when dropped.
struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor came from socket() and is closed only here.
        unsafe { libc::close(self.0) };
    }
}

fn socket(domain: libc::c_int, kind: libc::c_int, proto: libc::c_int) -> io::Result<Fd> {
    // SAFETY: plain system call with integer arguments.
    let fd = unsafe { libc::socket(domain, kind, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(Fd(fd))
}

/// Sends `buf` `count` times to the address in `addr`.
fn send_all<A>(fd: &Fd, buf: &[u8], addr: &A, count: u32) -> io::Result<()> {
    for _ in 0..count {
        // SAFETY: buf and addr are valid for the lengths passed.
        let n = unsafe {
            libc::sendto(
                fd.0,
                buf.as_ptr().cast(),
                buf.len(),
                0,
                (addr as *const A).cast(),
                size_of::<A>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != buf.len() {
            return Err(io::Error::other(format!("short send: {n} of {} bytes", buf.len())));
        }
    }
    Ok(())
}

/// Moves this thread into the network namespace `name` (a file under
/// /run/netns, as `ip netns add` makes): sockets opened afterwards live
/// there.
pub fn enter_netns(name: &str) -> io::Result<()> {
    if name.contains('/') {
        return Err(io::Error::other(format!("bad namespace name {name:?}")));
    }
    let path = CString::new(format!("/run/netns/{name}"))
        .map_err(|_| io::Error::other("bad namespace name"))?;
    // SAFETY: path is a valid C string.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::other(format!("namespace {name:?}: {e}")));
    }
    let fd = Fd(fd);
    // SAFETY: fd is an open namespace file; setns only reads it.
    if unsafe { libc::setns(fd.0, libc::CLONE_NEWNET) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Keeps this process on the CPU it runs on. A packet sent on a veth is
/// queued to the sending CPU's backlog and usually processed before the
/// send returns; when processing is deferred, a process that moved to
/// another CPU could have its next packet processed first. On one CPU the
/// backlog keeps a batch in order.
pub fn stay_on_this_cpu() -> io::Result<()> {
    // SAFETY: plain system call without arguments.
    let cpu = unsafe { libc::sched_getcpu() };
    let cpu = usize::try_from(cpu).map_err(|_| io::Error::last_os_error())?;
    // SAFETY: cpu_set_t is plain data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { zeroed() };
    // SAFETY: CPU_SET writes a bit of `set` (ignored when out of range).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: set is a valid cpu_set_t of the size passed; pid 0 is us.
    if unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends an IPv6 packet through an IPPROTO_RAW socket (which implies
/// IPV6_HDRINCL) towards `dst`.
pub fn raw6(dst: [u8; 16], pkt: &[u8], count: u32) -> io::Result<()> {
    let fd = socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
    // SAFETY: sockaddr_in6 is plain data; all-zero is a valid value.
    let mut sin6: libc::sockaddr_in6 = unsafe { zeroed() };
    sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
    sin6.sin6_addr.s6_addr = dst;
    send_all(&fd, pkt, &sin6, count)
}

/// Sends an IP packet through an IPPROTO_RAW socket towards `dst`.
pub fn raw(dst: [u8; 4], pkt: &[u8], count: u32) -> io::Result<()> {
    let fd = socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_RAW)?;
    // SAFETY: sockaddr_in is plain data; all-zero is a valid value.
    let mut sin: libc::sockaddr_in = unsafe { zeroed() };
    sin.sin_family = libc::AF_INET as libc::sa_family_t;
    sin.sin_addr.s_addr = u32::from_ne_bytes(dst);
    send_all(&fd, pkt, &sin, count)
}

/// An AF_PACKET socket bound for sending on one interface. Kept open
/// across the packets of a batch: closing one waits for an RCU grace
/// period (`packet_release` calls `synchronize_net`), tens of
/// milliseconds each in an emulated guest.
pub struct PacketSocket {
    fd: Fd,
    ifindex: i32,
    src_mac: [u8; 6],
}

impl PacketSocket {
    /// Opens a socket for sending on `iface` (in the current namespace).
    pub fn open(iface: &str) -> io::Result<PacketSocket> {
        // Protocol 0: this socket only sends, it never receives.
        let fd = socket(libc::AF_PACKET, libc::SOCK_RAW, 0)?;
        let name = CString::new(iface).map_err(|_| io::Error::other("bad interface name"))?;
        // SAFETY: name is a valid C string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::other(format!("no interface {iface:?}")));
        }
        let src_mac = hwaddr(&fd, iface)?;
        let ifindex = i32::try_from(ifindex).map_err(|_| io::Error::other("interface index"))?;
        Ok(PacketSocket { fd, ifindex, src_mac })
    }

    /// Sends an IP packet `count` times as an Ethernet frame to `dst_mac`.
    pub fn send(&self, dst_mac: [u8; 6], pkt: &[u8], count: u32) -> io::Result<()> {
        let frame = build::ethernet(dst_mac, self.src_mac, pkt);
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = build::ethertype(pkt).to_be();
        sll.sll_ifindex = self.ifindex;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&dst_mac);
        send_all(&self.fd, &frame, &sll, count)
    }
}

/// The interface's MAC address (SIOCGIFHWADDR).
fn hwaddr(fd: &Fd, iface: &str) -> io::Result<[u8; 6]> {
    // SAFETY: ifreq is plain data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { zeroed() };
    if iface.len() >= req.ifr_name.len() {
        return Err(io::Error::other(format!("interface name too long: {iface:?}")));
    }
    for (d, s) in req.ifr_name.iter_mut().zip(iface.bytes()) {
        *d = s as libc::c_char;
    }
    // SAFETY: req is a valid ifreq with a NUL-terminated name.
    if unsafe { libc::ioctl(fd.0, libc::SIOCGIFHWADDR, &mut req) } < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR filled the hwaddr member of the union.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0; 6];
    for (m, d) in mac.iter_mut().zip(data.iter()) {
        *m = *d as u8;
    }
    Ok(mac)
}
