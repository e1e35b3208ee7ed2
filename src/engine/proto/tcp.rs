//! TCP connection tracking with the behaviour of Linux 6.12's
//! `nf_conntrack_proto_tcp.c`: a stateless flag check, a packet-kind
//! classifier, the transition table `next[direction][kind][state]`, the
//! special cases around it (reopening, ignored packets, RST checks,
//! challenge ACKs) and the per-state timeouts. Sequence and window
//! tracking lives in [`crate::proto::tcp_window`].
//!
//! We are a man in the middle: every packet passes us, but may be lost
//! after us, and our idea of each side's state is a guess from what we saw.
//! Packets that may be valid for the real endpoints while our entry is out
//! of sync are *ignored* (passed without moving the entry along); packets
//! that are plainly wrong are *invalid*.

use crate::config::{Settings, Timeout};
use crate::entry::Status;
use crate::invalid::Invalid;
use crate::packet::{Segment, TcpFlags};
use crate::proto::tcp_window::{self, before, segment_end, Flags, Peer, Verdict};
use crate::proto::Update;
use crate::tuple::Dir;

/// Connection state as conntrack guesses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TcpState {
    /// No packet processed yet.
    None,
    /// A SYN was seen (original direction).
    SynSent,
    /// A SYN/ACK was seen.
    SynRecv,
    /// The handshake completed.
    Established,
    /// A FIN was seen.
    FinWait,
    /// The first FIN was acknowledged.
    CloseWait,
    /// FINs were seen both ways; waiting for the last ACK.
    LastAck,
    /// The last ACK was seen.
    TimeWait,
    /// Closed by an RST.
    Close,
    /// Obsolete; never entered, kept for its /proc name.
    Listen,
    /// A SYN was seen from both sides (simultaneous open).
    SynSent2,
}

impl TcpState {
    /// The name `/proc/net/ip_conntrack` shows.
    pub fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::Established => "ESTABLISHED",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::Listen => "LISTEN",
            TcpState::SynSent2 => "SYN_SENT2",
        }
    }

    /// This state's column in the transition table (Linux's order).
    fn column(self) -> Option<usize> {
        Some(match self {
            TcpState::None => 0,
            TcpState::SynSent => 1,
            TcpState::SynRecv => 2,
            TcpState::Established => 3,
            TcpState::FinWait => 4,
            TcpState::CloseWait => 5,
            TcpState::LastAck => 6,
            TcpState::TimeWait => 7,
            TcpState::Close => 8,
            TcpState::SynSent2 => 9,
            TcpState::Listen => return None,
        })
    }

    /// The state's timeout knob; `None` for states that are never the
    /// target of a transition (Linux has no timeout for them either).
    fn timeout(self) -> Option<Timeout> {
        Some(match self {
            TcpState::SynSent | TcpState::SynSent2 => Timeout::TcpSynSent,
            TcpState::SynRecv => Timeout::TcpSynRecv,
            TcpState::Established => Timeout::TcpEstablished,
            TcpState::FinWait => Timeout::TcpFinWait,
            TcpState::CloseWait => Timeout::TcpCloseWait,
            TcpState::LastAck => Timeout::TcpLastAck,
            TcpState::TimeWait => Timeout::TcpTimeWait,
            TcpState::Close => Timeout::TcpClose,
            TcpState::None | TcpState::Listen => return None,
        })
    }
}

/// What a packet is, for the transition table: decided by its flags with
/// priority RST > SYN/ACK > SYN > FIN > ACK > none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PacketKind {
    /// SYN without ACK.
    Syn,
    /// SYN with ACK.
    SynAck,
    /// FIN (not SYN, not RST).
    Fin,
    /// ACK only (of the four flags).
    Ack,
    /// RST, whatever else is set.
    Rst,
    /// None of SYN, FIN, ACK, RST.
    None,
}

impl PacketKind {
    /// Classifies a packet by its flags.
    pub fn of(flags: TcpFlags) -> PacketKind {
        if flags.has(TcpFlags::RST) {
            PacketKind::Rst
        } else if flags.has(TcpFlags::SYN) {
            if flags.has(TcpFlags::ACK) {
                PacketKind::SynAck
            } else {
                PacketKind::Syn
            }
        } else if flags.has(TcpFlags::FIN) {
            PacketKind::Fin
        } else if flags.has(TcpFlags::ACK) {
            PacketKind::Ack
        } else {
            PacketKind::None
        }
    }

