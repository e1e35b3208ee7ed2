//! SCTP (Linux 6.12's `nf_conntrack_proto_sctp.c`).
//!
//! The entry follows the association through the chunks it sees, one
//! transition per chunk ([`TRANSITIONS`]), and checks verification tags
//! (RFC 9260 8.5): each direction's packets must carry the tag the other
//! side announced in its INIT or INIT ACK, except the chunks that have
//! their own rules (INIT: tag 0; ABORT and SHUTDOWN COMPLETE: either tag
//! by the T bit; COOKIE ECHO; SHUTDOWN ACK; HEARTBEAT and its ACK, which
//! also let a multihomed peer's secondary path be picked up).

use crate::config::{Settings, Timeout};
use crate::entry::Status;
use crate::invalid::Invalid;
use crate::packet::Sctp as Packet;
use crate::proto::Update;
use crate::tuple::Dir;
use crate::wire::sctp::chunk;
use crate::Millis;

/// Connection states, numbered as Linux's `enum sctp_conntrack` (what
/// ctnetlink reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum SctpState {
    /// Nothing seen yet.
    None = 0,
    /// Closed (or INIT seen, waiting for INIT ACK).
    Closed = 1,
    /// INIT ACK seen.
    CookieWait = 2,
    /// COOKIE ECHO seen.
    CookieEchoed = 3,
    /// COOKIE ACK seen: the association is up.
    Established = 4,
    /// SHUTDOWN seen in the original direction.
    ShutdownSent = 5,
    /// SHUTDOWN seen in the reply direction.
    ShutdownRecd = 6,
    /// SHUTDOWN ACK seen.
    ShutdownAckSent = 7,
    /// A HEARTBEAT opened the entry (a secondary path of a multihomed
    /// association).
    HeartbeatSent = 8,
}

impl SctpState {
    /// The name `/proc` shows.
    pub fn name(self) -> &'static str {
        match self {
            SctpState::None => "NONE",
            SctpState::Closed => "CLOSED",
            SctpState::CookieWait => "COOKIE_WAIT",
            SctpState::CookieEchoed => "COOKIE_ECHOED",
            SctpState::Established => "ESTABLISHED",
            SctpState::ShutdownSent => "SHUTDOWN_SENT",
            SctpState::ShutdownRecd => "SHUTDOWN_RECD",
            SctpState::ShutdownAckSent => "SHUTDOWN_ACK_SENT",
            SctpState::HeartbeatSent => "HEARTBEAT_SENT",
        }
    }

    /// The state of ctnetlink number `n` (`CTA_PROTOINFO_SCTP_STATE`).
    pub fn from_number(n: u8) -> Option<SctpState> {
        ALL.get(usize::from(n)).copied()
    }

    /// The timeout of an entry in this state (NONE has CLOSED's, as
    /// Linux's `timeouts[0]`).
    pub fn timeout(self) -> Timeout {
        match self {
            SctpState::None | SctpState::Closed => Timeout::SctpClosed,
            SctpState::CookieWait => Timeout::SctpCookieWait,
            SctpState::CookieEchoed => Timeout::SctpCookieEchoed,
            SctpState::Established => Timeout::SctpEstablished,
            SctpState::ShutdownSent => Timeout::SctpShutdownSent,
            SctpState::ShutdownRecd => Timeout::SctpShutdownRecd,
            SctpState::ShutdownAckSent => Timeout::SctpShutdownAckSent,
            SctpState::HeartbeatSent => Timeout::SctpHeartbeatSent,
        }
    }
}

/// Every state, in number order.
const ALL: [SctpState; 9] = [
    SctpState::None,
    SctpState::Closed,
    SctpState::CookieWait,
    SctpState::CookieEchoed,
    SctpState::Established,
    SctpState::ShutdownSent,
    SctpState::ShutdownRecd,
    SctpState::ShutdownAckSent,
    SctpState::HeartbeatSent,
];

