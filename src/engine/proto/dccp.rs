//! DCCP (Linux 6.12's `nf_conntrack_proto_dccp.c`).
//!
//! As for TCP, the tracker sits in the middle and follows the handshake
//! (Request, Response, Ack), the open phase and the close (CloseReq,
//! Close, Reset). Each direction has a role, client or server, and the
//! transition depends on the sender's role ([`TRANSITIONS`]). Packets the
//! tracker cannot judge (a Request on an open connection, Sync) pass
//! without refreshing the entry; a Response to such an ignored Request
//! resynchronises it with the roles reversed.

use crate::config::{Settings, Timeout};
use crate::entry::Status;
use crate::invalid::Invalid;
use crate::packet::Dccp as Packet;
use crate::proto::Update;
use crate::tuple::Dir;
use crate::wire::dccp::ty;
use crate::Millis;

/// Connection states, numbered as Linux's `enum ct_dccp_states`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum DccpState {
    /// Nothing seen yet.
    None = 0,
    /// Request seen, waiting for the server's Response.
    Request = 1,
    /// Response seen, waiting for the client's Ack.
    Respond = 2,
    /// Ack after the Response seen, waiting for the server's next packet.
    PartOpen = 3,
    /// Open.
    Open = 4,
    /// CloseReq from the server seen.
    CloseReq = 5,
    /// Close seen, waiting for the Reset.
    Closing = 6,
    /// Reset seen.
    TimeWait = 7,
}

impl DccpState {
    /// The name `/proc` shows.
    pub fn name(self) -> &'static str {
        match self {
            DccpState::None => "NONE",
            DccpState::Request => "REQUEST",
            DccpState::Respond => "RESPOND",
            DccpState::PartOpen => "PARTOPEN",
            DccpState::Open => "OPEN",
            DccpState::CloseReq => "CLOSEREQ",
            DccpState::Closing => "CLOSING",
            DccpState::TimeWait => "TIMEWAIT",
        }
    }

    /// The state of ctnetlink number `n` (`CTA_PROTOINFO_DCCP_STATE`;
    /// Linux refuses IGNORE and INVALID, 8 and up).
    pub fn from_number(n: u8) -> Option<DccpState> {
        ALL.get(usize::from(n)).copied()
    }

    /// The timeout of an entry in this state (NONE has REQUEST's).
    pub fn timeout(self) -> Timeout {
        match self {
            DccpState::None | DccpState::Request => Timeout::DccpRequest,
            DccpState::Respond => Timeout::DccpRespond,
            DccpState::PartOpen => Timeout::DccpPartOpen,
            DccpState::Open => Timeout::DccpOpen,
            DccpState::CloseReq => Timeout::DccpCloseReq,
            DccpState::Closing => Timeout::DccpClosing,
            DccpState::TimeWait => Timeout::DccpTimeWait,
        }
    }
}

/// Every state, in number order.
const ALL: [DccpState; 8] = [
    DccpState::None,
    DccpState::Request,
    DccpState::Respond,
    DccpState::PartOpen,
    DccpState::Open,
    DccpState::CloseReq,
    DccpState::Closing,
    DccpState::TimeWait,
];

/// What a packet does, by the sender's role, its type and the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Move to the state.
    To(DccpState),
    /// Pass without refreshing (`CT_DCCP_IGNORE`).
    Ignore,
    /// INVALID.
    Invalid,
}

use DccpState::{
    CloseReq as CR, Closing as CG, Open as OP, PartOpen as PO, Request as RQ,
    Respond as RS, TimeWait as TW,
};
use Step::{Ignore as IG, Invalid as IV, To};

/// Roles: index 0 client, 1 server.
const CLIENT: usize = 0;
const SERVER: usize = 1;

