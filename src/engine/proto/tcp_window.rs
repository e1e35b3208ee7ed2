//! TCP sequence and window tracking: is a segment plausible for what each
//! side has sent and allowed so far? (Linux 6.12 `tcp_in_window`.)
//!
//! # Terms
//!
//! We sit in the middle and only see segments, so we keep, per direction,
//! an estimate of what that side ("the sender" of the packet at hand) has
//! done; "the receiver" is the other direction. Sequence numbers live on a
//! circle of 2^32 and are only compared with [`before`] and [`after`].
//!
//! - `end`: the highest `seq + len` the sender has sent (SYN and FIN count
//!   one each). Everything below it has been sent at least once.
//! - `maxend`: the furthest the sender may send: the highest
//!   `ack + max(window, 1)` the receiver has advertised to it.
//! - `maxwin`: the largest window the sender has advertised (scaled, plus
//!   the SACKed span beyond its ACK), grown when the receiver's data
//!   overshoots what we thought allowed.
//! - `maxack`: the highest ACK the sender has sent (valid once
//!   [`Flags::MAXACK_SET`] is set).
//! - `sack`: the ACK of the packet at hand, or the highest right edge of
//!   its SACK blocks when the receiver agreed to SACK.
//! - `ACK_SLACK` (Linux's `MAXACKWINDOW`): how far behind the receiver's
//!   `end` an ACK may lag: the sender's `maxwin`, at least 66000.
//!
//! # Bounds a segment must meet
//!
//! - I. `seq <= sender.maxend`: data starts inside the receiver's window.
//! - II. `seq + len >= sender.end - receiver.maxwin`: data is not older
//!   than one window (older data is a harmless retransmission).
//! - III. `sack <= receiver.end`: nothing is acknowledged before it was
//!   sent.
//! - IV. `sack >= receiver.end - ACK_SLACK`: the ACK is not hopelessly old.
//!
//! A segment must intersect the window (RFC 793), so data may run past the
//! right edge as long as it starts inside it. Breaking I or III makes the
//! packet INVALID; breaking II or IV (stale but harmless) lets it pass
//! without refreshing the entry. The sender's or the global liberal
//! setting turns every failure into a plain pass.

use crate::packet::{Segment, TcpFlags};
use crate::proto::tcp::TcpState;
use crate::tuple::Dir;

/// The largest window scale shift TCP allows (RFC 7323).
pub(crate) const MAX_WSCALE: u8 = 14;

/// The least ACK slack (Linux's `MAXACKWINCONST`).
const MIN_ACK_SLACK: u32 = 66_000;

/// Whether sequence number `a` comes before `b` on the 2^32 circle.
pub fn before(a: u32, b: u32) -> bool {
    // The signed distance from b to a is negative.
    (a.wrapping_sub(b) as i32) < 0
}

/// Whether sequence number `a` comes after `b` on the 2^32 circle.
pub fn after(a: u32, b: u32) -> bool {
    before(b, a)
}

/// Per-direction bits; the values are Linux's `IP_CT_TCP_FLAG_*`, and the
/// two high bits are only used in [`crate::proto::tcp::Tcp`]'s record of
/// the last packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Flags(pub u8);

impl Flags {
    /// The side sent the window scale option on its SYN.
    pub const WINDOW_SCALE: u8 = 0x01;
    /// The side sent SACK-permitted on its SYN.
    pub const SACK_PERM: u8 = 0x02;
    /// The side sent the first FIN.
    pub const CLOSE_INIT: u8 = 0x04;
    /// Window failures of this side's packets are tolerated.
    pub const BE_LIBERAL: u8 = 0x08;
    /// The side has sent data the other side has not acknowledged yet.
    pub const DATA_UNACKNOWLEDGED: u8 = 0x10;
    /// `maxack` holds a real value.
    pub const MAXACK_SET: u8 = 0x20;

