//! The agenda: the run's pending events ordered by (time, seq), a 4-ary
//! min-heap of small keys over a slab of payloads (`Ev`).

use crate::time::Time;

/// A pending event's payload.
#[derive(Debug)]
pub(crate) enum Ev<M> {
    Start(u32),
    Deliver {
        from: u32,
        to: u32,
        inc: u32,
        msg: M,
    },
    Refused {
        sender: u32,
        dest: u32,
        inc: u32,
        msg: M,
    },
    Timer {
        node: u32,
        inc: u32,
        id: u64,
        tag: u64,
    },
    Durable {
        node: u32,
        inc: u32,
    },
    /// A failure monitor notice (`monitor.rs`), valid if its generation
    /// still stands.
    Watch {
        watch: u32,
        gen: u64,
    },
    Fault(usize),
    Process(usize),
    PhaseEnd,
    Deadline,
}

/// An agenda key: the event's (time, seq) and where its payload waits in
/// the slab. The heap moves only these 24 bytes, whatever the message size.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    time: Time,
    seq: u64,
    slot: u32,
}

impl Key {
    /// Whether this key comes before `o`: (time, seq) as one 128-bit number,
    /// compared without branches. seq is unique, so the slot never decides.
    #[inline(always)]
    fn before(&self, o: &Key) -> bool {
        ((self.time.0 as u128) << 64 | self.seq as u128) < ((o.time.0 as u128) << 64 | o.seq as u128)
    }
}

/// Children per node of the agenda's heap: a 4-ary heap is half as deep as
/// a binary one, and a node's children share a cache line or two.
const ARITY: usize = 4;

/// The agenda: a 4-ary min-heap of keys over a slab of event payloads.
///
/// Popping leaves the root vacant (`hole`) instead of sifting the last key
/// down at once: nearly every event schedules another one, usually soon
/// (a reply, a write's completion), and that key goes straight into the
/// vacant root, where it sinks only as far as it belongs, often not at all.
/// The heap is refilled from its last key only when a pop finds the root
/// still vacant.
pub(crate) struct Agenda<M> {
    heap: Vec<Key>,
    /// `heap[0]` is vacant.
    hole: bool,
    slab: Vec<Option<Ev<M>>>,
    free: Vec<u32>,
}

impl<M> Agenda<M> {
    pub(crate) fn new() -> Self {
        Agenda { heap: Vec::new(), hole: false, slab: Vec::new(), free: Vec::new() }
    }

    /// Puts `key` at position `i` (vacant) or below, moving earlier children
    /// up, until it fits.
    #[inline]
    fn sift_down(&mut self, mut i: usize, key: Key) {
        let heap = &mut self.heap[..];
        let n = heap.len();
        loop {
            let first = ARITY * i + 1;
            if first >= n {
                break;
            }
            let mut child = first;
            for c in first + 1..(first + ARITY).min(n) {
                if heap[c].before(&heap[child]) {
                    child = c;
                }
            }
            if !heap[child].before(&key) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = key;
    }

    #[inline]
    pub(crate) fn push(&mut self, time: Time, seq: u64, ev: Ev<M>) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(ev);
                slot
            }
            None => {
                self.slab.push(Some(ev));
                (self.slab.len() - 1) as u32
            }
        };
        let key = Key { time, seq, slot };
        if self.hole {
            self.hole = false;
            self.sift_down(0, key);
            return;
        }
        // Sift up: move parents down into the hole until the key fits.
        let mut i = self.heap.len();
        self.heap.push(key);
        let heap = &mut self.heap[..];
        while i > 0 {
            let parent = (i - 1) / ARITY;
            if !key.before(&heap[parent]) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = key;
    }

    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(Time, u64, Ev<M>)> {
        if self.hole {
            // Refill the vacant root with the last key.
            self.hole = false;
            let last = self.heap.pop().expect("a vacant root is a slot of the heap");
            if self.heap.is_empty() {
                return None;
            }
            self.sift_down(0, last);
        }
        let key = *self.heap.first()?;
        self.hole = true;
        let ev = self.slab[key.slot as usize].take().expect("a queued key has its payload");
        self.free.push(key.slot);
        Some((key.time, key.seq, ev))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::rng::Stream;

    /// Whatever the mix of pushes and pops (including pushes into the root
    /// a pop left vacant, and pops that find it still vacant), the agenda
    /// gives its events in (time, seq) order.
    #[test]
    fn the_agenda_pops_in_time_then_seq_order() {
        let mut agenda: Agenda<()> = Agenda::new();
        let mut model = BTreeSet::new();
        let mut rng = Stream::new(3, "agenda");
        let (mut seq, mut now) = (0u64, 0u64);
        for _ in 0..50_000 {
            // Mostly soon after now, sometimes far, often at the same instant.
            for _ in 0..rng.below(3) {
                let t = now + if rng.chance(100_000) { rng.below(1_000_000) } else { rng.below(20) };
                agenda.push(Time(t), seq, Ev::PhaseEnd);
                model.insert((t, seq));
                seq += 1;
            }
            if rng.chance(550_000) {
                let got = agenda.pop().map(|(t, s, _)| (t.0, s));
                assert_eq!(got, model.pop_first());
                if let Some((t, _)) = got {
                    now = t;
                }
            }
        }
        while let Some((t, s, _)) = agenda.pop() {
            assert_eq!(Some((t.0, s)), model.pop_first());
        }
        assert!(model.is_empty());
    }
}
