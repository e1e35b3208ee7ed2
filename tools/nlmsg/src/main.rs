//! nlmsg: sends one request on a NETLINK_NETFILTER socket and prints what
//! came back, so guest tests can send what conntrack never would
//! (malformed, truncated, oversized or unknown attributes).
//!
//! ```text
//! nlmsg [--shape] [--hold FILE] TYPE FLAGS FAMILY [HEX_ATTRS]
//! ```
//!
//! TYPE is `nlmsg_type` (subsystem << 8 | message), FLAGS are added to
//! NLM_F_REQUEST | NLM_F_ACK, HEX_ATTRS are the attribute bytes after the
//! nfgenmsg header. Prints `messages=N errno=E`: N answers other than the
//! final acknowledgement or NLMSG_DONE, E the error it carried (0 for
//! success). With `--shape`, first one line per answer: its type, flags,
//! family and attribute tree as `TYPE:LEN` with nests in braces (values
//! left out), to compare the layout of two kernels' answers. With
//! `--hold FILE`, after the first buffer of answers it prints `holding`
//! and reads on only once FILE exists: a dump stays in progress meanwhile.

use std::process::ExitCode;

const NETLINK_NETFILTER: i32 = 12;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;

fn parse_num(s: &str) -> Option<u32> {
    match s.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if s.len() % 2 == 1 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok()).collect()
}

/// The attribute tree of `b`: `TYPE:LEN` for each attribute, the nested
/// ones (NLA_F_NESTED) followed by their own tree in braces.
fn shape(mut b: &[u8]) -> String {
    let mut out = Vec::new();
    while b.len() >= 4 {
        let len = u16::from_ne_bytes([b[0], b[1]]) as usize;
        let ty = u16::from_ne_bytes([b[2], b[3]]);
        if len < 4 || len > b.len() {
            out.push("?".to_string());
            break;
        }
        let mut s = format!("{}:{}", ty & 0x3fff, len - 4);
        if ty & 0x8000 != 0 {
            s = format!("{s}{{{}}}", shape(&b[4..len]));
        }
        out.push(s);
        b = &b[((len + 3) & !3).min(b.len())..];
    }
    out.join(" ")
}

fn run(args: &[String]) -> Result<(usize, i32), String> {
    let mut args = args;
    let mut show = false;
    let mut hold: Option<&str> = None;
    loop {
        match args {
            [o, rest @ ..] if o == "--shape" => {
                show = true;
                args = rest;
            }
            [o, f, rest @ ..] if o == "--hold" => {
                hold = Some(f);
                args = rest;
            }
            _ => break,
        }
    }
    let [ty, flags, family, rest @ ..] = args else {
        return Err("usage: nlmsg [--shape] [--hold FILE] TYPE FLAGS FAMILY [HEX_ATTRS]".into());
    };
    let ty = parse_num(ty).ok_or("bad TYPE")? as u16;
    let flags = parse_num(flags).ok_or("bad FLAGS")? as u16 | 0x1 | 0x4;
    let family = parse_num(family).ok_or("bad FAMILY")? as u8;
    let attrs = match rest.first() {
        Some(h) => parse_hex(h).ok_or("bad HEX_ATTRS")?,
        None => Vec::new(),
    };
    let mut msg = Vec::with_capacity(20 + attrs.len());
    msg.extend(((20 + attrs.len()) as u32).to_ne_bytes());
    msg.extend(ty.to_ne_bytes());
    msg.extend(flags.to_ne_bytes());
    msg.extend(1u32.to_ne_bytes());
    msg.extend(0u32.to_ne_bytes());
    msg.extend([family, 0, 0, 0]);
    msg.extend(&attrs);

    // SAFETY: plain socket call; the descriptor is closed at exit.
    let fd = unsafe { libc::socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_CLOEXEC, NETLINK_NETFILTER) };
    if fd < 0 {
        return Err(format!("socket: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: a zeroed sockaddr_nl is the kernel's address (pid 0).
    let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    sa.nl_family = libc::AF_NETLINK as u16;
    // SAFETY: `msg` and `sa` are valid for the sizes given.
    let n = unsafe {
        libc::sendto(
            fd,
            msg.as_ptr().cast(),
            msg.len(),
            0,
            (&sa as *const libc::sockaddr_nl).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if n < 0 {
        return Err(format!("sendto: {}", std::io::Error::last_os_error()));
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut messages = 0usize;
    loop {
        // SAFETY: `buf` is valid for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(format!("recv: {}", std::io::Error::last_os_error()));
        }
        if let Some(f) = hold.take() {
            use std::io::Write;
            println!("holding");
            let _ = std::io::stdout().flush();
            while !std::path::Path::new(f).exists() {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        let mut b = &buf[..n as usize];
        while b.len() >= 16 {
            let len = u32::from_ne_bytes(b[0..4].try_into().unwrap()) as usize;
            let kind = u16::from_ne_bytes(b[4..6].try_into().unwrap());
            if len < 16 || len > b.len() {
                return Err("bad answer".into());
            }
            match kind {
                NLMSG_ERROR => {
                    let e = i32::from_ne_bytes(b[16..20].try_into().unwrap());
                    return Ok((messages, -e));
                }
                NLMSG_DONE => return Ok((messages, 0)),
                _ => {
                    messages += 1;
                    if show && len >= 20 {
                        let flags = u16::from_ne_bytes([b[6], b[7]]);
                        println!("type={kind:#x} flags={flags:#x} family={} {}", b[16], shape(&b[20..len]));
                    }
                }
            }
            b = &b[(len + 3) & !3..];
            if b.len() < 16 {
                break;
            }
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok((n, e)) => {
            println!("messages={n} errno={e}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("nlmsg: {e}");
            ExitCode::from(2)
        }
    }
}