    /// This kind's row in the transition table (Linux's order).
    fn row(self) -> usize {
        match self {
            PacketKind::Syn => 0,
            PacketKind::SynAck => 1,
            PacketKind::Fin => 2,
            PacketKind::Ack => 3,
            PacketKind::Rst => 4,
            PacketKind::None => 5,
        }
    }
}

/// One cell of the transition table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Move to this state (after the special cases and the window check).
    To(TcpState),
    /// May be valid for the endpoints while we are out of sync: let it
    /// pass without moving the entry along.
    Ignore,
    /// Never valid here.
    Invalid,
}

/// The table's entry for a packet of `kind` travelling in `dir` while the
/// entry is in `state` (before the special cases of [`Tcp::update`]).
pub fn transition(dir: Dir, kind: PacketKind, state: TcpState) -> Transition {
    let rows = match dir {
        Dir::Original => &ORIGINAL,
        Dir::Reply => &REPLY,
    };
    state
        .column()
        .and_then(|col| rows.get(kind.row()).and_then(|row| row.get(col)))
        .copied()
        .unwrap_or(Transition::Invalid)
}

const SS: Transition = Transition::To(TcpState::SynSent);
const SR: Transition = Transition::To(TcpState::SynRecv);
const ES: Transition = Transition::To(TcpState::Established);
const FW: Transition = Transition::To(TcpState::FinWait);
const CW: Transition = Transition::To(TcpState::CloseWait);
const LA: Transition = Transition::To(TcpState::LastAck);
const TW: Transition = Transition::To(TcpState::TimeWait);
const CL: Transition = Transition::To(TcpState::Close);
const S2: Transition = Transition::To(TcpState::SynSent2);
const IG: Transition = Transition::Ignore;
const IV: Transition = Transition::Invalid;

/// Packets from the side that opened the entry. Rows: SYN, SYN/ACK, FIN,
/// ACK, RST, none. Columns: NONE, SYN_SENT, SYN_RECV, ESTABLISHED,
/// FIN_WAIT, CLOSE_WAIT, LAST_ACK, TIME_WAIT, CLOSE, SYN_SENT2.
#[rustfmt::skip]
const ORIGINAL: [[Transition; 10]; 6] = [
    // SYN
    [
        SS, // NONE: a new connection starts.
        SS, // SYN_SENT: the SYN retransmitted.
        IG, // SYN_RECV: a SYN inside an open connection is an error the
        IG, // ESTABLISHED: receiver answers with RST, unless we are the
        IG, // FIN_WAIT: ones out of sync holding a dead connection: let
        IG, // CLOSE_WAIT: it pass and watch the answer.
        IG, // LAST_ACK: (idem; may draw a challenge ACK).
        SS, // TIME_WAIT: the connection reopened (RFC 1122).
        SS, // CLOSE: a new connection on the same ports.
        S2, // SYN_SENT2: a late retransmitted SYN.
    ],
    // SYN/ACK
    [
        IV, // NONE: too late to make sense of it.
        IV, // SYN_SENT: the client cannot send SYN and then SYN/ACK.
        SR, // SYN_RECV: late retransmission in a simultaneous open.
        IV, // ESTABLISHED: the client never sends a SYN/ACK here.
        IV, // FIN_WAIT: (idem)
        IV, // CLOSE_WAIT: (idem)
        IV, // LAST_ACK: (idem)
        IV, // TIME_WAIT: (idem)
        IV, // CLOSE: (idem)
        SR, // SYN_SENT2: answering the other side's SYN (simultaneous open).
    ],
    // FIN
    [
        IV, // NONE: too late to make sense of it.
        IV, // SYN_SENT: no FIN before the SYN/ACK is seen.
        FW, // SYN_RECV: the close starts.
        FW, // ESTABLISHED: the close starts.
        LA, // FIN_WAIT: FINs seen both ways (or a retransmitted FIN).
        LA, // CLOSE_WAIT: FINs seen both ways.
        LA, // LAST_ACK: a retransmitted FIN.
        TW, // TIME_WAIT: a late FIN changes nothing.
        CL, // CLOSE: a late FIN changes nothing.
        IV, // SYN_SENT2: no FIN before the handshake completes.
    ],
    // ACK
    [
        ES, // NONE: picked up mid-stream (tcp_loose), assumed established.
        IV, // SYN_SENT: no SYN/ACK seen yet to acknowledge.
        ES, // SYN_RECV: the handshake completes.
        ES, // ESTABLISHED: data.
        CW, // FIN_WAIT: the FIN is acknowledged.
        CW, // CLOSE_WAIT: more data or ACKs from the half-open side.
        TW, // LAST_ACK: the last ACK (unless a challenge ACK).
        TW, // TIME_WAIT: a retransmitted last ACK.
        CL, // CLOSE: a late ACK changes nothing.
        IV, // SYN_SENT2: nothing to acknowledge yet.
    ],
    // RST
    [
        IV, // NONE: an RST cannot open anything.
        CL, // SYN_SENT: the connection is reset (checked further).
        CL, // SYN_RECV: (idem)
        CL, // ESTABLISHED: (idem)
        CL, // FIN_WAIT: (idem)
        CL, // CLOSE_WAIT: (idem)
        CL, // LAST_ACK: (idem)
        CL, // TIME_WAIT: (idem)
        CL, // CLOSE: (idem)
        CL, // SYN_SENT2: (idem)
    ],
    // none
    [
        IV, IV, IV, IV, IV, IV, IV, IV, IV, IV, // never valid without flags
    ],
];

