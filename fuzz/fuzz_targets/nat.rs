//! Fuzzes the NAT engine (option parsing, header rewriting, ICMP error
//! translation, the tuple choice): the body is
//! `ip_conntrack::fuzzing::nat_input` (shared with
//! tests/fuzz_regressions.rs, which replays kept inputs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ip_conntrack::fuzzing::nat_input(data));
