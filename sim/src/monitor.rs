//! The failure monitor: what a heartbeat failure detector would tell a node
//! about its peers, computed from the kernel's knowledge of who is up and
//! which links carry messages, without sending the heartbeats.
//!
//! A cluster manager (Corosync, a Raft leader's lease, a gossip detector)
//! sends a small "I am alive, my state is S" datagram to each peer every
//! fraction of a timeout, and declares a peer dead when it has heard nothing
//! for the timeout. Over a run of days those heartbeats are most of the
//! events although they carry almost nothing: the peer's liveness and a
//! small status word. FoundationDB's simulator makes the same trade: its
//! failure monitor in simulation is fed by the simulator's knowledge of
//! which machines and connections are down.
//!
//! The contract, for a node W watching a peer P with timeout T
//! (`Ctx::watch`) — "P reaches W" means P is up and a message from P to W
//! would arrive: no cut or isolation between them, the link not clogged, not
//! dropping everything (`loss_ppm` below 100%), and its fastest delivery
//! (latency_min times any slow-link factor) below T:
//! - When P stops reaching W and still does not reach it T later, W gets
//!   `Input::Peer { peer: P, up: false, .. }` — the heartbeat detector's
//!   verdict, T after the last heartbeat that could have arrived.
//! - When P reaches W again, or P's published status (`Ctx::publish`)
//!   changes while it reaches W, W gets `Input::Peer { up: true, status }`
//!   one link latency later — the next heartbeat's arrival.
//! - An outage shorter than T produces nothing, as with heartbeats.
//! - A new watch starts believing P is up with an unknown status: if P
//!   reaches W, the first notice (up, status) comes one latency later; if
//!   not, the down notice comes T later.
//! - Watches and published status are volatile: a crash ends the node's
//!   watches and resets its status to 0.
//!
//! What it does not model: false suspicions from random loss below 100%
//! (with 4 heartbeats per timeout and 1% loss, 1e-8 per timeout) and the
//! jitter of when within a heartbeat interval a failure is noticed. A model
//! that needs those sends its own heartbeats.

use crate::time::{Dur, Time};

/// What a watch has told (or will tell) its watcher about the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum View {
    Down,
    /// Up with this status; `None` until the first notice after the watch.
    Up(Option<u64>),
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Watch {
    pub watcher: u32,
    /// The watcher's incarnation when it set the watch.
    pub inc: u32,
    pub peer: u32,
    pub timeout: Dur,
    /// What the watcher believes now.
    pub view: View,
    /// The notice scheduled, if any: (what it will say, generation).
    pub pending: Option<View>,
    /// Bumped whenever a scheduled notice is superseded; an `Ev::Watch`
    /// carries the generation it was scheduled with.
    pub gen: u64,
    pub live: bool,
}

/// Every watch of the run, and what each node publishes.
#[derive(Default)]
pub(crate) struct Monitor {
    pub watches: Vec<Watch>,
    pub status: Vec<u64>,
    /// Something that can change a watch's truth happened since the last
    /// review (a crash, a boot, a network fault, a publish, a new watch).
    pub dirty: bool,
}

/// A notice to schedule: watch index, generation, and when.
pub(crate) struct Notice {
    pub watch: u32,
    pub gen: u64,
    pub at: Time,
}

impl Monitor {
    pub fn add_node(&mut self) {
        self.status.push(0);
    }

    /// `watcher` (incarnation `inc`) watches `peer`. Reuses the slot of an
    /// ended watch of the same pair, if any.
    pub fn watch(&mut self, watcher: u32, inc: u32, peer: u32, timeout: Dur) {
        self.dirty = true;
        let fresh = Watch { watcher, inc, peer, timeout, view: View::Up(None), pending: None, gen: 0, live: true };
        if let Some(w) = self.watches.iter_mut().find(|w| w.watcher == watcher && w.peer == peer && (!w.live || w.inc != inc)) {
            *w = Watch { gen: w.gen + 1, ..fresh };
        } else if let Some(w) = self.watches.iter_mut().find(|w| w.live && w.watcher == watcher && w.peer == peer) {
            // Watching again with another timeout.
            w.timeout = timeout;
        } else {
            self.watches.push(fresh);
        }
    }

