//! origdst: what a transparent proxy asks first. Listens on PORT, and for
//! each of COUNT connections (default 1) reads the destination the
//! connection had before DNAT/REDIRECT (`getsockopt(SOL_IP,
//! SO_ORIGINAL_DST)`), writes it to the connection and to stdout as
//! "ADDR:PORT", or "error: MESSAGE (errno N)" when the kernel refuses,
//! and closes it. With -6 it listens on IPv6 and asks
//! `getsockopt(SOL_IPV6, IP6T_SO_ORIGINAL_DST)`, writing "[ADDR]:PORT".
//!
//!     origdst [-6] PORT [COUNT]
//!
//! Exits 0 after COUNT connections, 1 on a socket error, 2 on a bad
//! command line.

use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::exit;

fn usage() -> ! {
    eprintln!("usage: origdst [-6] PORT [COUNT]");
    exit(2)
}

/// The connection's SO_ORIGINAL_DST, or the error the kernel gave.
fn original_dst(conn: &TcpStream) -> Result<(Ipv4Addr, u16), std::io::Error> {
    // SAFETY: an all-zero sockaddr_in is a valid value.
    let mut addr: libc::sockaddr_in = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: the fd is open for the borrow of `conn`; `addr` and `len`
    // are live locals and `len` is the size of `addr`.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_IP,
            libc::SO_ORIGINAL_DST,
            (&mut addr as *mut libc::sockaddr_in).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((
        Ipv4Addr::from(u32::from_be(addr.sin_addr.s_addr)),
        u16::from_be(addr.sin_port),
    ))
}

/// `IP6T_SO_ORIGINAL_DST` (linux/netfilter_ipv6/ip6_tables.h).
const IP6T_SO_ORIGINAL_DST: libc::c_int = 80;

/// The connection's IP6T_SO_ORIGINAL_DST, or the error the kernel gave.
fn original_dst6(conn: &TcpStream) -> Result<(Ipv6Addr, u16), std::io::Error> {
    // SAFETY: an all-zero sockaddr_in6 is a valid value.
    let mut addr: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
    // SAFETY: the fd is open for the borrow of `conn`; `addr` and `len`
    // are live locals and `len` is the size of `addr`.
    let rc = unsafe {
        libc::getsockopt(
            conn.as_raw_fd(),
            libc::SOL_IPV6,
            IP6T_SO_ORIGINAL_DST,
            (&mut addr as *mut libc::sockaddr_in6).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((Ipv6Addr::from(addr.sin6_addr.s6_addr), u16::from_be(addr.sin6_port)))
}

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let v6 = args.next_if(|a| a == "-6").is_some();
    let port: u16 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| usage());
    let count: u32 = match args.next() {
        Some(s) => s.parse().unwrap_or_else(|_| usage()),
        None => 1,
    };
    if args.next().is_some() {
        usage();
    }
    let bound = if v6 {
        TcpListener::bind((Ipv6Addr::UNSPECIFIED, port))
    } else {
        TcpListener::bind((Ipv4Addr::UNSPECIFIED, port))
    };
    let listener = bound.unwrap_or_else(|e| {
        eprintln!("origdst: bind port {port}: {e}");
        exit(1)
    });
    for _ in 0..count {
        let (mut conn, _) = listener.accept().unwrap_or_else(|e| {
            eprintln!("origdst: accept: {e}");
            exit(1)
        });
        let found = if v6 {
            original_dst6(&conn).map(|(addr, port)| format!("[{addr}]:{port}"))
        } else {
            original_dst(&conn).map(|(addr, port)| format!("{addr}:{port}"))
        };
        let line = found.unwrap_or_else(|e| format!("error: {e}"));
        println!("{line}");
        // The client may be gone already; the line on stdout still counts.
        let _ = writeln!(conn, "{line}");
    }
}
