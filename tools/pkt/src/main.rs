//! pkt: crafts IPv4 packets field by field and sends them, for tests that
//! need packets no ordinary tool will produce.

mod build;
mod cli;
mod csum;
mod send;

use std::process::ExitCode;

use cli::Delivery;

/// Hex, 16 bytes a line, bytes separated by spaces.
fn dump(pkt: &[u8]) {
    for line in pkt.chunks(16) {
        let words: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        println!("{}", words.join(" "));
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match cli::parse(&argv) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("pkt: {msg}");
            return ExitCode::from(2);
        }
    };

    let pkt = build::packet(&args.spec);
    let sent = match &args.delivery {
        Delivery::Dump => {
            dump(&pkt);
            return ExitCode::SUCCESS;
        }
        Delivery::Raw => send::raw(args.spec.dst, &pkt, args.count),
        Delivery::Packet { iface, dst_mac } => send::packet(iface, *dst_mac, &pkt, args.count),
    };
    match sent {
        Ok(()) => {
            if args.verbose {
                eprintln!("pkt: sent {} packet(s) of {} bytes", args.count, pkt.len());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pkt: send failed: {e}");
            ExitCode::from(1)
        }
    }
}