/// Packets from the side that answered. Same layout as [`ORIGINAL`].
#[rustfmt::skip]
const REPLY: [[Transition; 10]; 6] = [
    // SYN
    [
        IV, // NONE: never reached (the entry was opened by the other side).
        S2, // SYN_SENT: simultaneous open.
        IV, // SYN_RECV: the server sends no SYN at this point.
        IV, // ESTABLISHED: (idem)
        IV, // FIN_WAIT: (idem)
        IV, // CLOSE_WAIT: (idem)
        IV, // LAST_ACK: (idem)
        SS, // TIME_WAIT: reopened, the server now acting as the client.
        IV, // CLOSE: the server sends no SYN at this point.
        S2, // SYN_SENT2: a retransmitted simultaneous SYN.
    ],
    // SYN/ACK
    [
        IV, // NONE: never reached.
        SR, // SYN_SENT: the normal answer to the SYN.
        IG, // SYN_RECV: a retransmitted SYN/ACK.
        IG, // ESTABLISHED: a late retransmitted SYN/ACK?
        IG, // FIN_WAIT: may answer a SYN we ignored: watch for it.
        IG, // CLOSE_WAIT: (idem)
        IG, // LAST_ACK: (idem)
        IG, // TIME_WAIT: (idem)
        IG, // CLOSE: (idem)
        SR, // SYN_SENT2: the answer in a simultaneous open.
    ],
    // FIN
    [
        IV, // NONE: never reached.
        IV, // SYN_SENT: the server sends no FIN before its SYN/ACK.
        FW, // SYN_RECV: the close starts.
        FW, // ESTABLISHED: the close starts.
        LA, // FIN_WAIT: FINs seen both ways.
        LA, // CLOSE_WAIT: FINs seen both ways.
        LA, // LAST_ACK: a retransmitted FIN.
        TW, // TIME_WAIT: a late FIN changes nothing.
        CL, // CLOSE: a late FIN changes nothing.
        IV, // SYN_SENT2: no FIN before the handshake completes.
    ],
    // ACK
    [
        IV, // NONE: never reached.
        IG, // SYN_SENT: maybe a half-open connection (or a challenge ACK).
        SR, // SYN_RECV: may answer a late retransmitted SYN.
        ES, // ESTABLISHED: data.
        CW, // FIN_WAIT: the FIN is acknowledged.
        CW, // CLOSE_WAIT: more data or ACKs from the half-open side.
        TW, // LAST_ACK: the last ACK (unless a challenge ACK).
        TW, // TIME_WAIT: a retransmitted last ACK.
        CL, // CLOSE: a late ACK changes nothing.
        IG, // SYN_SENT2: maybe a half-open connection.
    ],
    // RST
    [
        IV, // NONE: never reached.
        CL, // SYN_SENT: the connection is refused or reset (checked further).
        CL, // SYN_RECV: (idem)
        CL, // ESTABLISHED: (idem)
        CL, // FIN_WAIT: (idem)
        CL, // CLOSE_WAIT: (idem)
        CL, // LAST_ACK: (idem)
        CL, // TIME_WAIT: (idem)
        CL, // CLOSE: (idem)
        CL, // SYN_SENT2: (idem)
    ],
    // none
    [
        IV, IV, IV, IV, IV, IV, IV, IV, IV, IV, // never valid without flags
    ],
];

/// Flag combinations that may appear at all, with PSH, ECE and CWR masked
/// out (they are valid with anything). Everything else is INVALID before
/// any lookup.
const VALID_FLAGS: [u8; 9] = [
    TcpFlags::SYN,
    TcpFlags::SYN | TcpFlags::URG,
    TcpFlags::SYN | TcpFlags::ACK,
    TcpFlags::RST,
    TcpFlags::RST | TcpFlags::ACK,
    TcpFlags::FIN | TcpFlags::ACK,
    TcpFlags::FIN | TcpFlags::ACK | TcpFlags::URG,
    TcpFlags::ACK,
    TcpFlags::ACK | TcpFlags::URG,
];