    /// Whether every bit of `mask` is set.
    pub fn has(self, mask: u8) -> bool {
        self.0 & mask == mask
    }

    fn set(&mut self, mask: u8) {
        self.0 |= mask;
    }

    fn clear(&mut self, mask: u8) {
        self.0 &= !mask;
    }
}

/// What we know of one direction's sequence space (Linux's
/// `ip_ct_tcp_state`). See the module documentation for the terms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Peer {
    end: u32,
    maxend: u32,
    maxwin: u32,
    maxack: u32,
    scale: u8,
    flags: Flags,
}

impl Peer {
    /// Highest `seq + len` sent.
    pub fn end(&self) -> u32 {
        self.end
    }

    /// The furthest this side may send.
    pub fn max_end(&self) -> u32 {
        self.maxend
    }

    /// Largest window this side advertised; 0 while nothing is known.
    pub fn max_win(&self) -> u32 {
        self.maxwin
    }

    /// Highest ACK sent, when [`Flags::MAXACK_SET`] is set.
    pub fn max_ack(&self) -> u32 {
        self.maxack
    }

    /// The window scale shift applied to this side's windows.
    pub fn scale(&self) -> u8 {
        self.scale
    }

    /// Option and state bits.
    pub fn flags(&self) -> Flags {
        self.flags
    }

    pub(crate) fn set_flag(&mut self, mask: u8) {
        self.flags.set(mask);
    }

    /// Starts tracking from the first SYN of an entry (Linux `tcp_new`).
    pub(crate) fn from_syn(seg: &Segment) -> Peer {
        let end = segment_end(seg);
        let mut peer = Peer {
            end,
            maxend: end,
            maxwin: u32::from(seg.window).max(1),
            ..Peer::default()
        };
        peer.take_options(seg);
        peer
    }

    /// Starts tracking from a packet in the middle of a connection (the
    /// `tcp_loose` pickup): the window is a guess, so checks are liberal.
    pub(crate) fn picked_up(seg: &Segment) -> Peer {
        let end = segment_end(seg);
        let maxwin = u32::from(seg.window).max(1);
        Peer {
            end,
            maxend: end.wrapping_add(maxwin),
            maxwin,
            flags: Flags(Flags::SACK_PERM | Flags::BE_LIBERAL),
            ..Peer::default()
        }
    }

    /// The other side of a picked-up connection: nothing known, but we
    /// assume SACK and stay liberal, as for the side we saw.
    pub(crate) fn unknown_liberal() -> Peer {
        Peer {
            flags: Flags(Flags::SACK_PERM | Flags::BE_LIBERAL),
            ..Peer::default()
        }
    }

    /// A side nothing is known of yet, with `flags` and window scale
    /// `scale` (an entry made through ctnetlink): its window data comes
    /// with its next packet.
    pub(crate) fn unknown_with(flags: u8, scale: u8) -> Peer {
        Peer {
            flags: Flags(flags),
            scale,
            ..Peer::default()
        }
    }

    /// Sets the flags of `mask` to those of `flags` (ctnetlink's
    /// `struct nf_ct_tcp_flags`).
    pub(crate) fn set_flags_masked(&mut self, flags: u8, mask: u8) {
        self.flags.clear(mask);
        self.flags.set(flags & mask);
    }

    /// Sets the window scale shift.
    pub(crate) fn set_scale(&mut self, scale: u8) {
        self.scale = scale;
    }

    /// Restores a SYN we let pass without tracking it (see
    /// `Tcp::resync_from_ignored_syn`).
    pub(crate) fn from_ignored_syn(end: u32, win: u16, scale: u8, flags: u8) -> Peer {
        Peer {
            end,
            maxend: end,
            maxwin: u32::from(win).max(1),
            scale,
            flags: Flags(flags),
            ..Peer::default()
        }
    }

    /// Forgets everything but the liberal bit.
    pub(crate) fn reset(&mut self) {
        *self = Peer {
            flags: Flags(self.flags.0 & Flags::BE_LIBERAL),
            ..Peer::default()
        };
    }

