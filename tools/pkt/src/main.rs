//! pkt: crafts IPv4 and IPv6 packets field by field and sends them, for tests that
//! need packets no ordinary tool will produce.

mod build;
mod build6;
mod cli;
mod csum;
mod dccp;
mod sctp;
mod send;

use std::io::BufRead;
use std::process::ExitCode;

use cli::{Args, Delivery};

/// Hex, 16 bytes a line, bytes separated by spaces.
fn dump(pkt: &[u8]) {
    for line in pkt.chunks(16) {
        let words: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        println!("{}", words.join(" "));
    }
}

/// Why a packet was not sent: a bad command line (exit 2) or a failed send
/// (exit 1).
enum Failure {
    Usage(String),
    Send(String),
}

/// Where packets went last: the namespace entered and the packet socket
/// open there, reused while the following packets go the same way.
#[derive(Default)]
struct Route {
    netns: Option<String>,
    socket: Option<(String, send::PacketSocket)>,
}

impl Route {
    fn enter(&mut self, netns: &Option<String>) -> std::io::Result<()> {
        if let Some(ns) = netns {
            if self.netns.as_ref() != Some(ns) {
                self.socket = None;
                send::enter_netns(ns)?;
                self.netns = Some(ns.clone());
            }
        }
        Ok(())
    }

    fn socket(&mut self, iface: &str) -> std::io::Result<&send::PacketSocket> {
        if self.socket.as_ref().is_none_or(|(name, _)| name != iface) {
            self.socket = Some((iface.to_string(), send::PacketSocket::open(iface)?));
        }
        match &self.socket {
            Some((_, s)) => Ok(s),
            None => Err(std::io::Error::other("no socket")),
        }
    }
}

/// Builds and delivers the packet `args` describes.
fn run(args: &Args, route: &mut Route) -> Result<(), Failure> {
    let pkt = build::packet(&args.spec);
    if args.delivery != Delivery::Dump {
        route.enter(&args.netns).map_err(|e| Failure::Send(format!("--netns: {e}")))?;
    }
    let sent = match &args.delivery {
        Delivery::Dump => {
            dump(&pkt);
            return Ok(());
        }
        Delivery::Raw => match &args.spec.ip6 {
            Some(v6) => send::raw6(v6.dst, &pkt, args.count),
            None => send::raw(args.spec.dst, &pkt, args.count),
        },
        Delivery::Packet { iface, dst_mac } => {
            route.socket(iface).and_then(|s| s.send(*dst_mac, &pkt, args.count))
        }
    };
    match sent {
        Ok(()) => {
            if args.verbose {
                eprintln!("pkt: sent {} packet(s) of {} bytes", args.count, pkt.len());
            }
            Ok(())
        }
        Err(e) => Err(Failure::Send(format!("send failed: {e}"))),
    }
}

/// One packet per line of standard input (`--batch`); stops at the first
/// line that fails, naming it.
fn batch(base: &[String]) -> Result<(), Failure> {
    let mut route = Route::default();
    // In order on the receiving side too (best effort: a failure to pin
    // only loses that guarantee).
    let _ = send::stay_on_this_cpu();
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| Failure::Usage(format!("reading standard input: {e}")))?;
        let Some(argv) = cli::batch_line(base, &line) else {
            continue;
        };
        let at = |msg: String| format!("line {}: {msg}", n + 1);
        match cli::parse(&argv) {
            Ok(Some(args)) => run(&args, &mut route).map_err(|f| match f {
                Failure::Usage(m) => Failure::Usage(at(m)),
                Failure::Send(m) => Failure::Send(at(m)),
            })?,
            Ok(None) => return Err(Failure::Usage(at("--help in a batch line".into()))),
            Err(msg) => return Err(Failure::Usage(at(msg))),
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let (argv, is_batch) = cli::take_batch(&argv);
    let result = if is_batch {
        batch(&argv)
    } else {
        match cli::parse(&argv) {
            Ok(Some(args)) => run(&args, &mut Route::default()),
            Ok(None) => {
                println!("{}", cli::USAGE);
                return ExitCode::SUCCESS;
            }
            Err(msg) => Err(Failure::Usage(msg)),
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("pkt: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Send(msg)) => {
            eprintln!("pkt: {msg}");
            ExitCode::from(1)
        }
    }
}