/// Stateless check done before any lookup: refuses flag combinations that
/// are never valid (SYN+FIN, SYN+RST, FIN without ACK, no flags, ...).
pub fn check_flags(seg: &Segment) -> Result<(), Invalid> {
    let always_ok = TcpFlags::PSH | TcpFlags::ECE | TcpFlags::CWR;
    let flags = seg.flags.0 & !always_ok;
    if VALID_FLAGS.contains(&flags) {
        Ok(())
    } else {
        Err(Invalid::BadTcpFlags)
    }
}

/// Bits of [`Tcp`]'s record of the last packet beyond the per-direction
/// [`Flags`] (Linux's values).
mod last {
    /// A SYN was let through in LAST_ACK: the next ACK from the other side
    /// may be an RFC 5961 challenge ACK rather than the last ACK.
    pub(super) const CHALLENGE_ACK: u8 = 0x40;
    /// The entry went through SYN_SENT2.
    pub(super) const SIMULTANEOUS_OPEN: u8 = 0x80;
}

/// TCP part of an entry: the state, both directions' windows and a record
/// of the last packet (for retransmission counting and to recognise the
/// answers to packets we let through unchecked). Linux's `ip_ct_tcp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    peers: [Peer; 2],
    last_seq: u32,
    last_ack: u32,
    last_end: u32,
    last_win: u16,
    state: TcpState,
    last_dir: Dir,
    last_kind: PacketKind,
    last_wscale: u8,
    last_flags: u8,
    retrans: u8,
    /// A reply-direction packet was accepted before (Linux's SEEN_REPLY as
    /// it stood before the packet at hand; kept here so that the caller may
    /// set the status bit before or after [`Tcp::update`]).
    replied: bool,
}

/// What happens to a packet before (or instead of) the window check.
enum Plan {
    /// Check the window, then go from `old` to `new`.
    Check(TcpState, TcpState),
    /// Go from `old` to `new` without checking the window (an RST that
    /// answers a packet we let through unchecked).
    Skip(TcpState, TcpState),
    /// The outcome is already known.
    Done(Update),
}

impl Tcp {
    /// Whether `seg`, seen in the original direction with no entry for its
    /// tuple, may open one (Linux's `tcp_new`). A SYN always may; with
    /// `tcp_loose`, so may a plain ACK picked up mid-stream (with liberal
    /// window checks, as its window data is a guess). Anything else is
    /// [`Invalid::TcpNotNew`].
    ///
    /// The result is the entry's TCP part *before* its first packet: state
    /// NONE with the sender's window data set. The caller then passes the same
    /// packet to [`Tcp::update`] in [`Dir::Original`], like every later packet;
    /// that moves it to SYN_SENT (or ESTABLISHED) and gives the timeout.
    pub fn new(seg: &Segment, cfg: &impl Settings) -> Result<Tcp, Invalid> {
        let orig = match transition(Dir::Original, PacketKind::of(seg.flags), TcpState::None) {
            Transition::To(TcpState::SynSent) => Peer::from_syn(seg),
            Transition::To(_) if cfg.tcp_loose() => Peer::picked_up(seg),
            _ => return Err(Invalid::TcpNotNew),
        };
        let reply = if orig.flags().has(Flags::BE_LIBERAL) {
            Peer::unknown_liberal()
        } else {
            Peer::default()
        };
        Ok(Tcp {
            peers: [orig, reply],
            last_seq: 0,
            last_ack: 0,
            last_end: 0,
            last_win: 0,
            state: TcpState::None,
            last_dir: Dir::Original,
            last_kind: PacketKind::None,
            last_wscale: 0,
            last_flags: 0,
            retrans: 0,
            replied: false,
        })
    }