    /// Records the window scale and SACK-permitted options of a SYN. A
    /// segment without options leaves what we had (as Linux does when the
    /// option space is empty).
    fn take_options(&mut self, seg: &Segment) {
        let has_options = seg.wscale.is_some() || seg.sack_perm || seg.sack_edge.is_some();
        if !has_options {
            return;
        }
        self.scale = 0;
        self.flags = Flags(self.flags.0 & Flags::BE_LIBERAL);
        if seg.sack_perm {
            self.flags.set(Flags::SACK_PERM);
        }
        if let Some(ws) = seg.wscale {
            self.scale = ws.min(MAX_WSCALE);
            self.flags.set(Flags::WINDOW_SCALE);
        }
    }

    /// Linux's `MAXACKWINDOW`: how far behind an ACK of this side's
    /// packets may lag.
    fn ack_slack(&self) -> u32 {
        self.maxwin.max(MIN_ACK_SLACK)
    }
}

/// `seq + len`, SYN and FIN counting one each.
pub(crate) fn segment_end(seg: &Segment) -> u32 {
    seg.seq
        .wrapping_add(seg.payload_len)
        .wrapping_add(u32::from(seg.flags.has(TcpFlags::SYN)))
        .wrapping_add(u32::from(seg.flags.has(TcpFlags::FIN)))
}

/// The outcome of the window check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// All bounds hold; both directions' data were updated.
    InWindow,
    /// A bound failed but liberal checking lets the packet through as if
    /// it were fine (nothing updated).
    Tolerated,
    /// Stale or overshooting but harmless: pass without refreshing.
    Ignore,
    /// Breaks bound I or III.
    Invalid,
}

/// The values of the packet the checks work on.
struct Seen {
    seq: u32,
    ack: u32,
    sack: u32,
    end: u32,
    win: u32,
    syn: bool,
    has_ack: bool,
}

/// Checks `seg`, sent in direction `dir`, against the tracked windows and
/// updates them. `state` is the entry's stored state; `liberal` is the
/// global `tcp_be_liberal` setting.
pub(crate) fn in_window(
    peers: &mut [Peer; 2],
    dir: Dir,
    seg: &Segment,
    state: TcpState,
    liberal: bool,
) -> Verdict {
    let (sender, receiver) = split(peers, dir);
    let mut p = seen(seg, receiver);
    if let Some(done) = init_sender(sender, receiver, seg, &p, dir, state) {
        return done;
    }
    fill_missing_ack(&mut p, seg, receiver);
    if seg.flags.has(TcpFlags::RST) && p.seq == 0 && state == TcpState::SynSent {
        // An RST answering a SYN may carry seq 0: take it as exact.
        p.seq = sender.end;
        p.end = sender.end;
    }
    let verdict = check_bounds(sender, receiver, &p);
    if verdict != Verdict::InWindow {
        let tolerated = liberal || sender.flags.has(Flags::BE_LIBERAL);
        return if tolerated {
            Verdict::Tolerated
        } else {
            verdict
        };
    }
    record(sender, receiver, &p);
    Verdict::InWindow
}

/// (sender, receiver) for a packet travelling in `dir`.
fn split(peers: &mut [Peer; 2], dir: Dir) -> (&mut Peer, &mut Peer) {
    let [orig, reply] = peers;
    match dir {
        Dir::Original => (orig, reply),
        Dir::Reply => (reply, orig),
    }
}

fn seen(seg: &Segment, receiver: &Peer) -> Seen {
    let mut sack = seg.ack;
    if receiver.flags.has(Flags::SACK_PERM) {
        if let Some(edge) = seg.sack_edge {
            if after(edge, sack) {
                sack = edge;
            }
        }
    }
    Seen {
        seq: seg.seq,
        ack: seg.ack,
        sack,
        end: segment_end(seg),
        win: u32::from(seg.window),
        syn: seg.flags.has(TcpFlags::SYN),
        has_ack: seg.flags.has(TcpFlags::ACK),
    }
}