/// The chunk types with a row in [`TRANSITIONS`], in row order.
const ROWS: [u8; 11] = [
    chunk::INIT,
    chunk::INIT_ACK,
    chunk::ABORT,
    chunk::SHUTDOWN,
    chunk::SHUTDOWN_ACK,
    chunk::ERROR,
    chunk::COOKIE_ECHO,
    chunk::COOKIE_ACK,
    chunk::SHUTDOWN_COMPLETE,
    chunk::HEARTBEAT,
    chunk::HEARTBEAT_ACK,
];

use SctpState::{
    Closed as CL, CookieEchoed as CE, CookieWait as CW, Established as ES, HeartbeatSent as HS,
    ShutdownAckSent as SA, ShutdownRecd as SR, ShutdownSent as SS,
};

/// `None`: the chunk is INVALID in that state.
const IV: Option<SctpState> = None;

/// Shorthand for a table cell.
const fn s(x: SctpState) -> Option<SctpState> {
    Some(x)
}

/// Linux 6.12's `sctp_conntracks[direction][chunk][state]`, columns in
/// state order NONE, CLOSED, COOKIE_WAIT, COOKIE_ECHOED, ESTABLISHED,
/// SHUTDOWN_SENT, SHUTDOWN_RECD, SHUTDOWN_ACK_SENT, HEARTBEAT_SENT.
#[rustfmt::skip]
pub const TRANSITIONS: [[[Option<SctpState>; 9]; 11]; 2] = [
    [
        // Original direction.
        /* init          */ [s(CL), s(CL), s(CW), s(CE), s(ES), s(CL), s(CL), s(SA), s(CW)],
        /* init_ack      */ [s(CL), s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), s(CL)],
        /* abort         */ [s(CL), s(CL), s(CL), s(CL), s(CL), s(CL), s(CL), s(CL), s(CL)],
        /* shutdown      */ [s(CL), s(CL), s(CW), s(CE), s(SS), s(SS), s(SR), s(SA), s(CL)],
        /* shutdown_ack  */ [s(SA), s(CL), s(CW), s(CE), s(ES), s(SA), s(SA), s(SA), s(SA)],
        /* error         */ [s(CL), s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), s(CL)],
        /* cookie_echo   */ [s(CL), s(CL), s(CE), s(CE), s(ES), s(SS), s(SR), s(SA), s(CL)],
        /* cookie_ack    */ [s(CL), s(CL), s(CW), s(ES), s(ES), s(SS), s(SR), s(SA), s(CL)],
        /* shutdown_comp */ [s(CL), s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(CL), s(CL)],
        /* heartbeat     */ [s(HS), s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), s(HS)],
        /* heartbeat_ack */ [s(CL), s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), s(HS)],
    ],
    [
        // Reply direction: nothing can be a reply to no entry (NONE), nor
        // to a HEARTBEAT-opened one but heartbeats.
        /* init          */ [IV, s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), IV],
        /* init_ack      */ [IV, s(CW), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), IV],
        /* abort         */ [IV, s(CL), s(CL), s(CL), s(CL), s(CL), s(CL), s(CL), IV],
        /* shutdown      */ [IV, s(CL), s(CW), s(CE), s(SR), s(SS), s(SR), s(SA), IV],
        /* shutdown_ack  */ [IV, s(CL), s(CW), s(CE), s(ES), s(SA), s(SA), s(SA), IV],
        /* error         */ [IV, s(CL), s(CW), s(CL), s(ES), s(SS), s(SR), s(SA), IV],
        /* cookie_echo   */ [IV, s(CL), s(CE), s(CE), s(ES), s(SS), s(SR), s(SA), IV],
        /* cookie_ack    */ [IV, s(CL), s(CW), s(ES), s(ES), s(SS), s(SR), s(SA), IV],
        /* shutdown_comp */ [IV, s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(CL), IV],
        /* heartbeat     */ [IV, s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), s(HS)],
        /* heartbeat_ack */ [IV, s(CL), s(CW), s(CE), s(ES), s(SS), s(SR), s(SA), s(ES)],
    ],
];

