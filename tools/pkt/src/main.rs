//! pkt: crafts IPv4 packets field by field and sends them, for tests that
//! need packets no ordinary tool will produce.

mod build;
mod cli;
mod csum;
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

/// Builds and delivers the packet `args` describes.
fn run(args: &Args) -> Result<(), Failure> {
    let pkt = build::packet(&args.spec);
    let sent = match &args.delivery {
        Delivery::Dump => {
            dump(&pkt);
            return Ok(());
        }
        Delivery::Raw => send::raw(args.spec.dst, &pkt, args.count),
        Delivery::Packet { iface, dst_mac } => send::packet(iface, *dst_mac, &pkt, args.count),
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
    for (n, line) in std::io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| Failure::Usage(format!("reading standard input: {e}")))?;
        let Some(argv) = cli::batch_line(base, &line) else {
            continue;
        };
        let at = |msg: String| format!("line {}: {msg}", n + 1);
        match cli::parse(&argv) {
            Ok(Some(args)) => run(&args).map_err(|f| match f {
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
            Ok(Some(args)) => run(&args),
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