    /// The TCP part of an entry made through ctnetlink (`conntrack -I`),
    /// as 6.12's `nlattr_to_tcp` fills a new one: state `state`, each
    /// side's `flags`, window scaling only when both sides have
    /// [`Flags::WINDOW_SCALE`], nothing known of either sequence space
    /// (taken from each side's next packet). `replied` says whether the
    /// entry counts as having seen a reply.
    pub fn made(state: TcpState, flags: [u8; 2], wscale: [u8; 2], replied: bool) -> Tcp {
        let [fo, fr] = flags;
        let scaled = Flags(fo).has(Flags::WINDOW_SCALE) && Flags(fr).has(Flags::WINDOW_SCALE);
        let [so, sr] = if scaled { wscale } else { [0, 0] };
        Tcp {
            peers: [Peer::unknown_with(fo, so), Peer::unknown_with(fr, sr)],
            last_seq: 0,
            last_ack: 0,
            last_end: 0,
            last_win: 0,
            state,
            last_dir: Dir::Original,
            last_kind: PacketKind::None,
            last_wscale: 0,
            last_flags: 0,
            retrans: 0,
            replied,
        }
    }

    /// Applies a ctnetlink update (6.12's `nlattr_to_tcp` on an existing
    /// entry): the state if given, each side's flags under their masks,
    /// the window scales when both are given and both sides scale.
    pub fn change(&mut self, state: Option<TcpState>, flags: [(u8, u8); 2], wscale: Option<[u8; 2]>) {
        if let Some(s) = state {
            self.state = s;
        }
        for (p, (f, m)) in self.peers.iter_mut().zip(flags) {
            p.set_flags_masked(f, m);
        }
        let [o, r] = &mut self.peers;
        if let Some([so, sr]) = wscale {
            if o.flags().has(Flags::WINDOW_SCALE) && r.flags().has(Flags::WINDOW_SCALE) {
                o.set_scale(so);
                r.set_scale(sr);
            }
        }
    }

    /// Marks a reply as seen (a ctnetlink update setting SEEN_REPLY).
    pub fn set_replied(&mut self) {
        self.replied = true;
    }

    /// The connection state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// What we know of direction `dir`'s sequence space.
    pub fn peer(&self, dir: Dir) -> Peer {
        let [orig, reply] = self.peers;
        match dir {
            Dir::Original => orig,
            Dir::Reply => reply,
        }
    }

    /// How often in a row the last ACK-only segment was seen unchanged.
    pub fn retrans(&self) -> u8 {
        self.retrans
    }

    /// Whether the connection is closing, so the entry may be dropped
    /// early when the table is under pressure (Linux's
    /// `tcp_can_early_drop`).
    pub fn can_early_drop(&self) -> bool {
        matches!(
            self.state,
            TcpState::FinWait
                | TcpState::LastAck
                | TcpState::TimeWait
                | TcpState::Close
                | TcpState::CloseWait
        )
    }

    /// Marks the connection closed because a local RST was sent for it
    /// (the `set_closing` hook of REJECT). Returns the new timeout, or
    /// `None` when it was already closed and the timeout stays.
    pub fn set_closing(&mut self, cfg: &impl Settings) -> Option<crate::Millis> {
        let old = self.state;
        self.state = TcpState::Close;
        (old != TcpState::Close).then(|| cfg.timeout(Timeout::TcpClose))
    }

    /// Moves the entry along for one packet in direction `dir` (Linux's
    /// `nf_conntrack_tcp_packet` after `tcp_error`), the flags having
    /// passed [`check_flags`].
    ///
    /// Whether a reply was seen *before* this packet is what matters here
    /// (an RST as the only answer to a SYN kills the entry; ASSURED needs a
    /// reply first), and `Tcp` keeps its own record of it, so the caller
    /// may set [`Status::SEEN_REPLY`] for this packet before or after the
    /// call. This function sets it too when it accepts a reply-direction
    /// packet (as Linux's core does right after the protocol handler). It
    /// sets [`Status::ASSURED`] when a packet keeps the connection
    /// ESTABLISHED after a reply was seen (the ACK completing the
    /// handshake, or the answer to a picked-up connection).
    #[inline(never)]
    pub fn update(&mut self, dir: Dir, seg: &Segment, status: &mut Status, cfg: &impl Settings) -> Update {
        let out = self.step(dir, seg, status, cfg);
        if dir == Dir::Reply && matches!(out, Update::Accept { .. } | Update::Ignore) {
            self.replied = true;
            status.set(Status::SEEN_REPLY);
        }
        out
    }

    fn step(&mut self, dir: Dir, seg: &Segment, status: &mut Status, cfg: &impl Settings) -> Update {
        let kind = PacketKind::of(seg.flags);
        let (old, new) = match self.plan(dir, kind, seg, status) {
            Plan::Done(out) => return out,
            Plan::Skip(old, new) => (old, new),
            Plan::Check(old, new) => match self.window(dir, kind, seg, status, cfg) {
                Ok(()) => (old, new),
                Err(out) => return out,
            },
        };
        self.commit(dir, kind, status, cfg, old, new)
    }

