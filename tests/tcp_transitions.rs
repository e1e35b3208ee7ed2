//! TCP state machine and window tracking, checked against Linux 6.12's
//! `nf_conntrack_proto_tcp.c`: the transition table cell by cell, then
//! behaviour through `Tcp::update` on small TCP conversations.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use ip_conntrack::config::{secs, Config, Timeout};
use ip_conntrack::entry::Status;
use ip_conntrack::invalid::Invalid;
use ip_conntrack::packet::{Segment, TcpFlags};
use ip_conntrack::proto::tcp::{check_flags, transition, PacketKind, Tcp, TcpState, Transition};
use ip_conntrack::proto::tcp_window::{after, before, Flags};
use ip_conntrack::proto::Update;
use ip_conntrack::tuple::Dir;

const SYN: u8 = TcpFlags::SYN;
const ACK: u8 = TcpFlags::ACK;
const FIN: u8 = TcpFlags::FIN;
const RST: u8 = TcpFlags::RST;
const PSH: u8 = TcpFlags::PSH;
const URG: u8 = TcpFlags::URG;
const ECE: u8 = TcpFlags::ECE;
const CWR: u8 = TcpFlags::CWR;

const O: Dir = Dir::Original;
const R: Dir = Dir::Reply;

// ---------------------------------------------------------------------------
// The table, transcribed from `tcp_conntracks` in Linux 6.12
// (net/netfilter/nf_conntrack_proto_tcp.c), rows in Linux's order.

/// Columns, as in Linux: sNO sSS sSR sES sFW sCW sLA sTW sCL sS2.
const STATES: [TcpState; 10] = [
    TcpState::None,
    TcpState::SynSent,
    TcpState::SynRecv,
    TcpState::Established,
    TcpState::FinWait,
    TcpState::CloseWait,
    TcpState::LastAck,
    TcpState::TimeWait,
    TcpState::Close,
    TcpState::SynSent2,
];

/// Rows, as in Linux: syn, synack, fin, ack, rst, none.
const KINDS: [PacketKind; 6] = [
    PacketKind::Syn,
    PacketKind::SynAck,
    PacketKind::Fin,
    PacketKind::Ack,
    PacketKind::Rst,
    PacketKind::None,
];

#[rustfmt::skip]
const LINUX_TABLE: [[&str; 6]; 2] = [
    [
        // ORIGINAL  sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        /* syn    */ "sSS sSS sIG sIG sIG sIG sIG sSS sSS sS2",
        /* synack */ "sIV sIV sSR sIV sIV sIV sIV sIV sIV sSR",
        /* fin    */ "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV",
        /* ack    */ "sES sIV sES sES sCW sCW sTW sTW sCL sIV",
        /* rst    */ "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL",
        /* none   */ "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV",
    ],
    [
        // REPLY     sNO  sSS  sSR  sES  sFW  sCW  sLA  sTW  sCL  sS2
        /* syn    */ "sIV sS2 sIV sIV sIV sIV sIV sSS sIV sS2",
        /* synack */ "sIV sSR sIG sIG sIG sIG sIG sIG sIG sSR",
        /* fin    */ "sIV sIV sFW sFW sLA sLA sLA sTW sCL sIV",
        /* ack    */ "sIV sIG sSR sES sCW sCW sTW sTW sCL sIG",
        /* rst    */ "sIV sCL sCL sCL sCL sCL sCL sCL sCL sCL",
        /* none   */ "sIV sIV sIV sIV sIV sIV sIV sIV sIV sIV",
    ],
];

fn linux_cell(token: &str) -> Transition {
    match token {
        "sNO" => Transition::To(TcpState::None),
        "sSS" => Transition::To(TcpState::SynSent),
        "sSR" => Transition::To(TcpState::SynRecv),
        "sES" => Transition::To(TcpState::Established),
        "sFW" => Transition::To(TcpState::FinWait),
        "sCW" => Transition::To(TcpState::CloseWait),
        "sLA" => Transition::To(TcpState::LastAck),
        "sTW" => Transition::To(TcpState::TimeWait),
        "sCL" => Transition::To(TcpState::Close),
        "sS2" => Transition::To(TcpState::SynSent2),
        "sIV" => Transition::Invalid,
        "sIG" => Transition::Ignore,
        other => panic!("bad token {other}"),
    }
}