/// The state after a chunk of type `ty` in direction `dir` from `cur`
/// (Linux's `sctp_new_state`): chunks without a row (DATA, SACK, ...)
/// leave the state; `None` is INVALID.
pub fn next_state(dir: Dir, cur: SctpState, ty: u8) -> Option<SctpState> {
    let Some(row) = ROWS.iter().position(|&r| r == ty) else {
        return Some(cur);
    };
    TRANSITIONS
        .get(dir.index())
        .and_then(|d| d.get(row))
        .and_then(|r| r.get(usize::from(cur as u8)))
        .copied()
        .flatten()
}

/// Chunks that carry their own tag rules: a packet with one of them skips
/// the plain verification tag check.
const OWN_TAG_RULES: [u8; 7] = [
    chunk::INIT,
    chunk::SHUTDOWN_COMPLETE,
    chunk::COOKIE_ECHO,
    chunk::ABORT,
    chunk::SHUTDOWN_ACK,
    chunk::HEARTBEAT,
    chunk::HEARTBEAT_ACK,
];

/// SCTP state of an entry (Linux's `struct ip_ct_sctp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sctp {
    state: SctpState,
    /// Verification tag each direction's packets carry.
    vtag: [u32; 2],
    /// An INIT was seen in that direction (cleared by COOKIE ACK).
    init: [bool; 2],
    /// A HEARTBEAT came with an unknown tag (a new path, or a restart).
    heartbeat_vtag_failed: bool,
    /// The direction of that HEARTBEAT.
    last_dir: Dir,
}

impl Sctp {
    /// The state a first packet opens, or why it cannot (Linux's check of
    /// out-of-the-blue packets and `sctp_new`): every chunk must be one
    /// that can start an entry, an INIT must carry tag 0.
    pub fn new(pkt: &Packet) -> Result<Sctp, Invalid> {
        if pkt.has(chunk::ABORT) || pkt.has(chunk::SHUTDOWN_COMPLETE) || pkt.has(chunk::COOKIE_ACK) {
            return Err(Invalid::SctpNotNew);
        }
        let mut s = Sctp {
            state: SctpState::None,
            vtag: [0; 2],
            init: [false; 2],
            heartbeat_vtag_failed: false,
            last_dir: Dir::Original,
        };
        for ty in pkt.chunk_types() {
            match next_state(Dir::Original, SctpState::None, ty) {
                None | Some(SctpState::None) => return Err(Invalid::SctpNotNew),
                Some(_) => {}
            }
            match ty {
                chunk::INIT => {
                    if pkt.vtag != 0 {
                        return Err(Invalid::SctpBadVtag);
                    }
                    s.set_tag(Dir::Reply, pkt.init_tag.ok_or(Invalid::BadL4Header)?);
                }
                chunk::HEARTBEAT => s.set_tag(Dir::Original, pkt.vtag),
                // An out-of-the-blue SHUTDOWN ACK is answered by a
                // SHUTDOWN COMPLETE with its tag (RFC 9260 8.4 (5)).
                chunk::SHUTDOWN_ACK => s.set_tag(Dir::Reply, pkt.vtag),
                _ => {}
            }
        }
        Ok(s)
    }

    /// State of the association.
    pub fn state(&self) -> SctpState {
        self.state
    }

    /// The verification tag each direction carries (ctnetlink's
    /// `CTA_PROTOINFO_SCTP_VTAG_ORIGINAL` / `_REPLY`).
    pub fn vtags(&self) -> [u32; 2] {
        self.vtag
    }

    /// State and tags as ctnetlink sets them (`nlattr_to_sctp`).
    pub fn made(state: SctpState, vtags: [u32; 2]) -> Sctp {
        Sctp { state, vtag: vtags, init: [false; 2], heartbeat_vtag_failed: false, last_dir: Dir::Original }
    }

    /// Sets state and tags (a ctnetlink update with the SCTP nest).
    pub fn set(&mut self, state: SctpState, vtags: [u32; 2]) {
        self.state = state;
        self.vtag = vtags;
    }