/// Sets up the sender's data when we know nothing of it yet, or when it
/// restarts its handshake with a higher sequence number. Returns a verdict
/// when the packet needs no further checks (a SYN without ACK that just
/// defined the sender's side).
fn init_sender(
    sender: &mut Peer,
    receiver: &mut Peer,
    seg: &Segment,
    p: &Seen,
    dir: Dir,
    state: TcpState,
) -> Option<Verdict> {
    if sender.maxwin == 0 {
        if p.syn {
            init_from_syn(sender, receiver, seg, p, dir);
            // A SYN without ACK from this side: simultaneous open.
            return (!p.has_ack).then_some(Verdict::InWindow);
        }
        init_mid_stream(sender, receiver, p);
        return None;
    }
    let handshaking = matches!(state, TcpState::SynSent | TcpState::SynRecv);
    if p.syn && handshaking && after(p.end, sender.end) {
        // RFC 793: a restarted TCP only has to use higher sequence numbers;
        // take the new SYN (options included) as if it were the first.
        init_from_syn(sender, receiver, seg, p, dir);
        if dir == Dir::Reply && !p.has_ack {
            return Some(Verdict::InWindow);
        }
    }
    None
}

/// Sender data from its SYN or SYN/ACK. Window scaling counts only when
/// both SYNs carry the option (RFC 7323), which is known once the reply
/// direction's SYN is seen.
fn init_from_syn(sender: &mut Peer, receiver: &mut Peer, seg: &Segment, p: &Seen, dir: Dir) {
    sender.end = p.end;
    sender.maxend = p.end;
    sender.maxwin = p.win.max(1);
    sender.take_options(seg);
    let both_scale =
        sender.flags.has(Flags::WINDOW_SCALE) && receiver.flags.has(Flags::WINDOW_SCALE);
    if dir == Dir::Reply && !both_scale {
        sender.scale = 0;
        receiver.scale = 0;
    }
}

/// Sender data guessed from a packet in the middle of the connection.
fn init_mid_stream(sender: &mut Peer, receiver: &mut Peer, p: &Seen) {
    sender.end = p.end;
    sender.maxwin = p.win.wrapping_shl(u32::from(sender.scale)).max(1);
    sender.maxend = p.end.wrapping_add(sender.maxwin);
    if receiver.maxwin == 0 {
        // Nothing seen the other way yet: make III and IV pass for now.
        receiver.end = p.sack;
        receiver.maxend = p.sack;
    } else if p.sack == receiver.end.wrapping_add(1) {
        // Probably the answer to a keepalive: needed for III.
        receiver.end = receiver.end.wrapping_add(1);
    }
}

/// Without an ACK (or with a broken RST+ACK carrying ack 0) pretend the
/// packet acknowledged exactly what the receiver sent.
fn fill_missing_ack(p: &mut Seen, seg: &Segment, receiver: &Peer) {
    let broken_rst = seg.flags.has(TcpFlags::RST) && p.has_ack && seg.ack == 0;
    if !p.has_ack || broken_rst {
        p.ack = receiver.end;
        p.sack = receiver.end;
    }
}

/// Bounds I to IV (module documentation).
fn check_bounds(sender: &mut Peer, receiver: &Peer, p: &Seen) -> Verdict {
    let ack_floor = receiver
        .end
        .wrapping_sub(sender.ack_slack())
        .wrapping_sub(1);
    // Bound II's floor: one receiver window behind what was sent.
    let data_floor = sender.end.wrapping_sub(receiver.maxwin).wrapping_sub(1);
    let ack_sent = before(p.sack, receiver.end.wrapping_add(1));
    if !before(p.seq, sender.maxend.wrapping_add(1)) {
        return overshoot(sender, receiver, p, ack_floor, data_floor, ack_sent);
    }
    if !ack_sent {
        return Verdict::Invalid; // III
    }
    if receiver.maxwin != 0 && !after(p.end, data_floor) {
        return Verdict::Ignore; // II: already acknowledged data again
    }
    if !after(p.sack, ack_floor) {
        return Verdict::Ignore; // IV: an overly delayed ACK
    }
    Verdict::InWindow
}