    /// The table lookup and the special cases that refine it.
    fn plan(&mut self, dir: Dir, kind: PacketKind, seg: &Segment, status: &Status) -> Plan {
        let old = self.state;
        match transition(dir, kind, old) {
            Transition::Invalid => Plan::Done(Update::Invalid(Invalid::TcpBadTransition)),
            Transition::Ignore => self.ignored(dir, kind, seg),
            Transition::To(TcpState::SynSent)
                if matches!(old, TcpState::TimeWait | TcpState::Close) =>
            {
                self.syn_after_close(dir, kind, seg)
            }
            Transition::To(TcpState::TimeWait) if self.is_challenge_ack(dir, kind) => {
                self.last_flags &= !last::CHALLENGE_ACK;
                Plan::Done(Update::Ignore)
            }
            Transition::To(TcpState::SynSent2) => {
                // The table alone cannot finish a simultaneous open.
                self.last_flags |= last::SIMULTANEOUS_OPEN;
                Plan::Check(old, TcpState::SynSent2)
            }
            Transition::To(TcpState::SynRecv) => {
                let simultaneous = self.last_flags & last::SIMULTANEOUS_OPEN != 0;
                if dir == Dir::Reply && kind == PacketKind::Ack && simultaneous {
                    Plan::Check(old, TcpState::Established)
                } else {
                    Plan::Check(old, TcpState::SynRecv)
                }
            }
            Transition::To(TcpState::Close) if kind == PacketKind::Rst => {
                self.rst(dir, seg, status)
            }
            Transition::To(new) => Plan::Check(old, new),
        }
    }

    /// A SYN on a TIME_WAIT or CLOSE entry. After an orderly close, or an
    /// RST from the same side, it opens a new connection: the old entry
    /// goes and the packet is tracked afresh (RFC 1122 lets TIME_WAIT be
    /// cut short). Otherwise we may hold a dead connection the endpoints
    /// have forgotten: let the SYN pass as ignored and watch the answer.
    fn syn_after_close(&mut self, dir: Dir, kind: PacketKind, seg: &Segment) -> Plan {
        let [orig, reply] = self.peers;
        let close_init = Flags(orig.flags().0 | reply.flags().0).has(Flags::CLOSE_INIT);
        if close_init || (self.last_dir == dir && self.last_kind == PacketKind::Rst) {
            return Plan::Done(Update::Reopen);
        }
        self.ignored(dir, kind, seg)
    }

    /// A packet the table says to ignore. A SYN/ACK answering a SYN we
    /// ignored earlier shows that the endpoints agree on a new connection
    /// while we did not: take it up from the SYN we noted. Anything else is
    /// noted and passed without moving the entry along.
    fn ignored(&mut self, dir: Dir, kind: PacketKind, seg: &Segment) -> Plan {
        let answers_noted_syn = kind == PacketKind::SynAck
            && self.last_kind == PacketKind::Syn
            && self.last_dir != dir
            && seg.ack == self.last_end;
        if answers_noted_syn {
            self.resync_from_ignored_syn(dir);
            return Plan::Check(TcpState::SynSent, TcpState::SynRecv);
        }
        self.note_ignored(dir, kind, seg);
        Plan::Done(Update::Ignore)
    }

    /// Rebuilds both directions from the noted SYN (sent the other way)
    /// and the SYN/ACK at hand (sent in `dir`, whose data restarts).
    fn resync_from_ignored_syn(&mut self, dir: Dir) {
        self.last_flags &= !last::CHALLENGE_ACK;
        let syn_side = Peer::from_ignored_syn(
            self.last_end,
            self.last_win,
            self.last_wscale,
            self.last_flags,
        );
        let [orig, reply] = &mut self.peers;
        let (synack_side, syn_slot) = match dir {
            Dir::Original => (orig, reply),
            Dir::Reply => (reply, orig),
        };
        *syn_slot = syn_side;
        synack_side.reset();
    }