    /// Whether the entry may be dropped early under pressure, assured or
    /// not (Linux's `sctp_can_early_drop`).
    pub fn can_early_drop(&self) -> bool {
        matches!(
            self.state,
            SctpState::ShutdownSent | SctpState::ShutdownRecd | SctpState::ShutdownAckSent
        )
    }

    fn tag(&self, dir: Dir) -> u32 {
        self.vtag.get(dir.index()).copied().unwrap_or(0)
    }

    fn set_tag(&mut self, dir: Dir, tag: u32) {
        if let Some(t) = self.vtag.get_mut(dir.index()) {
            *t = tag;
        }
    }

    fn init_seen(&self, dir: Dir) -> bool {
        self.init.get(dir.index()).copied().unwrap_or(false)
    }

    fn set_init(&mut self, dir: Dir, v: bool) {
        if let Some(i) = self.init.get_mut(dir.index()) {
            *i = v;
        }
    }

    /// A packet in direction `dir` (Linux's `nf_conntrack_sctp_packet`
    /// after its basic checks). `confirmed` is false for the packet that
    /// opens the entry. As in Linux, chunks before an INVALID one keep
    /// what they changed.
    pub fn update(
        &mut self,
        dir: Dir,
        pkt: &Packet,
        confirmed: bool,
        status: &mut Status,
        cfg: &impl Settings,
    ) -> Update {
        let own_rules = OWN_TAG_RULES.iter().any(|&t| pkt.has(t));
        if !own_rules && pkt.vtag != self.tag(dir) {
            return Update::Invalid(Invalid::SctpBadVtag);
        }
        let mut new_state = SctpState::None;
        let mut ignore = false;
        let has_data = pkt.has(chunk::DATA);
        for (i, ty) in pkt.chunk_types().enumerate() {
            match self.chunk_tags(dir, pkt, i, ty, has_data, &mut ignore) {
                Tags::Ok => {}
                Tags::Skip => continue,
                Tags::Invalid => return Update::Invalid(Invalid::SctpBadVtag),
            }
            let old_state = self.state;
            let Some(next) = next_state(dir, old_state, ty) else {
                return Update::Invalid(Invalid::SctpBadTransition);
            };
            new_state = next;
            if ty == chunk::INIT {
                let Some(tag) = pkt.init_tag else {
                    return Update::Invalid(Invalid::BadL4Header);
                };
                // An INIT with the peer's tag is a stale or retransmitted
                // one: not recorded.
                if old_state == SctpState::None || self.tag(dir.other()) != tag {
                    if self.init_seen(dir) && self.init_seen(dir.other()) {
                        self.set_init(dir.other(), false);
                    }
                    self.set_init(dir, true);
                }
                self.set_tag(dir.other(), tag);
                // A retransmitted INIT does not keep a closed entry alive.
                if new_state == SctpState::Closed && old_state == SctpState::Closed && confirmed {
                    ignore = true;
                }
            } else if ty == chunk::INIT_ACK {
                let Some(tag) = pkt.init_tag else {
                    return Update::Invalid(Invalid::BadL4Header);
                };
                let known = self.tag(dir.other());
                if !self.init_seen(dir.other()) && known != 0 && known != tag {
                    return Update::Invalid(Invalid::SctpBadVtag);
                }
                // INIT collision: both sides sent INIT.
                if self.init_seen(dir) && self.init_seen(dir.other()) && known != tag {
                    return Update::Invalid(Invalid::SctpBadVtag);
                }
                self.set_tag(dir.other(), tag);
            }
            self.state = new_state;
            if old_state != new_state && new_state == SctpState::Established {
                status.set(Status::ASSURED);
            }
        }
        if ignore {
            return Update::Ignore;
        }
        Update::Accept { timeout: timeout(new_state, cfg) }
    }