/// Linux 6.12's `dccp_state_table[role][type][state]`, rows in type
/// number order (Request, Response, Data, Ack, DataAck, CloseReq, Close,
/// Reset, Sync, SyncAck; Linux's source lists Ack before Data), columns NONE,
/// REQUEST, RESPOND, PARTOPEN, OPEN, CLOSEREQ, CLOSING, TIMEWAIT; the
/// reasons are Linux's comments, shortened.
#[rustfmt::skip]
pub const TRANSITIONS: [[[Step; 8]; 10]; 2] = [
    [
        // Client.
        // Request: a new one, a retransmission or reincarnation; unsure
        // once past the handshake; after TIMEWAIT a reincarnation.
        [To(RQ), To(RQ), To(RS), IG, IG, IG, IG, To(RQ)],
        // Response: maybe to an ignored Request; none without one.
        [IV, IG, IG, IG, IG, IG, IG, IV],
        // Data: not before OPEN (PARTOPEN needs DataAck).
        [IV, IV, IV, IV, To(OP), To(CR), To(CG), IV],
        // Ack: to the Response (PARTOPEN), then as it was.
        [IV, IV, To(PO), To(PO), To(OP), To(CR), To(CG), IV],
        // DataAck: as Ack.
        [IV, IV, To(PO), To(PO), To(OP), To(CR), To(CG), IV],
        // CloseReq: only servers send it.
        [IV, IV, IV, IV, IV, IV, IV, IV],
        // Close: from PARTOPEN on; a retransmission in CLOSING is INVALID.
        [IV, IV, IV, To(CG), To(CG), To(CG), IV, IV],
        // Reset: TIMEWAIT; in TIMEWAIT ignored.
        [IV, To(TW), To(TW), To(TW), To(TW), To(TW), To(TW), IG],
        // Sync, SyncAck: ignored.
        [IV, IG, IG, IG, IG, IG, IG, IG],
        [IV, IG, IG, IG, IG, IG, IG, IG],
    ],
    [
        // Server.
        // Request: out of sync; after TIMEWAIT a reincarnation with the
        // roles reversed.
        [IV, IG, IG, IG, IG, IG, IG, To(RQ)],
        // Response: to the client's Request.
        [IV, To(RS), To(RS), IG, IG, IG, IG, IV],
        // Data: the server's first packet after PARTOPEN opens.
        [IV, IV, IV, To(OP), To(OP), IV, To(CG), IV],
        // Ack.
        [IV, IV, IV, To(OP), To(OP), IV, To(CG), IV],
        // DataAck.
        [IV, IV, IV, To(OP), To(OP), IV, To(CG), IV],
        // CloseReq.
        [IV, IV, IV, To(CR), To(CR), To(CR), To(CR), IV],
        // Close.
        [IV, IV, IV, To(CG), To(CG), IV, To(CG), IV],
        // Reset: TIMEWAIT, also in TIMEWAIT (Linux's row is one cell
        // longer than the others, which leaves TIMEWAIT at TIMEWAIT).
        [IV, To(TW), To(TW), To(TW), To(TW), To(TW), To(TW), To(TW)],
        // Sync, SyncAck: ignored.
        [IV, IG, IG, IG, IG, IG, IG, IG],
        [IV, IG, IG, IG, IG, IG, IG, IG],
    ],
];

/// The step for a packet of type `t` from a sender of role `role` (0
/// client, 1 server) in `state`.
pub fn step(role: usize, t: u8, state: DccpState) -> Step {
    TRANSITIONS
        .get(role)
        .and_then(|r| r.get(usize::from(t)))
        .and_then(|r| r.get(usize::from(state as u8)))
        .copied()
        .unwrap_or(Step::Invalid)
}

/// DCCP state of an entry (Linux's `struct nf_ct_dccp`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dccp {
    state: DccpState,
    /// Whether the original direction's sender is the server (roles
    /// reverse on a reincarnation or a resynchronisation).
    orig_is_server: bool,
    /// Type of the last packet seen.
    last_pkt: u8,
    /// Its direction.
    last_dir: Dir,
    /// Sequence number of the server's Response, which the client's Ack
    /// must acknowledge for the entry to become ASSURED.
    handshake_seq: u64,
}

impl Dccp {
    /// The state a first packet opens (Linux's `dccp_new`): only a
    /// Request (from NONE every other type is INVALID, so 6.12's
    /// `nf_conntrack_dccp_loose` never comes into play).
    pub fn new(pkt: &Packet) -> Result<Dccp, Invalid> {
        match step(CLIENT, pkt.ty, DccpState::None) {
            Step::To(_) => Ok(Dccp {
                state: DccpState::None,
                orig_is_server: false,
                last_pkt: ty::REQUEST,
                last_dir: Dir::Original,
                handshake_seq: 0,
            }),
            Step::Ignore | Step::Invalid => Err(Invalid::DccpBadTransition),
        }
    }

    /// State of the connection.
    pub fn state(&self) -> DccpState {
        self.state
    }