    /// Remembers an ignored packet, so that its answer can be recognised.
    fn note_ignored(&mut self, dir: Dir, kind: PacketKind, seg: &Segment) {
        let old = self.state;
        self.last_kind = kind;
        self.last_dir = dir;
        self.last_seq = seg.seq;
        self.last_end = segment_end(seg);
        self.last_win = seg.window;
        if kind == PacketKind::Syn && dir == Dir::Original {
            // The client may be right and we out of sync: keep its options
            // for when the server's SYN/ACK confirms it.
            self.last_flags = 0;
            self.last_wscale = 0;
            if let Some(ws) = seg.wscale {
                self.last_flags |= Flags::WINDOW_SCALE;
                self.last_wscale = ws.min(tcp_window::MAX_WSCALE);
            }
            if seg.sack_perm {
                self.last_flags |= Flags::SACK_PERM;
            }
            if old == TcpState::LastAck {
                self.last_flags |= last::CHALLENGE_ACK;
            }
        }
        if old == TcpState::SynSent && kind == PacketKind::Ack && dir == Dir::Reply {
            // Maybe a challenge ACK answering the SYN: an RST from the
            // client with this sequence number would follow.
            self.last_ack = seg.ack;
        }
    }

    /// An ACK in LAST_ACK that answers a SYN we let through there: an RFC
    /// 5961 challenge ACK, not the last ACK of the close.
    fn is_challenge_ack(&self, dir: Dir, kind: PacketKind) -> bool {
        self.state == TcpState::LastAck
            && kind == PacketKind::Ack
            && self.last_dir != dir
            && self.last_kind == PacketKind::Syn
            && self.last_flags & last::CHALLENGE_ACK != 0
    }

    /// The RST checks. An RST is taken when its sequence number is exactly
    /// what the other side last acknowledged (RFC 5961); an in-window but
    /// inexact one keeps the state (the endpoint will answer with a
    /// challenge ACK), one below it is INVALID. RSTs answering packets we
    /// let through unchecked skip the window check.
    fn rst(&mut self, dir: Dir, seg: &Segment, status: &Status) -> Plan {
        let old = self.state;
        if self.can_early_drop() {
            // Closing: the ports may already be reused, so our window data
            // may be stale; take the RST as it is.
            return Plan::Skip(old, TcpState::Close);
        }
        let mut new = TcpState::Close;
        let acked = self.peer(dir.other());
        if acked.flags().has(Flags::MAXACK_SET) && self.last_kind != PacketKind::Syn {
            let established = old == TcpState::Established && status.has(Status::ASSURED);
            let expected = acked.max_ack();
            if seg.seq == 0 && !established {
                // Most likely the answer to a SYN we let through.
                return Plan::Check(old, new);
            }
            if before(seg.seq, expected) {
                return Plan::Done(Update::Invalid(Invalid::TcpBadRst));
            }
            if !established || seg.seq == expected || self.ends_last_segment(dir, seg) {
                return Plan::Check(old, new);
            }
            new = old;
        }
        if self.answers_unchecked(dir, seg, status) {
            return Plan::Skip(old, new);
        }
        Plan::Check(old, new)
    }

    /// An RST right after the same side's data, at its end (a "train"
    /// like `P 100:119 ack 42` then `R 119:119 ack 42`).
    fn ends_last_segment(&self, dir: Dir, seg: &Segment) -> bool {
        self.last_kind == PacketKind::Ack && self.last_dir == dir && seg.seq == self.last_end
    }

    /// An RST answering a packet we let through without tracking it: a SYN
    /// we ignored, an ACK of a half-open connection, or a challenge ACK to
    /// a SYN. It may acknowledge data we never tracked, so no window check.
    fn answers_unchecked(&self, dir: Dir, seg: &Segment, status: &Status) -> bool {
        let to_ignored_syn =
            self.replied && self.last_kind == PacketKind::Syn && self.last_dir != dir;
        let to_half_open = !status.has(Status::ASSURED) && self.last_kind == PacketKind::Ack;
        let to_challenge = self.state == TcpState::SynSent
            && self.last_kind == PacketKind::Ack
            && self.last_dir == Dir::Reply
            && seg.seq == self.last_ack;
        ((to_ignored_syn || to_half_open) && seg.ack == self.last_end) || to_challenge
    }

    /// The window check, with retransmission counting for in-window ACKs.
    fn window(
        &mut self,
        dir: Dir,
        kind: PacketKind,
        seg: &Segment,
        status: &Status,
        cfg: &impl Settings,
    ) -> Result<(), Update> {
        match tcp_window::in_window(&mut self.peers, dir, seg, self.state, cfg.tcp_be_liberal()) {
            Verdict::InWindow => {
                if kind == PacketKind::Ack {
                    self.count_retransmission(dir, seg);
                }
                Ok(())
            }
            Verdict::Tolerated => Ok(()),
            Verdict::Ignore => Err(Update::Ignore),
            Verdict::Invalid => Err(self.out_of_window(dir, kind, status, cfg)),
        }
    }

