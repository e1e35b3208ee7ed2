//! Fuzzes the IPv6 extension-header walk and the ICMPv6 quote: the body is
//! `ip_conntrack::fuzzing::ipv6_exthdr_input` (shared with
//! tests/fuzz_regressions.rs, which replays kept inputs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ip_conntrack::fuzzing::ipv6_exthdr_input(data));
