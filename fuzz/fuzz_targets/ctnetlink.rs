//! Fuzzes ctnetlink request parsing: the body is
//! `ip_conntrack::fuzzing::ctnetlink_input` (shared with
//! tests/fuzz_regressions.rs, which replays kept inputs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| ip_conntrack::fuzzing::ctnetlink_input(data));
