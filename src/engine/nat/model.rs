//! A model of what the table answers the tuple choice ([`Clash`]): the
//! reply tuples in use and the mappings of source-NATed flows, kept in
//! plain collections. Host tests drive [`crate::nat::unique`] with it.

use core::cell::Cell;
use std::collections::BTreeSet;
use std::vec::Vec;

use crate::nat::range::manip_key;
use crate::nat::unique::Clash;
use crate::nat::Manip;
use crate::tuple::Tuple;

/// Reply tuples taken, source-NATed `(original, reply)` pairs, and how
/// many times `taken` was asked.
#[derive(Debug, Default)]
pub struct ModelTable {
    /// Reply tuples of the entries in the table.
    pub replies: BTreeSet<Tuple>,
    /// `(original, reply)` of the source-NATed entries.
    pub snat: Vec<(Tuple, Tuple)>,
    /// Calls of [`Clash::taken`].
    pub asked: Cell<u32>,
}

impl ModelTable {
    /// Records a flow `orig` mapped to `mapped` (its reply tuple is the
    /// inverse); false when `mapped` has no inverse.
    pub fn add(&mut self, orig: &Tuple, mapped: &Tuple) -> bool {
        let Some(reply) = mapped.invert() else { return false };
        self.replies.insert(reply);
        self.snat.push((*orig, reply));
        true
    }
}

impl Clash for ModelTable {
    fn taken(&self, reply: &Tuple) -> bool {
        self.asked.set(self.asked.get().saturating_add(1));
        self.replies.contains(reply)
    }

    fn same_source(&self, orig: &Tuple, visit: &mut dyn FnMut(&Tuple) -> bool) {
        for (o, r) in &self.snat {
            let same = o.proto == orig.proto
                && o.src == orig.src
                && manip_key(o, Manip::Src) == manip_key(orig, Manip::Src);
            if same && visit(r) {
                return;
            }
        }
    }
}