    pub fn publish(&mut self, node: u32, status: u64) {
        if self.status[node as usize] != status {
            self.status[node as usize] = status;
            self.dirty = true;
        }
    }

    /// A node crashed: its watches end and its status resets.
    pub fn crashed(&mut self, node: u32) {
        self.status[node as usize] = 0;
        for w in &mut self.watches {
            if w.watcher == node {
                w.live = false;
                w.pending = None;
                w.gen += 1;
            }
        }
        self.dirty = true;
    }

    /// Re-evaluates every live watch against the truth now. `reaches(peer,
    /// watcher, timeout)` says whether the peer's heartbeats would arrive;
    /// `latency(peer, watcher)` draws one delivery latency. Returns the
    /// notices to schedule (superseded ones are invalidated by generation).
    pub fn review(
        &mut self,
        now: Time,
        mut reaches: impl FnMut(u32, u32, Dur) -> bool,
        mut latency: impl FnMut(u32, u32) -> Dur,
        out: &mut Vec<Notice>,
    ) {
        self.dirty = false;
        for (i, w) in self.watches.iter_mut().enumerate() {
            if !w.live {
                continue;
            }
            let truth = if reaches(w.peer, w.watcher, w.timeout) { View::Up(Some(self.status[w.peer as usize])) } else { View::Down };
            let want = if truth == w.view { None } else { Some(truth) };
            if want == w.pending {
                continue;
            }
            w.gen += 1;
            w.pending = want;
            let at = match want {
                None => continue,
                Some(View::Down) => now + w.timeout,
                Some(View::Up(_)) => now + latency(w.peer, w.watcher),
            };
            out.push(Notice { watch: i as u32, gen: w.gen, at });
        }
    }

    /// A scheduled notice fires: returns (watcher, peer, what it says) if it
    /// still stands, and makes it the watcher's view.
    pub fn fire(&mut self, watch: u32, gen: u64) -> Option<(u32, u32, View)> {
        let w = &mut self.watches[watch as usize];
        if !w.live || w.gen != gen {
            return None;
        }
        let view = w.pending.take()?;
        w.view = view;
        Some((w.watcher, w.peer, view))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn review(m: &mut Monitor, now: u64, reach: bool) -> Vec<Notice> {
        let mut out = Vec::new();
        m.review(Time::from_secs(now), |_, _, _| reach, |_, _| Dur::millis(5), &mut out);
        out
    }

    #[test]
    fn an_outage_shorter_than_the_timeout_says_nothing() {
        let mut m = Monitor::default();
        m.add_node();
        m.add_node();
        m.watch(0, 0, 1, Dur::secs(3));
        let first = review(&mut m, 0, true);
        assert_eq!(first.len(), 1);
        assert_eq!(m.fire(first[0].watch, first[0].gen), Some((0, 1, View::Up(Some(0)))));
        let down = review(&mut m, 10, false);
        assert_eq!(down[0].at, Time::from_secs(13));
        // Back before the timeout: the down notice is superseded, no new one.
        assert!(review(&mut m, 11, true).is_empty());
        assert_eq!(m.fire(down[0].watch, down[0].gen), None);
    }

    #[test]
    fn a_status_change_is_noticed_and_a_crash_ends_the_watches() {
        let mut m = Monitor::default();
        m.add_node();
        m.add_node();
        m.watch(0, 0, 1, Dur::secs(3));
        let n = review(&mut m, 0, true);
        m.fire(n[0].watch, n[0].gen);
        m.publish(1, 7);
        assert!(m.dirty);
        let n = review(&mut m, 1, true);
        assert_eq!(m.fire(n[0].watch, n[0].gen), Some((0, 1, View::Up(Some(7)))));
        m.crashed(0);
        assert!(review(&mut m, 2, false).is_empty(), "a crashed watcher is told nothing");
    }
}