    /// The verification tag rules of chunk `i` (of type `ty`) of a packet
    /// (RFC 9260 8.5.1 and Linux's HEARTBEAT handling).
    fn chunk_tags(&mut self, dir: Dir, pkt: &Packet, i: usize, ty: u8, has_data: bool, ignore: &mut bool) -> Tags {
        let own = self.tag(dir);
        let peer = self.tag(dir.other());
        let ok = |c: bool| if c { Tags::Ok } else { Tags::Invalid };
        match ty {
            // (A) an INIT carries tag 0.
            chunk::INIT => ok(pkt.vtag == 0),
            // (B), (C): the sender's own tag, or with T the peer's.
            chunk::ABORT | chunk::SHUTDOWN_COMPLETE => {
                ok(pkt.vtag == if pkt.t_flag(i) { peer } else { own })
            }
            // (D) the tag of the INIT ACK.
            chunk::COOKIE_ECHO => ok(pkt.vtag == own),
            chunk::COOKIE_ACK => {
                self.init = [false; 2];
                Tags::Ok
            }
            chunk::HEARTBEAT => {
                if own == 0 {
                    self.set_tag(dir, pkt.vtag);
                } else if pkt.vtag != own {
                    if has_data || *ignore {
                        return Tags::Invalid;
                    }
                    // Maybe a restarted peer: let it through unrefreshed
                    // and see whether the other side answers.
                    self.heartbeat_vtag_failed = true;
                    self.last_dir = dir;
                    *ignore = true;
                    return Tags::Skip;
                } else {
                    self.heartbeat_vtag_failed = false;
                }
                Tags::Ok
            }
            chunk::HEARTBEAT_ACK => {
                if own == 0 {
                    self.set_tag(dir, pkt.vtag);
                } else if pkt.vtag != own {
                    if has_data || *ignore || !self.heartbeat_vtag_failed || self.last_dir == dir {
                        return Tags::Invalid;
                    }
                    // The answer to that HEARTBEAT: the tags moved.
                    self.heartbeat_vtag_failed = false;
                    self.set_tag(dir, pkt.vtag);
                    self.set_tag(dir.other(), 0);
                } else {
                    self.heartbeat_vtag_failed = false;
                }
                Tags::Ok
            }
            _ => Tags::Ok,
        }
    }
}

/// What the tag rules say about one chunk.
enum Tags {
    /// Go on with the chunk's transition.
    Ok,
    /// Skip the chunk (a HEARTBEAT with an unknown tag).
    Skip,
    /// The packet is INVALID.
    Invalid,
}