    /// Role of the original direction's sender (ctnetlink's
    /// `CTA_PROTOINFO_DCCP_ROLE`: 0 client, 1 server).
    pub fn orig_role(&self) -> u8 {
        u8::from(self.orig_is_server)
    }

    /// The Response's sequence number (`CTA_PROTOINFO_DCCP_HANDSHAKE_SEQ`).
    pub fn handshake_seq(&self) -> u64 {
        self.handshake_seq
    }

    /// State, role and handshake sequence as ctnetlink sets them
    /// (`nlattr_to_dccp`).
    pub fn made(state: DccpState, orig_role: u8, handshake_seq: u64) -> Dccp {
        Dccp {
            state,
            orig_is_server: orig_role != 0,
            last_pkt: ty::REQUEST,
            last_dir: Dir::Original,
            handshake_seq,
        }
    }

    /// Sets state, role and (if given) handshake sequence (a ctnetlink
    /// update with the DCCP nest).
    pub fn set(&mut self, state: DccpState, orig_role: u8, handshake_seq: Option<u64>) {
        self.state = state;
        self.orig_is_server = orig_role != 0;
        if let Some(h) = handshake_seq {
            self.handshake_seq = h;
        }
    }

    /// Whether the entry may be dropped early under pressure, assured or
    /// not (Linux's `dccp_can_early_drop`).
    pub fn can_early_drop(&self) -> bool {
        matches!(self.state, DccpState::CloseReq | DccpState::Closing | DccpState::TimeWait)
    }

    fn role(&self, dir: Dir) -> usize {
        if (dir == Dir::Original) == self.orig_is_server {
            SERVER
        } else {
            CLIENT
        }
    }

    /// A packet in direction `dir` (Linux's `nf_conntrack_dccp_packet`
    /// after `dccp_error`); `status` as before this packet.
    pub fn update(&mut self, dir: Dir, pkt: &Packet, status: &mut Status, cfg: &impl Settings) -> Update {
        if pkt.ty == ty::RESET && !status.has(Status::SEEN_REPLY) {
            // A Reset as the only answer: the entry goes at once.
            return Update::Kill;
        }
        let role = self.role(dir);
        let old = self.state;
        let new = match step(role, pkt.ty, old) {
            Step::Invalid => return Update::Invalid(Invalid::DccpBadTransition),
            Step::Ignore => {
                if self.last_dir == dir.other() && self.last_pkt == ty::REQUEST && pkt.ty == ty::RESPONSE {
                    // The answer to a Request we ignored: resynchronise
                    // with this side as the server.
                    self.orig_is_server = dir == Dir::Original;
                    self.handshake_seq = pkt.seq();
                    DccpState::Respond
                } else {
                    self.last_dir = dir;
                    self.last_pkt = pkt.ty;
                    return Update::Ignore;
                }
            }
            Step::To(s) => s,
        };
        match new {
            DccpState::Request if old == DccpState::TimeWait && role == SERVER => {
                // Reincarnation in the reverse direction.
                self.orig_is_server = dir == Dir::Reply;
            }
            DccpState::Respond if old == DccpState::Request => self.handshake_seq = pkt.seq(),
            DccpState::PartOpen
                if old == DccpState::Respond && pkt.ty == ty::ACK && pkt.ack() == self.handshake_seq =>
            {
                status.set(Status::ASSURED);
            }
            _ => {}
        }
        self.last_dir = dir;
        self.last_pkt = pkt.ty;
        self.state = new;
        Update::Accept { timeout: timeout(new, cfg) }
    }
}