#[test]
fn table_matches_linux_every_cell() {
    let mut checked = 0;
    let mut wrong = Vec::new();
    for (d, dir) in [O, R].into_iter().enumerate() {
        for (k, kind) in KINDS.into_iter().enumerate() {
            let tokens: Vec<&str> = LINUX_TABLE[d][k].split_whitespace().collect();
            assert_eq!(tokens.len(), STATES.len());
            for (s, state) in STATES.into_iter().enumerate() {
                let want = linux_cell(tokens[s]);
                let got = transition(dir, kind, state);
                if got != want {
                    wrong.push(format!(
                        "{dir:?} {kind:?} {}: {got:?}, Linux {want:?}",
                        state.name()
                    ));
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 120);
    assert!(
        wrong.is_empty(),
        "cells differing from Linux:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn listen_is_never_a_table_state() {
    for dir in [O, R] {
        for kind in KINDS {
            assert_eq!(transition(dir, kind, TcpState::Listen), Transition::Invalid);
        }
    }
}

#[test]
fn state_names_as_proc_shows_them() {
    let names: Vec<&str> = STATES.iter().map(|s| s.name()).collect();
    assert_eq!(
        names,
        [
            "NONE",
            "SYN_SENT",
            "SYN_RECV",
            "ESTABLISHED",
            "FIN_WAIT",
            "CLOSE_WAIT",
            "LAST_ACK",
            "TIME_WAIT",
            "CLOSE",
            "SYN_SENT2"
        ]
    );
    assert_eq!(TcpState::Listen.name(), "LISTEN");
}

#[test]
fn classifier_priority() {
    let kind = |f: u8| PacketKind::of(TcpFlags(f));
    assert_eq!(kind(RST | SYN | ACK | FIN), PacketKind::Rst);
    assert_eq!(kind(RST | ACK), PacketKind::Rst);
    assert_eq!(kind(SYN | ACK | FIN), PacketKind::SynAck);
    assert_eq!(kind(SYN | FIN), PacketKind::Syn);
    assert_eq!(kind(SYN), PacketKind::Syn);
    assert_eq!(kind(FIN | ACK), PacketKind::Fin);
    assert_eq!(kind(FIN), PacketKind::Fin);
    assert_eq!(kind(ACK | PSH), PacketKind::Ack);
    assert_eq!(kind(PSH | URG), PacketKind::None);
    assert_eq!(kind(0), PacketKind::None);
}

// ---------------------------------------------------------------------------
// Stateless flag checks (Linux's tcp_valid_flags).

fn flags_ok(f: u8) -> bool {
    check_flags(&Segment {
        flags: TcpFlags(f),
        ..Segment::default()
    })
    .is_ok()
}

#[test]
fn valid_flag_combinations() {
    for f in [
        SYN,
        SYN | URG,
        SYN | ACK,
        RST,
        RST | ACK,
        FIN | ACK,
        FIN | ACK | URG,
        ACK,
        ACK | URG,
    ] {
        assert!(flags_ok(f), "{f:#04x}");
        // PSH, ECE and CWR never matter.
        assert!(flags_ok(f | PSH | ECE | CWR), "{f:#04x} + PSH/ECE/CWR");
        assert!(flags_ok(f | ECE), "{f:#04x} + ECE");
    }
}

#[test]
fn invalid_flag_combinations() {
    for (f, what) in [
        (SYN | FIN, "SYN+FIN"),
        (SYN | FIN | ACK, "SYN+FIN+ACK"),
        (SYN | RST, "SYN+RST"),
        (SYN | RST | ACK, "SYN+RST+ACK"),
        (SYN | ACK | URG, "SYN+ACK+URG"),
        (0, "no flags"),
        (PSH, "PSH only"),
        (URG, "URG only"),
        (ECE | CWR, "ECE+CWR only"),
        (FIN, "FIN without ACK"),
        (FIN | URG, "FIN+URG without ACK"),
        (FIN | PSH | URG, "Xmas without ACK"),
        (RST | FIN, "RST+FIN"),
        (RST | FIN | ACK, "RST+FIN+ACK"),
        (RST | URG, "RST+URG"),
        (0xff, "everything"),
    ] {
        assert_eq!(
            check_flags(&Segment {
                flags: TcpFlags(f),
                ..Segment::default()
            }),
            Err(Invalid::BadTcpFlags),
            "{what}"
        );
    }
}

#[test]
fn flag_check_exhaustive_against_linux_list() {
    // Linux's table, indexed by FIN|SYN|RST|ACK|URG bits.
    let linux_valid = [0x02, 0x22, 0x12, 0x04, 0x14, 0x11, 0x31, 0x10, 0x30];
    for f in 0..=255u8 {
        let masked = f & !(PSH | ECE | CWR);
        assert_eq!(flags_ok(f), linux_valid.contains(&masked), "{f:#04x}");
    }
}

// ---------------------------------------------------------------------------
// A tiny TCP conversation: tracks both endpoints' next sequence numbers and
// feeds their segments to the tracker.

const CLIENT_ISN: u32 = 1_000_000;
const SERVER_ISN: u32 = 3_000_000_000;

struct Conv {
    tcp: Option<Tcp>,
    status: Status,
    cfg: Config,
    /// Next sequence number each side will send (index: Dir).
    next: [u32; 2],
    /// Raw window each side advertises.
    win: [u16; 2],
    /// Window scale option each side puts on its SYN.
    wscale: [Option<u8>; 2],
    /// SACK-permitted on each side's SYN.
    sack_perm: [bool; 2],
}

impl Conv {
    fn new(cfg: Config) -> Conv {
        Conv::with_isn(cfg, CLIENT_ISN, SERVER_ISN)
    }

    fn with_isn(cfg: Config, client: u32, server: u32) -> Conv {
        Conv {
            tcp: None,
            status: Status::default(),
            cfg,
            next: [client, server],
            win: [64240, 65160],
            wscale: [None, None],
            sack_perm: [false, false],
        }
    }

    fn tcp(&self) -> &Tcp {
        self.tcp.as_ref().expect("connection opened")
    }

    fn state(&self) -> TcpState {
        self.tcp().state()
    }

    fn assured(&self) -> bool {
        self.status.has(Status::ASSURED)
    }

    /// The segment side `dir` would send now: its next sequence number,
    /// acknowledging everything the other side sent when ACK is set.
    fn seg(&self, dir: Dir, flags: u8, len: u32) -> Segment {
        let i = dir.index();
        let syn = flags & SYN != 0;
        Segment {
            seq: self.next[i],
            ack: if flags & ACK != 0 {
                self.next[1 - i]
            } else {
                0
            },
            window: self.win[i],
            flags: TcpFlags(flags),
            payload_len: len,
            wscale: if syn { self.wscale[i] } else { None },
            sack_perm: syn && self.sack_perm[i],
            sack_edge: None,
        }
    }

    /// Feeds `seg` to the tracker (opening the entry on the first packet,
    /// as the tracker does) without moving the endpoints.
    fn feed(&mut self, dir: Dir, seg: &Segment) -> Update {
        match self.tcp.as_mut() {
            Some(t) => t.update(dir, seg, &mut self.status, &self.cfg),
            None => {
                assert_eq!(dir, O, "the first packet opens the entry");
                let mut t = match Tcp::new(seg, &self.cfg) {
                    Ok(t) => t,
                    Err(why) => return Update::Invalid(why),
                };
                assert_eq!(t.state(), TcpState::None);
                let out = t.update(dir, seg, &mut self.status, &self.cfg);
                self.tcp = Some(t);
                out
            }
        }
    }

    /// Side `dir` sends a segment: the tracker sees it and the sender's
    /// sequence number moves on (whatever the tracker thinks of it).
    fn send(&mut self, dir: Dir, flags: u8, len: u32) -> Update {
        let seg = self.seg(dir, flags, len);
        let out = self.feed(dir, &seg);
        self.advance(dir, &seg);
        out
    }

    fn advance(&mut self, dir: Dir, seg: &Segment) {
        let used = seg.payload_len + u32::from(seg.flags.has(SYN)) + u32::from(seg.flags.has(FIN));
        let i = dir.index();
        self.next[i] = seg.seq.wrapping_add(used);
    }

    /// SYN, SYN/ACK, ACK.
    fn handshake(&mut self) {
        assert_eq!(self.send(O, SYN, 0), accept(self.cfg.timeouts.get(Timeout::TcpSynSent)));
        assert_eq!(
            self.send(R, SYN | ACK, 0),
            accept(self.cfg.timeouts.get(Timeout::TcpSynRecv))
        );
        assert_eq!(
            self.send(O, ACK, 0),
            accept(self.cfg.timeouts.get(Timeout::TcpEstablished))
        );
        assert_eq!(self.state(), TcpState::Established);
        assert!(self.assured());
    }
}

fn accept(s: u32) -> Update {
    Update::Accept { timeout: secs(s) }
}

fn established() -> Conv {
    let mut c = Conv::new(Config::DEFAULT);
    c.handshake();
    c
}

fn no_loose() -> Config {
    Config {
        tcp_loose: false,
        ..Config::DEFAULT
    }
}

fn liberal() -> Config {
    Config {
        tcp_be_liberal: true,
        ..Config::DEFAULT
    }
}

// ---------------------------------------------------------------------------
// Opening.

#[test]
fn syn_opens_in_syn_sent() {
    let mut c = Conv::new(Config::DEFAULT);
    assert_eq!(c.send(O, SYN, 0), accept(120));
    assert_eq!(c.state(), TcpState::SynSent);
    assert!(!c.status.has(Status::SEEN_REPLY));
    assert!(!c.assured());
    let p = c.tcp().peer(O);
    assert_eq!(p.end(), CLIENT_ISN + 1);
    assert_eq!(p.max_win(), 64240);
}

#[test]
fn syn_only_stays_syn_sent_and_retransmissions_do_not_refresh() {
    let mut c = Conv::new(Config::DEFAULT);
    c.send(O, SYN, 0);
    let again = Segment {
        seq: CLIENT_ISN,
        ..c.seg(O, SYN, 0)
    };
    for _ in 0..5 {
        assert_eq!(c.feed(O, &again), Update::Ignore);
        assert_eq!(c.state(), TcpState::SynSent);
    }
}

#[test]
fn only_syn_and_pickups_open_entries() {
    let cfg = Config::DEFAULT;
    let seg = |f: u8| Segment {
        seq: 5,
        ack: 7,
        window: 100,
        flags: TcpFlags(f),
        ..Segment::default()
    };
    assert!(Tcp::new(&seg(SYN), &cfg).is_ok());
    assert!(Tcp::new(&seg(SYN | URG), &cfg).is_ok());
    assert!(Tcp::new(&seg(ACK), &cfg).is_ok());
    assert!(Tcp::new(&seg(ACK | PSH), &cfg).is_ok());
    for f in [SYN | ACK, FIN | ACK, RST, RST | ACK, 0] {
        assert_eq!(
            Tcp::new(&seg(f), &cfg).err(),
            Some(Invalid::TcpNotNew),
            "{f:#04x}"
        );
    }
    assert!(Tcp::new(&seg(SYN), &no_loose()).is_ok());
    assert_eq!(
        Tcp::new(&seg(ACK), &no_loose()).err(),
        Some(Invalid::TcpNotNew)
    );
}

#[test]
fn full_handshake_assures() {
    let mut c = Conv::new(Config::DEFAULT);
    assert_eq!(c.send(O, SYN, 0), accept(120));
    assert_eq!(c.send(R, SYN | ACK, 0), accept(60));
    assert_eq!(c.state(), TcpState::SynRecv);
    assert!(c.status.has(Status::SEEN_REPLY));
    assert!(!c.assured());
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
    assert_eq!(c.state(), TcpState::Established);
    assert!(c.assured());
    // Data both ways keeps it there.
    assert_eq!(c.send(O, ACK | PSH, 100), accept(300)); // unacknowledged
    assert_eq!(c.send(R, ACK | PSH, 500), accept(300));
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn ack_before_synack_is_invalid() {
    let mut c = Conv::new(Config::DEFAULT);
    c.send(O, SYN, 0);
    assert_eq!(
        c.send(O, ACK, 0),
        Update::Invalid(Invalid::TcpBadTransition)
    );
    assert_eq!(c.state(), TcpState::SynSent);
}

#[test]
fn rst_answering_syn_kills() {
    let mut c = Conv::new(Config::DEFAULT);
    c.send(O, SYN, 0);
    // Linux's answer on a closed port: seq 0, ack ISN+1.
    let rst = Segment {
        seq: 0,
        ..c.seg(R, RST | ACK, 0)
    };
    assert_eq!(c.feed(R, &rst), Update::Kill);
}

#[test]
fn rst_answering_syn_kills_even_if_caller_set_seen_reply_first() {
    let mut c = Conv::new(Config::DEFAULT);
    c.send(O, SYN, 0);
    c.status.set(Status::SEEN_REPLY);
    let rst = c.seg(R, RST | ACK, 0);
    assert_eq!(c.feed(R, &rst), Update::Kill);
}

#[test]
fn synack_after_syn_retransmitted_with_new_isn() {
    let mut c = Conv::new(Config::DEFAULT);
    c.send(O, SYN, 0);
    // The client restarts with a higher ISN: taken as the new start.
    c.next[0] = CLIENT_ISN + 50_000;
    assert_eq!(c.send(O, SYN, 0), Update::Ignore);
    assert_eq!(c.tcp().peer(O).end(), CLIENT_ISN + 50_001);
    assert_eq!(c.send(R, SYN | ACK, 0), accept(60));
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
    assert!(c.assured());
}

// ---------------------------------------------------------------------------
// Simultaneous open.

#[test]
fn simultaneous_open_through_syn_sent2() {
    let mut c = Conv::new(Config::DEFAULT);
    c.send(O, SYN, 0);
    // Before any reply, a SYN in SYN_SENT never refreshes the entry (Linux
    // does not look at its direction), but it does move it along.
    assert_eq!(c.send(R, SYN, 0), Update::Ignore);
    assert_eq!(c.state(), TcpState::SynSent2);
    // Each side answers the other's SYN with a SYN/ACK repeating its ISN.
    let synack = Segment {
        seq: CLIENT_ISN,
        ..c.seg(O, SYN | ACK, 0)
    };
    assert_eq!(c.feed(O, &synack), accept(60));
    assert_eq!(c.state(), TcpState::SynRecv);
    // The other side's SYN/ACK crosses it: ignored.
    let synack = Segment {
        seq: SERVER_ISN,
        ..c.seg(R, SYN | ACK, 0)
    };
    assert_eq!(c.feed(R, &synack), Update::Ignore);
    assert_eq!(c.state(), TcpState::SynRecv);
    // Its ACK completes the simultaneous open.
    assert_eq!(c.send(R, ACK, 0), accept(432_000));
    assert_eq!(c.state(), TcpState::Established);
    assert!(c.assured());
}

// ---------------------------------------------------------------------------
// Closing.

#[test]
fn client_close_ends_in_time_wait() {
    let mut c = established();
    assert_eq!(c.send(O, FIN | ACK, 0), accept(120));
    assert_eq!(c.state(), TcpState::FinWait);
    assert!(c.tcp().peer(O).flags().has(Flags::CLOSE_INIT));
    assert_eq!(c.send(R, ACK, 0), accept(60));
    assert_eq!(c.state(), TcpState::CloseWait);
    assert_eq!(c.send(R, FIN | ACK, 0), accept(30));
    assert_eq!(c.state(), TcpState::LastAck);
    assert_eq!(c.send(O, ACK, 0), accept(120));
    assert_eq!(c.state(), TcpState::TimeWait);
    assert!(c.assured());
    // A retransmitted last ACK stays there.
    let last = Segment {
        seq: c.next[0],
        ack: c.next[1],
        ..c.seg(O, ACK, 0)
    };
    assert_eq!(c.feed(O, &last), accept(120));
    assert_eq!(c.state(), TcpState::TimeWait);
}

#[test]
fn server_close_with_combined_fin_ack() {
    let mut c = established();
    assert_eq!(c.send(R, FIN | ACK, 0), accept(120));
    assert_eq!(c.state(), TcpState::FinWait);
    // FIN acknowledging the FIN: straight to LAST_ACK.
    assert_eq!(c.send(O, FIN | ACK, 0), accept(30));
    assert_eq!(c.state(), TcpState::LastAck);
    assert_eq!(c.send(R, ACK, 0), accept(120));
    assert_eq!(c.state(), TcpState::TimeWait);
}

#[test]
fn syn_in_time_wait_reopens() {
    let mut c = established();
    c.send(O, FIN | ACK, 0);
    c.send(R, FIN | ACK, 0);
    c.send(O, ACK, 0);
    assert_eq!(c.state(), TcpState::TimeWait);
    c.next[0] = c.next[0].wrapping_add(100_000);
    let syn = c.seg(O, SYN, 0);
    assert_eq!(c.feed(O, &syn), Update::Reopen);
    // From the server's side too (roles switched).
    let reply_syn = c.seg(R, SYN, 0);
    assert_eq!(c.feed(R, &reply_syn), Update::Reopen);
}

#[test]
fn syn_in_close_after_own_rst_reopens_but_not_after_peer_rst() {
    let mut c = established();
    assert_eq!(c.send(O, RST, 0), accept(10));
    assert_eq!(c.state(), TcpState::Close);
    let syn = c.seg(O, SYN, 0);
    assert_eq!(c.feed(O, &syn), Update::Reopen);

    let mut c = established();
    assert_eq!(c.send(R, RST, 0), accept(10));
    let syn = c.seg(O, SYN, 0);
    // We might be the ones out of sync: let it pass, wait for the answer.
    assert_eq!(c.feed(O, &syn), Update::Ignore);
    assert_eq!(c.state(), TcpState::Close);
}

// ---------------------------------------------------------------------------
// RST checks.

#[test]
fn rst_with_exact_seq_closes() {
    let mut c = established();
    c.send(R, ACK | PSH, 1000);
    c.send(O, ACK, 0);
    assert_eq!(c.send(R, RST, 0), accept(10));
    assert_eq!(c.state(), TcpState::Close);
}

#[test]
fn rst_below_acked_is_invalid_and_changes_nothing() {
    let mut c = established();
    c.send(R, ACK | PSH, 1000);
    c.send(O, ACK, 0);
    let before_rst = *c.tcp();
    let rst = Segment {
        seq: c.next[1].wrapping_sub(500),
        ..c.seg(R, RST, 0)
    };
    assert_eq!(c.feed(R, &rst), Update::Invalid(Invalid::TcpBadRst));
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(*c.tcp(), before_rst);
}

#[test]
fn rst_out_of_window_is_invalid_and_state_unchanged() {
    let mut c = established();
    let rst = Segment {
        seq: c.next[1].wrapping_add(10_000_000),
        ..c.seg(R, RST, 0)
    };
    assert_eq!(c.feed(R, &rst), Update::Invalid(Invalid::TcpOutOfWindow));
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn rst_in_window_but_inexact_keeps_established_with_short_timeout() {
    let mut c = established();
    let rst = Segment {
        seq: c.next[1].wrapping_add(100),
        ..c.seg(R, RST, 0)
    };
    // The endpoint will answer with a challenge ACK; keep the connection.
    assert_eq!(c.feed(R, &rst), accept(300));
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn rst_after_data_train_closes() {
    let mut c = established();
    c.send(O, ACK | PSH, 300);
    c.send(R, ACK | PSH, 19);
    // R then RST at the end of its own data, before the client ACKs it.
    assert_eq!(c.send(R, RST | ACK, 0), accept(10));
    assert_eq!(c.state(), TcpState::Close);
}

#[test]
fn out_of_window_fin_and_rst_from_both_sides_shorten_timeout() {
    let mut c = established();
    let far = |c: &Conv, d: Dir, f: u8| Segment {
        seq: c.next[d.index()].wrapping_add(50_000_000),
        ..c.seg(d, f, 0)
    };
    let fin = far(&c, O, FIN | ACK);
    assert_eq!(c.feed(O, &fin), Update::Invalid(Invalid::TcpOutOfWindow));
    let rst = far(&c, R, RST);
    assert_eq!(
        c.feed(R, &rst),
        Update::InvalidShorten {
            reason: Invalid::TcpOutOfWindow,
            timeout: secs(300)
        }
    );
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn reset_after_challenge_ack_in_syn_sent() {
    let mut c = Conv::new(Config::DEFAULT);
    c.send(O, SYN, 0);
    // The server believes in an older connection: challenge ACK.
    let challenge = Segment {
        seq: 777,
        ack: 555,
        ..c.seg(R, ACK, 0)
    };
    assert_eq!(c.feed(R, &challenge), Update::Ignore);
    assert_eq!(c.state(), TcpState::SynSent);
    // The client resets the old connection with the acknowledged number.
    let rst = Segment {
        seq: 555,
        ..c.seg(O, RST, 0)
    };
    assert_eq!(c.feed(O, &rst), accept(10));
    assert_eq!(c.state(), TcpState::Close);
}

// ---------------------------------------------------------------------------
// Out-of-sync recovery and challenge ACKs.

#[test]
fn new_syn_on_established_resyncs_on_matching_synack() {
    let mut c = established();
    // The client rebooted and reuses the ports with a new ISN.
    c.next = [7_000_000, 9_000_000];
    assert_eq!(c.send(O, SYN, 0), Update::Ignore);
    assert_eq!(c.state(), TcpState::Established);
    // The server agrees: we follow.
    assert_eq!(c.send(R, SYN | ACK, 0), accept(60));
    assert_eq!(c.state(), TcpState::SynRecv);
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
    assert_eq!(c.state(), TcpState::Established);
    assert_eq!(c.send(O, ACK | PSH, 10), accept(300));
}

#[test]
fn challenge_ack_in_last_ack_is_not_the_last_ack() {
    let mut c = established();
    c.send(O, FIN | ACK, 0);
    c.send(R, FIN | ACK, 0);
    assert_eq!(c.state(), TcpState::LastAck);
    // A new SYN from the client before its last ACK got through...
    let syn = Segment {
        seq: c.next[0].wrapping_add(1_000_000),
        ..c.seg(O, SYN, 0)
    };
    assert_eq!(c.feed(O, &syn), Update::Ignore);
    // ... draws a challenge ACK from the server: not the end.
    let chal = c.seg(R, ACK, 0);
    assert_eq!(c.feed(R, &chal), Update::Ignore);
    assert_eq!(c.state(), TcpState::LastAck);
    // The real last ACK.
    assert_eq!(c.send(O, ACK, 0), accept(120));
    assert_eq!(c.state(), TcpState::TimeWait);
}

// ---------------------------------------------------------------------------
// tcp_loose and tcp_be_liberal.

#[test]
fn loose_pickup_becomes_assured_once_answered() {
    let mut c = Conv::new(Config::DEFAULT);
    // Mid-stream: no SYN seen.
    assert_eq!(c.send(O, ACK, 0), accept(300));
    assert_eq!(c.state(), TcpState::Established);
    assert!(!c.assured());
    assert!(
        c.tcp().peer(O).flags().has(Flags::BE_LIBERAL),
        "picked up: liberal"
    );
    // The answer: still capped, not assured yet (no reply seen before it).
    assert_eq!(c.send(R, ACK, 0), accept(300));
    assert!(!c.assured());
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
    assert!(c.assured());
}

#[test]
fn loose_off_refuses_pickup() {
    let mut c = Conv::new(no_loose());
    assert_eq!(c.send(O, ACK, 0), Update::Invalid(Invalid::TcpNotNew));
    assert!(c.tcp.is_none());
    let mut c = Conv::new(no_loose());
    assert_eq!(c.send(O, SYN, 0), accept(120));
}

#[test]
fn be_liberal_accepts_out_of_window_data() {
    for (cfg, want) in [
        (Config::DEFAULT, Update::Invalid(Invalid::TcpOutOfWindow)),
        (liberal(), accept(432_000)),
    ] {
        let mut c = Conv::new(cfg);
        c.handshake();
        let far = Segment {
            seq: c.next[0].wrapping_add(5_000_000),
            ..c.seg(O, ACK, 100)
        };
        assert_eq!(c.feed(O, &far), want);
        assert_eq!(c.state(), TcpState::Established);
    }
}

#[test]
fn be_liberal_still_checks_rst_sequence() {
    let mut c = Conv::new(liberal());
    c.handshake();
    c.send(R, ACK | PSH, 1000);
    c.send(O, ACK, 0);
    let rst = Segment {
        seq: c.next[1].wrapping_sub(500),
        ..c.seg(R, RST, 0)
    };
    assert_eq!(c.feed(R, &rst), Update::Invalid(Invalid::TcpBadRst));
}

// ---------------------------------------------------------------------------
// Window tracking.

#[test]
fn in_window_data_is_accepted() {
    let mut c = established();
    for _ in 0..20 {
        assert_eq!(c.send(O, ACK | PSH, 1000), accept(300));
        assert_eq!(c.send(R, ACK, 0), accept(432_000));
    }
    assert_eq!(c.tcp().peer(O).end(), c.next[0]);
}

#[test]
fn data_beyond_the_window_is_invalid() {
    let mut c = established();
    let too_far = Segment {
        seq: c.next[0].wrapping_add(200_000),
        ..c.seg(O, ACK, 1000)
    };
    assert_eq!(
        c.feed(O, &too_far),
        Update::Invalid(Invalid::TcpOutOfWindow)
    );
    // ACKing data never sent is invalid too.
    let bad_ack = Segment {
        ack: c.next[1].wrapping_add(10_000),
        ..c.seg(O, ACK, 0)
    };
    assert_eq!(
        c.feed(O, &bad_ack),
        Update::Invalid(Invalid::TcpOutOfWindow)
    );
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn slight_overshoot_passes_without_refresh() {
    let mut c = established();
    // Server window is 65160: send a segment starting at the right edge.
    let edge = c.tcp().peer(O).max_end();
    let seg = Segment {
        seq: edge.wrapping_add(1),
        ..c.seg(O, ACK, 1000)
    };
    assert_eq!(c.feed(O, &seg), Update::Ignore);
    // Its data is now known, so the server may acknowledge it.
    assert_eq!(c.tcp().peer(O).end(), edge.wrapping_add(1001));
}

#[test]
fn retransmission_of_acked_data_is_not_invalid() {
    let mut c = established();
    let first = c.seg(O, ACK | PSH, 1000);
    c.send(O, ACK | PSH, 1000);
    c.send(R, ACK, 0);
    // A recent retransmission is simply accepted.
    assert!(matches!(c.feed(O, &first), Update::Accept { .. }));
    // Push the stream far ahead, then retransmit the very first segment:
    // older than a window, it passes without refreshing the entry.
    for _ in 0..100 {
        c.send(O, ACK | PSH, 1400);
        c.send(R, ACK, 0);
    }
    assert_eq!(c.feed(O, &first), Update::Ignore);
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn window_scaling_both_sides_large_transfer_stays_valid() {
    let mut c = Conv::new(Config::DEFAULT);
    c.wscale = [Some(7), Some(7)];
    c.handshake();
    assert_eq!(c.tcp().peer(O).scale(), 7);
    assert_eq!(c.tcp().peer(R).scale(), 7);
    // The client advertises 2000 << 7 = 256000 bytes.
    c.win[0] = 2000;
    c.send(O, ACK, 0);
    // 20 MB from the server with up to ~190 kB in flight.
    let mut sent = 0u32;
    while sent < 20_000_000 {
        for _ in 0..128 {
            let out = c.send(R, ACK | PSH, 1448);
            assert!(matches!(out, Update::Accept { .. }), "at {sent}: {out:?}");
            sent += 1448;
        }
        assert_eq!(c.send(O, ACK, 0), accept(432_000), "ack at {sent}");
    }
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn window_scaling_needs_both_sides() {
    for (scales, far_ok) in [
        ([Some(7), Some(7)], true),
        ([Some(7), None], false),
        ([None, Some(7)], false),
    ] {
        let mut c = Conv::new(Config::DEFAULT);
        c.wscale = scales;
        c.handshake();
        let want = if far_ok { 7 } else { 0 };
        assert_eq!(c.tcp().peer(O).scale(), want, "{scales:?}");
        assert_eq!(c.tcp().peer(R).scale(), want, "{scales:?}");
        // The client advertises raw 2000; the server sends 150 kB ahead.
        c.win[0] = 2000;
        c.send(O, ACK, 0);
        let ahead = Segment {
            seq: c.next[1].wrapping_add(150_000),
            ..c.seg(R, ACK, 1448)
        };
        let out = c.feed(R, &ahead);
        if far_ok {
            assert!(matches!(out, Update::Accept { .. }), "{scales:?}: {out:?}");
        } else {
            assert_eq!(out, Update::Invalid(Invalid::TcpOutOfWindow), "{scales:?}");
        }
    }
}

#[test]
fn sequence_wraparound() {
    let cfg = Config::DEFAULT;
    let mut c = Conv::with_isn(cfg, u32::MAX - 20_000, u32::MAX - 3);
    c.handshake();
    for _ in 0..100 {
        assert_eq!(c.send(O, ACK | PSH, 1000), accept(300));
        assert_eq!(c.send(R, ACK | PSH, 700), accept(300));
    }
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
    assert!(c.next[0] < 200_000 && c.next[1] < 200_000, "both wrapped");
    // Out of window is still recognised after the wrap.
    let far = Segment {
        seq: c.next[0].wrapping_add(1 << 30),
        ..c.seg(O, ACK, 10)
    };
    assert_eq!(c.feed(O, &far), Update::Invalid(Invalid::TcpOutOfWindow));
    let old = Segment {
        seq: c.next[0].wrapping_sub(1 << 30),
        ..c.seg(O, ACK, 10)
    };
    assert_ne!(c.feed(O, &old), accept(432_000));
}

#[test]
fn wrap_aware_helpers() {
    assert!(before(u32::MAX, 0));
    assert!(after(0, u32::MAX));
    assert!(before(u32::MAX - 5, 10));
    assert!(!before(10, u32::MAX - 5));
    assert!(!after(3, 3));
}

#[test]
fn sack_edge_counts_only_when_permitted() {
    for (server_sack, want) in [
        (true, Update::Invalid(Invalid::TcpOutOfWindow)),
        (false, accept(432_000)),
    ] {
        let mut c = Conv::new(Config::DEFAULT);
        c.sack_perm = [true, server_sack];
        c.handshake();
        c.send(R, ACK | PSH, 1000);
        c.send(O, ACK, 0);
        // A SACK block beyond anything the server sent.
        let bogus = Segment {
            sack_edge: Some(c.next[1].wrapping_add(5000)),
            ..c.seg(O, ACK, 0)
        };
        assert_eq!(c.feed(O, &bogus), want, "server SACK_PERM {server_sack}");
    }
}

#[test]
fn sack_edge_moves_the_right_edge() {
    let mut c = Conv::new(Config::DEFAULT);
    c.sack_perm = [true, true];
    c.handshake();
    let acked = c.next[1];
    for _ in 0..3 {
        c.send(R, ACK | PSH, 1000);
    }
    // The client got the 2nd and 3rd segments, not the 1st.
    let sacked = Segment {
        ack: acked,
        sack_edge: Some(c.next[1]),
        ..c.seg(O, ACK, 0)
    };
    assert_eq!(c.feed(O, &sacked), accept(300));
    let r = c.tcp().peer(R);
    assert_eq!(r.max_end(), c.next[1].wrapping_add(64240));
}

#[test]
fn unacknowledged_data_shortens_timeout() {
    let mut c = established();
    assert_eq!(c.send(R, ACK | PSH, 5000), accept(300));
    assert_eq!(c.send(R, ACK | PSH, 5000), accept(300));
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
}

#[test]
fn retransmissions_bring_max_retrans_timeout() {
    let mut cfg = Config::DEFAULT;
    cfg.timeouts.set(Timeout::TcpMaxRetrans, 130);
    cfg.timeouts.set(Timeout::TcpUnacknowledged, 200);
    let mut c = Conv::new(cfg);
    c.handshake();
    let seg = c.seg(R, ACK | PSH, 1000);
    assert_eq!(c.feed(R, &seg), accept(200));
    for n in 1..=2 {
        assert_eq!(c.feed(R, &seg), accept(200), "retransmission {n}");
        assert_eq!(c.tcp().retrans(), n);
    }
    assert_eq!(c.feed(R, &seg), accept(130), "third retransmission");
    assert_eq!(c.tcp().retrans(), 3);
    // Progress resets the count.
    c.advance(R, &seg);
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
    assert_eq!(c.tcp().retrans(), 0);
}

#[test]
fn max_retrans_setting_is_honoured() {
    let cfg = Config {
        tcp_max_retrans: 1,
        ..Config::DEFAULT
    };
    let mut c = Conv::new(cfg);
    c.handshake();
    c.send(R, ACK | PSH, 10);
    let ack = c.seg(O, ACK, 0);
    assert_eq!(c.feed(O, &ack), accept(432_000));
    assert_eq!(c.feed(O, &ack), accept(300));
}

#[test]
fn syn_timeout_is_capped_by_retrans_timeout_until_a_window_is_seen() {
    // No ACK has recorded a window yet: Linux treats that as a zero window.
    let mut cfg = Config::DEFAULT;
    cfg.timeouts.set(Timeout::TcpMaxRetrans, 100);
    let mut c = Conv::new(cfg);
    assert_eq!(c.send(O, SYN, 0), accept(100));
}

#[test]
fn zero_window_shortens_timeout() {
    let mut c = established();
    c.win[0] = 0;
    assert_eq!(c.send(O, ACK, 0), accept(300));
    c.win[0] = 1000;
    assert_eq!(c.send(O, ACK, 0), accept(432_000));
}

// ---------------------------------------------------------------------------
// Odds and ends.

#[test]
fn invalid_transitions_leave_state() {
    let mut c = established();
    let synack = c.seg(O, SYN | ACK, 0);
    assert_eq!(
        c.feed(O, &synack),
        Update::Invalid(Invalid::TcpBadTransition)
    );
    let none = c.seg(O, PSH, 0);
    assert_eq!(c.feed(O, &none), Update::Invalid(Invalid::TcpBadTransition));
    assert_eq!(c.state(), TcpState::Established);
}

#[test]
fn set_closing_moves_to_close_once() {
    let mut c = established();
    let cfg = Config::DEFAULT;
    let mut t = *c.tcp();
    assert_eq!(t.set_closing(&cfg), Some(secs(10)));
    assert_eq!(t.state(), TcpState::Close);
    assert_eq!(t.set_closing(&cfg), None);
    assert!(t.can_early_drop());
    assert!(!c.tcp.as_mut().unwrap().can_early_drop());
}

#[test]
fn tcp_state_is_small() {
    let size = core::mem::size_of::<Tcp>();
    assert!(size <= 64, "size_of::<Tcp>() = {size}");
}

// ---------------------------------------------------------------------------
// Properties: random packets never panic, and an opening packet that `new`
// accepts is always accepted by its first `update` (the tracker relies on
// it).

mod props {
    use super::*;
    use proptest::prelude::*;

    fn any_valid_flags() -> impl Strategy<Value = u8> {
        any::<u8>().prop_filter("valid flags", |f| {
            check_flags(&Segment {
                flags: TcpFlags(*f),
                ..Segment::default()
            })
            .is_ok()
        })
    }

    prop_compose! {
        fn any_segment()(
            seq in any::<u32>(),
            ack in any::<u32>(),
            window in any::<u16>(),
            flags in any_valid_flags(),
            payload_len in 0u32..70_000,
            wscale in proptest::option::of(0u8..20),
            sack_perm in any::<bool>(),
            sack_edge in proptest::option::of(any::<u32>()),
        ) -> Segment {
            Segment { seq, ack, window, flags: TcpFlags(flags), payload_len, wscale, sack_perm, sack_edge }
        }
    }

    /// A packet near what side `dir` of `c` would send, perturbed.
    fn nearby(c: &Conv, dir: Dir, flags: u8, len: u32, dseq: i32, dack: i32) -> Segment {
        let mut seg = c.seg(dir, flags, len);
        seg.seq = seg.seq.wrapping_add_signed(dseq);
        seg.ack = seg.ack.wrapping_add_signed(dack);
        seg
    }

    proptest! {
        #[test]
        fn first_packet_is_accepted(seg in any_segment(), loose in any::<bool>(), liberal in any::<bool>()) {
            let cfg = Config { tcp_loose: loose, tcp_be_liberal: liberal, ..Config::DEFAULT };
            if let Ok(mut t) = Tcp::new(&seg, &cfg) {
                let mut status = Status::default();
                let out = t.update(Dir::Original, &seg, &mut status, &cfg);
                prop_assert!(matches!(out, Update::Accept { .. }), "{:?}", out);
                prop_assert!(matches!(t.state(), TcpState::SynSent | TcpState::Established));
            }
        }

        #[test]
        fn random_segments_never_panic(
            first in any_segment(),
            rest in proptest::collection::vec((any::<bool>(), any_segment()), 0..40),
        ) {
            let cfg = Config::DEFAULT;
            if let Ok(mut t) = Tcp::new(&first, &cfg) {
                let mut status = Status::default();
                t.update(Dir::Original, &first, &mut status, &cfg);
                for (reply, seg) in rest {
                    let dir = if reply { Dir::Reply } else { Dir::Original };
                    match t.update(dir, &seg, &mut status, &cfg) {
                        Update::Kill | Update::Reopen => break,
                        _ => prop_assert!(t.state() != TcpState::Listen),
                    }
                }
            }
        }

        #[test]
        fn plausible_conversations_never_panic(
            steps in proptest::collection::vec(
                (any::<bool>(), any_valid_flags(), 0u32..3000, -70_000i32..70_000, -70_000i32..70_000, any::<bool>()),
                0..60,
            ),
            isn in any::<(u32, u32)>(),
            scales in any::<(Option<u8>, Option<u8>)>(),
        ) {
            let mut c = Conv::with_isn(Config::DEFAULT, isn.0, isn.1);
            c.wscale = [scales.0, scales.1];
            c.send(O, SYN, 0);
            for (reply, flags, len, dseq, dack, exact) in steps {
                let dir = if reply { R } else { O };
                let seg = if exact { c.seg(dir, flags, len) } else { nearby(&c, dir, flags, len, dseq, dack) };
                let out = c.feed(dir, &seg);
                if matches!(out, Update::Kill | Update::Reopen) {
                    break;
                }
                if matches!(out, Update::Accept { .. } | Update::Ignore) {
                    c.advance(dir, &seg);
                }
            }
        }
    }
}
