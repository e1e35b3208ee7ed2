//! ctnetlink requests for the host tests.

use ip_conntrack::netlink::ctnetlink;
use ip_conntrack::netlink::message::{self, Header, Message};
use ip_conntrack::netlink::request::CtRequest;
use ip_conntrack::netlink::Error;

/// A request: type `m` of ctnetlink, `family`, `attrs`.
pub fn request(m: u8, flags: u16, family: u8, attrs: &[u8]) -> Vec<u8> {
    let mut buf = vec![0u8; 20 + attrs.len()];
    let h = Header { kind: ctnetlink::msg_type(1, m), flags: 1 | flags, seq: 1, pid: 0, family, version: 0, res_id: 0 };
    let n = message::build(&mut buf, &h, attrs).unwrap();
    buf.truncate(n);
    buf
}

/// The request in `bytes`, parsed.
pub fn parse(bytes: &[u8]) -> Result<CtRequest<'_>, Error> {
    CtRequest::parse(&Message::new_checked(bytes)?)
}