/// The timeout of an entry in `state`.
pub fn timeout(state: DccpState, cfg: &impl Settings) -> Millis {
    cfg.timeout(state.timeout())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn p(t: u8, seq: u64, ack: u64) -> Packet {
        Packet::new(t, seq, ack, 0)
    }

    #[test]
    fn handshake_data_and_close() {
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        let req = p(ty::REQUEST, 100, 0);
        let mut d = Dccp::new(&req).unwrap();
        assert_eq!(d.update(Dir::Original, &req, &mut st, &cfg), Update::Accept { timeout: 240_000 });
        assert_eq!(d.state(), DccpState::Request);
        assert_eq!(d.update(Dir::Reply, &p(ty::RESPONSE, 500, 100), &mut st, &cfg), Update::Accept { timeout: 480_000 });
        st.set(Status::SEEN_REPLY);
        assert_eq!(d.handshake_seq(), 500);
        // The Ack of the Response assures the entry.
        d.update(Dir::Original, &p(ty::ACK, 101, 500), &mut st, &cfg);
        assert_eq!(d.state(), DccpState::PartOpen);
        assert!(st.has(Status::ASSURED));
        // Data from the client is INVALID in PARTOPEN; the server's opens.
        assert_eq!(d.update(Dir::Original, &p(ty::DATA, 102, 0), &mut st, &cfg), Update::Invalid(Invalid::DccpBadTransition));
        assert_eq!(d.update(Dir::Reply, &p(ty::DATA, 501, 0), &mut st, &cfg), Update::Accept { timeout: 43_200_000 });
        assert_eq!(d.state(), DccpState::Open);
        // Sync is ignored; the server's CloseReq, the client's Close, Reset.
        assert_eq!(d.update(Dir::Original, &p(ty::SYNC, 103, 0), &mut st, &cfg), Update::Ignore);
        d.update(Dir::Reply, &p(ty::CLOSEREQ, 502, 0), &mut st, &cfg);
        assert_eq!(d.state(), DccpState::CloseReq);
        // The server may not Close after its CloseReq.
        assert_eq!(d.update(Dir::Reply, &p(ty::CLOSE, 503, 0), &mut st, &cfg), Update::Invalid(Invalid::DccpBadTransition));
        d.update(Dir::Original, &p(ty::CLOSE, 104, 0), &mut st, &cfg);
        assert_eq!(d.state(), DccpState::Closing);
        assert!(d.can_early_drop());
        assert_eq!(d.update(Dir::Reply, &p(ty::RESET, 504, 0), &mut st, &cfg), Update::Accept { timeout: 240_000 });
        assert_eq!(d.state(), DccpState::TimeWait);
        // A client Reset in TIMEWAIT is ignored, a server one refreshes.
        assert_eq!(d.update(Dir::Original, &p(ty::RESET, 105, 0), &mut st, &cfg), Update::Ignore);
        assert_eq!(d.update(Dir::Reply, &p(ty::RESET, 505, 0), &mut st, &cfg), Update::Accept { timeout: 240_000 });
    }

    #[test]
    fn first_packets_and_reset_kills() {
        for t in 1..10 {
            assert_eq!(Dccp::new(&p(t, 1, 0)), Err(Invalid::DccpBadTransition), "{t}");
        }
        let cfg = Config::DEFAULT;
        let mut st = Status::default();
        let mut d = Dccp::new(&p(ty::REQUEST, 1, 0)).unwrap();
        d.update(Dir::Original, &p(ty::REQUEST, 1, 0), &mut st, &cfg);
        assert_eq!(d.update(Dir::Reply, &p(ty::RESET, 9, 1), &mut st, &cfg), Update::Kill);
    }

    #[test]
    fn reincarnation_reverses_roles() {
        let cfg = Config::DEFAULT;
        let mut st = Status(Status::SEEN_REPLY);
        let mut d = Dccp::made(DccpState::TimeWait, 0, 0);
        // The former server sends a Request: it becomes the client.
        d.update(Dir::Reply, &p(ty::REQUEST, 1, 0), &mut st, &cfg);
        assert_eq!((d.state(), d.orig_role()), (DccpState::Request, 1));
        d.update(Dir::Original, &p(ty::RESPONSE, 7, 1), &mut st, &cfg);
        assert_eq!((d.state(), d.handshake_seq()), (DccpState::Respond, 7));
    }

    #[test]
    fn response_to_an_ignored_request_resyncs() {
        let cfg = Config::DEFAULT;
        let mut st = Status(Status::SEEN_REPLY);
        let mut d = Dccp::made(DccpState::Open, 0, 0);
        // The server side (reply) sends a Request: ignored.
        assert_eq!(d.update(Dir::Reply, &p(ty::REQUEST, 1, 0), &mut st, &cfg), Update::Ignore);
        // The original side answers with a Response: it is the server now.
        assert_eq!(d.update(Dir::Original, &p(ty::RESPONSE, 50, 1), &mut st, &cfg), Update::Accept { timeout: 480_000 });
        assert_eq!((d.state(), d.orig_role(), d.handshake_seq()), (DccpState::Respond, 1, 50));
    }
}