    /// Counts an ACK identical to the previous one in the same direction.
    fn count_retransmission(&mut self, dir: Dir, seg: &Segment) {
        let end = segment_end(seg);
        let same = self.last_dir == dir
            && self.last_seq == seg.seq
            && self.last_ack == seg.ack
            && self.last_end == end
            && self.last_win == seg.window;
        if same {
            // An 8-bit counter, wrapping like Linux's.
            self.retrans = self.retrans.wrapping_add(1);
        } else {
            self.last_dir = dir;
            self.last_seq = seg.seq;
            self.last_ack = seg.ack;
            self.last_end = end;
            self.last_win = seg.window;
            self.retrans = 0;
        }
    }

    /// An out-of-window packet is INVALID. On an assured entry, a FIN or
    /// RST out of window from each side in turn suggests the endpoints
    /// have moved on while we did not: ask for a shorter timeout so the
    /// dead entry goes soon (Linux's `nf_tcp_handle_invalid`).
    fn out_of_window(
        &mut self,
        dir: Dir,
        kind: PacketKind,
        status: &Status,
        cfg: &impl Settings,
    ) -> Update {
        let reason = Invalid::TcpOutOfWindow;
        let closing = matches!(kind, PacketKind::Fin | PacketKind::Rst);
        if !status.has(Status::ASSURED) || !closing {
            return Update::Invalid(reason);
        }
        let other_closed = matches!(self.last_kind, PacketKind::Fin | PacketKind::Rst);
        if self.last_dir != dir && other_closed {
            return Update::InvalidShorten {
                reason,
                timeout: cfg.timeout(Timeout::TcpUnacknowledged),
            };
        }
        self.last_kind = kind;
        self.last_dir = dir;
        Update::Invalid(reason)
    }

    /// Stores the new state and decides timeout, ASSURED and removal.
    fn commit(
        &mut self,
        dir: Dir,
        kind: PacketKind,
        status: &mut Status,
        cfg: &impl Settings,
        old: TcpState,
        new: TcpState,
    ) -> Update {
        self.last_kind = kind;
        self.last_dir = dir;
        self.state = new;
        if old != new && new == TcpState::FinWait {
            self.sender(dir).set_flag(Flags::CLOSE_INIT);
        }
        let mut timeout = self.timeout_secs(kind, new, cfg);
        if !self.replied {
            if kind == PacketKind::Rst {
                // The only answer to the SYN was an RST (or the client gave
                // up): a refused connection, nothing to keep.
                return Update::Kill;
            }
            if kind == PacketKind::Syn && old == TcpState::SynSent {
                // A retransmitted SYN does not extend the entry, or port
                // reuse could keep it alive for ever.
                return Update::Ignore;
            }
            if new == TcpState::Established {
                // Picked up mid-stream and not answered yet.
                timeout = timeout.min(cfg.timeout_secs(Timeout::TcpUnacknowledged));
            }
        } else if !status.has(Status::ASSURED)
            && matches!(old, TcpState::SynRecv | TcpState::Established)
            && new == TcpState::Established
        {
            status.set(Status::ASSURED);
        }
        Update::Accept {
            timeout: crate::config::secs(timeout),
        }
    }

    /// The state's timeout, shortened while the connection looks stuck:
    /// too many retransmissions, unacknowledged data, a zero window, or an
    /// RST that left it established.
    fn timeout_secs(&self, kind: PacketKind, new: TcpState, cfg: &impl Settings) -> u32 {
        let base = new.timeout().map_or(0, |t| cfg.timeout_secs(t));
        let [orig, reply] = self.peers;
        let unacked = Flags(orig.flags().0 | reply.flags().0).has(Flags::DATA_UNACKNOWLEDGED);
        let rst_kept = kind == PacketKind::Rst && new == TcpState::Established;
        // Each short timeout is read only when its rule applies.
        if u32::from(self.retrans) >= cfg.tcp_max_retrans() {
            let max_retrans = cfg.timeout_secs(Timeout::TcpMaxRetrans);
            if base > max_retrans {
                return max_retrans;
            }
        }
        if rst_kept || unacked {
            let unack = cfg.timeout_secs(Timeout::TcpUnacknowledged);
            if base > unack {
                return unack;
            }
        }
        if self.last_win == 0 {
            let max_retrans = cfg.timeout_secs(Timeout::TcpMaxRetrans);
            if base > max_retrans {
                return max_retrans;
            }
        }
        base
    }

    fn sender(&mut self, dir: Dir) -> &mut Peer {
        let [orig, reply] = &mut self.peers;
        match dir {
            Dir::Original => orig,
            Dir::Reply => reply,
        }
    }
}