/// The timeout of an entry in `state`.
pub fn timeout(state: SctpState, cfg: &impl Settings) -> Millis {
    cfg.timeout(state.timeout())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn pkt(vtag: u32, chunks: &[(u8, bool)], init_tag: Option<u32>) -> Packet {
        let mut p = Packet::default();
        p.vtag = vtag;
        p.init_tag = init_tag;
        for &(ty, t) in chunks {
            p.push(ty, t);
        }
        p
    }

    const A_TAG: u32 = 0x1111_1111;
    const B_TAG: u32 = 0x2222_2222;

    /// The four-way handshake, data, and the three-way shutdown.
    #[test]
    fn association_lifecycle() {
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        let init = pkt(0, &[(chunk::INIT, false)], Some(A_TAG));
        let mut s = Sctp::new(&init).unwrap();
        assert_eq!(s.update(Dir::Original, &init, false, &mut st, &cfg), Update::Accept { timeout: 10_000 });
        assert_eq!(s.state(), SctpState::Closed);
        let init_ack = pkt(A_TAG, &[(chunk::INIT_ACK, false)], Some(B_TAG));
        assert_eq!(s.update(Dir::Reply, &init_ack, true, &mut st, &cfg), Update::Accept { timeout: 3000 });
        assert_eq!((s.state(), s.vtags()), (SctpState::CookieWait, [B_TAG, A_TAG]));
        let echo = pkt(B_TAG, &[(chunk::COOKIE_ECHO, false), (chunk::DATA, false)], None);
        s.update(Dir::Original, &echo, true, &mut st, &cfg);
        assert_eq!(s.state(), SctpState::CookieEchoed);
        let ack = pkt(A_TAG, &[(chunk::COOKIE_ACK, false)], None);
        assert_eq!(s.update(Dir::Reply, &ack, true, &mut st, &cfg), Update::Accept { timeout: 210_000 });
        assert!(st.has(Status::ASSURED));
        // DATA with the right tag; with a wrong one INVALID.
        let data = pkt(B_TAG, &[(chunk::DATA, false)], None);
        assert_eq!(s.update(Dir::Original, &data, true, &mut st, &cfg), Update::Accept { timeout: 210_000 });
        let bad = pkt(A_TAG, &[(chunk::DATA, false)], None);
        assert_eq!(s.update(Dir::Original, &bad, true, &mut st, &cfg), Update::Invalid(Invalid::SctpBadVtag));
        // Shutdown from the original side.
        s.update(Dir::Original, &pkt(B_TAG, &[(chunk::SHUTDOWN, false)], None), true, &mut st, &cfg);
        assert_eq!(s.state(), SctpState::ShutdownSent);
        assert!(s.can_early_drop());
        s.update(Dir::Reply, &pkt(A_TAG, &[(chunk::SHUTDOWN_ACK, false)], None), true, &mut st, &cfg);
        assert_eq!(s.state(), SctpState::ShutdownAckSent);
        // SHUTDOWN COMPLETE with the sender's tag closes.
        let done = pkt(B_TAG, &[(chunk::SHUTDOWN_COMPLETE, false)], None);
        assert_eq!(s.update(Dir::Original, &done, true, &mut st, &cfg), Update::Accept { timeout: 10_000 });
        assert_eq!(s.state(), SctpState::Closed);
    }

    #[test]
    fn first_packets() {
        // INIT with a non-zero tag, or without its fixed part.
        assert_eq!(Sctp::new(&pkt(5, &[(chunk::INIT, false)], Some(1))), Err(Invalid::SctpBadVtag));
        assert_eq!(Sctp::new(&pkt(0, &[(chunk::INIT, false)], None)), Err(Invalid::BadL4Header));
        // Out of the blue: ABORT, SHUTDOWN COMPLETE, COOKIE ACK; DATA.
        for ty in [chunk::ABORT, chunk::SHUTDOWN_COMPLETE, chunk::COOKIE_ACK, chunk::DATA, chunk::SACK] {
            assert_eq!(Sctp::new(&pkt(7, &[(ty, false)], None)), Err(Invalid::SctpNotNew), "{ty}");
        }
        // A HEARTBEAT opens HEARTBEAT_SENT with its tag for the original
        // direction; its ACK establishes.
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        let hb = pkt(9, &[(chunk::HEARTBEAT, false)], None);
        let mut s = Sctp::new(&hb).unwrap();
        assert_eq!(s.update(Dir::Original, &hb, false, &mut st, &cfg), Update::Accept { timeout: 30_000 });
        assert_eq!((s.state(), s.vtags()), (SctpState::HeartbeatSent, [9, 0]));
        let hb_ack = pkt(8, &[(chunk::HEARTBEAT_ACK, false)], None);
        s.update(Dir::Reply, &hb_ack, true, &mut st, &cfg);
        assert_eq!((s.state(), s.vtags()), (SctpState::Established, [9, 8]));
        // Nothing but heartbeats may answer a HEARTBEAT-opened entry.
        let mut s2 = Sctp::new(&hb).unwrap();
        s2.update(Dir::Original, &hb, false, &mut st, &cfg);
        let init_ack = pkt(0, &[(chunk::INIT_ACK, false)], Some(1));
        assert_eq!(s2.update(Dir::Reply, &init_ack, true, &mut st, &cfg), Update::Invalid(Invalid::SctpBadTransition));
    }

    #[test]
    fn init_retransmission_does_not_refresh() {
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        let init = pkt(0, &[(chunk::INIT, false)], Some(A_TAG));
        let mut s = Sctp::new(&init).unwrap();
        s.update(Dir::Original, &init, false, &mut st, &cfg);
        assert_eq!(s.update(Dir::Original, &init, true, &mut st, &cfg), Update::Ignore);
    }

    #[test]
    fn abort_tags_follow_the_t_bit() {
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        let init = pkt(0, &[(chunk::INIT, false)], Some(A_TAG));
        let mut s = Sctp::new(&init).unwrap();
        s.update(Dir::Original, &init, false, &mut st, &cfg);
        s.update(Dir::Reply, &pkt(A_TAG, &[(chunk::INIT_ACK, false)], Some(B_TAG)), true, &mut st, &cfg);
        // Reply direction's own tag is A_TAG; with T it must be B_TAG.
        let t_wrong = pkt(A_TAG, &[(chunk::ABORT, true)], None);
        assert_eq!(s.update(Dir::Reply, &t_wrong, true, &mut st, &cfg), Update::Invalid(Invalid::SctpBadVtag));
        let t_right = pkt(B_TAG, &[(chunk::ABORT, true)], None);
        assert_eq!(s.update(Dir::Reply, &t_right, true, &mut st, &cfg), Update::Accept { timeout: 10_000 });
        assert_eq!(s.state(), SctpState::Closed);
    }

    #[test]
    fn heartbeat_restart_moves_tags() {
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        let mut s = Sctp::made(SctpState::Established, [A_TAG, B_TAG]);
        // A HEARTBEAT with an unknown tag passes without refreshing.
        let hb = pkt(0x77, &[(chunk::HEARTBEAT, false)], None);
        assert_eq!(s.update(Dir::Original, &hb, true, &mut st, &cfg), Update::Ignore);
        // Its ACK from the same side is INVALID; from the other side it
        // takes the new tag and forgets the old one.
        let same = pkt(0x78, &[(chunk::HEARTBEAT_ACK, false)], None);
        assert_eq!(s.update(Dir::Original, &same, true, &mut st, &cfg), Update::Invalid(Invalid::SctpBadVtag));
        let ack = pkt(0x88, &[(chunk::HEARTBEAT_ACK, false)], None);
        assert_eq!(s.update(Dir::Reply, &ack, true, &mut st, &cfg), Update::Accept { timeout: 210_000 });
        assert_eq!(s.vtags(), [0, 0x88]);
        // With DATA bundled, an unknown HEARTBEAT tag is INVALID.
        let mut s = Sctp::made(SctpState::Established, [A_TAG, B_TAG]);
        let hb_data = pkt(0x77, &[(chunk::HEARTBEAT, false), (chunk::DATA, false)], None);
        assert_eq!(s.update(Dir::Original, &hb_data, true, &mut st, &cfg), Update::Invalid(Invalid::SctpBadVtag));
    }

    #[test]
    fn table_matches_linux_spot_checks() {
        use SctpState as S;
        // Rows and columns as in nf_conntrack_proto_sctp.c.
        assert_eq!(next_state(Dir::Original, S::None, chunk::SHUTDOWN_ACK), Some(S::ShutdownAckSent));
        assert_eq!(next_state(Dir::Reply, S::Established, chunk::SHUTDOWN), Some(S::ShutdownRecd));
        assert_eq!(next_state(Dir::Reply, S::CookieEchoed, chunk::ERROR), Some(S::Closed));
        assert_eq!(next_state(Dir::Original, S::CookieEchoed, chunk::ERROR), Some(S::CookieEchoed));
        assert_eq!(next_state(Dir::Reply, S::HeartbeatSent, chunk::HEARTBEAT_ACK), Some(S::Established));
        assert_eq!(next_state(Dir::Reply, S::None, chunk::DATA), Some(S::None));
        assert_eq!(next_state(Dir::Reply, S::None, chunk::INIT), None);
        for (n, st) in ALL.iter().enumerate() {
            assert_eq!(SctpState::from_number(n as u8), Some(*st));
        }
        assert_eq!(SctpState::from_number(9), None);
    }
}