/// Bound I failed. Some stacks send a little more than the receiver's
/// window allows: if everything else is fine and the excess is at most one
/// window, remember the data (so its ACK will pass III) but let the packet
/// pass unrefreshed.
fn overshoot(
    sender: &mut Peer,
    receiver: &Peer,
    p: &Seen,
    ack_floor: u32,
    data_floor: u32,
    ack_sent: bool,
) -> Verdict {
    let excess = p.end.wrapping_sub(sender.maxend).wrapping_add(1);
    let near = receiver.maxwin != 0 && after(p.end, data_floor);
    if near && after(p.sack, ack_floor) && excess <= receiver.maxwin && ack_sent {
        sender.end = p.end;
        sender.flags.set(Flags::DATA_UNACKNOWLEDGED);
        return Verdict::Ignore;
    }
    Verdict::Invalid
}

/// Moves both directions' data forward after an in-window packet.
fn record(sender: &mut Peer, receiver: &mut Peer, p: &Seen) {
    // SYN windows are never scaled.
    let win = if p.syn {
        p.win
    } else {
        p.win.wrapping_shl(u32::from(sender.scale))
    };
    let swin = win.wrapping_add(p.sack.wrapping_sub(p.ack));
    sender.maxwin = sender.maxwin.max(swin);
    if after(p.end, sender.end) {
        sender.end = p.end;
        sender.flags.set(Flags::DATA_UNACKNOWLEDGED);
    }
    if p.has_ack {
        if !sender.flags.has(Flags::MAXACK_SET) {
            sender.maxack = p.ack;
            sender.flags.set(Flags::MAXACK_SET);
        } else if after(p.ack, sender.maxack) {
            sender.maxack = p.ack;
        }
    }
    if receiver.maxwin != 0 && after(p.end, sender.maxend) {
        // The sender went past what we thought allowed: the receiver's
        // window must be larger than we knew.
        let grow = p.end.wrapping_sub(sender.maxend);
        receiver.maxwin = receiver.maxwin.wrapping_add(grow);
    }
    let right_edge = p.sack.wrapping_add(win);
    if after(right_edge, receiver.maxend.wrapping_sub(1)) {
        // A zero window still allows one byte (a window probe).
        receiver.maxend = right_edge.wrapping_add(u32::from(win == 0));
    }
    if p.ack == receiver.end {
        receiver.flags.clear(Flags::DATA_UNACKNOWLEDGED);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn wrap_aware_order() {
        assert!(before(1, 2));
        assert!(!before(2, 1));
        assert!(!before(5, 5));
        assert!(before(0xffff_fff0, 0x10));
        assert!(after(0x10, 0xffff_fff0));
        assert!(!after(7, 7));
    }

    #[test]
    fn segment_end_counts_syn_and_fin() {
        let mut seg = Segment {
            seq: u32::MAX,
            payload_len: 1,
            ..Segment::default()
        };
        assert_eq!(segment_end(&seg), 0);
        seg.flags = TcpFlags(TcpFlags::SYN);
        assert_eq!(segment_end(&seg), 1);
        seg.flags = TcpFlags(TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(segment_end(&seg), 1);
    }

    #[test]
    fn options_clamp_scale() {
        let seg = Segment {
            flags: TcpFlags(TcpFlags::SYN),
            wscale: Some(20),
            ..Segment::default()
        };
        let peer = Peer::from_syn(&seg);
        assert_eq!(peer.scale(), MAX_WSCALE);
        assert!(peer.flags().has(Flags::WINDOW_SCALE));
        assert_eq!(peer.max_win(), 1);
    }
}
