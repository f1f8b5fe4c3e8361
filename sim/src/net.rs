//! The network between nodes: per-link latency, loss, partitions (two-way and
//! one-way), isolation, clogging and slow links.
//!
//! Messages are datagrams: each is delivered after a latency drawn uniformly
//! from its link's range, so two messages on one link may be reordered (model
//! code that needs ordering must carry sequence numbers, as TCP does). A
//! partitioned or lossy link drops silently and the sender only learns by its
//! own timeout; a clogged link holds messages until it is unclogged (turmoil's
//! hold/release). What happens when the destination node is down is a property
//! of that node (`DownMode`): its host refuses the connection, or nothing
//! answers.

use std::collections::{BTreeMap, BTreeSet};

use crate::rng::PPM;
use crate::time::Dur;
use crate::NodeId;

/// One direction of a link between two nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkConfig {
    /// Shortest delivery latency; each message's latency is drawn uniformly
    /// in `latency_min..=latency_max` (default 1 ms).
    pub latency_min: Dur,
    /// Longest delivery latency, at least `latency_min` (default 10 ms).
    pub latency_max: Dur,
    /// Probability that a message is lost, per million.
    pub loss_ppm: u32,
}

impl Default for LinkConfig {
    /// A LAN: 1-10 ms, no loss.
    fn default() -> Self {
        LinkConfig { latency_min: Dur::millis(1), latency_max: Dur::millis(10), loss_ppm: 0 }
    }
}

impl LinkConfig {
    /// Checks that `latency_min <= latency_max` and `loss_ppm <= PPM`; the
    /// error says which does not hold. `Sim::set_link` and
    /// `Sim::set_default_link` panic on a link that fails it.
    pub fn validate(&self) -> Result<(), String> {
        if self.latency_min > self.latency_max {
            return Err(format!("latency_min {} exceeds latency_max {}", self.latency_min, self.latency_max));
        }
        if self.loss_ppm > PPM {
            return Err(format!("loss_ppm {} exceeds 1,000,000", self.loss_ppm));
        }
        Ok(())
    }
}

/// What a sender sees when it talks to a node that is down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DownMode {
    /// The host answers with a refusal (TCP RST): the sender gets
    /// `Input::Refused` after a round trip.
    #[default]
    Refuse,
    /// Nothing answers: the message vanishes and the sender must time out.
    Silent,
}

/// What the network decides for one message at send time.
pub(crate) enum Route {
    Drop,
    Hold,
    Deliver(LinkConfig, u32),
}

#[derive(Default)]
pub(crate) struct Network {
    pub default: LinkConfig,
    pub links: BTreeMap<(u32, u32), LinkConfig>,
    /// Directed pairs (from, to) that are cut.
    pub cut: BTreeSet<(u32, u32)>,
    pub isolated: BTreeSet<u32>,
    pub clogged: BTreeSet<(u32, u32)>,
    /// Latency multipliers in per-mille, per directed pair.
    pub slow: BTreeMap<(u32, u32), u32>,
}

impl Network {
    #[inline]
    pub fn route(&self, from: NodeId, to: NodeId, _loss_draw: ()) -> Route {
        let key = (from.0, to.0);
        if !self.cut.is_empty() && self.cut.contains(&key) {
            return Route::Drop;
        }
        if !self.isolated.is_empty() && (self.isolated.contains(&from.0) || self.isolated.contains(&to.0)) && from != to {
            return Route::Drop;
        }
        if !self.clogged.is_empty() && self.clogged.contains(&key) {
            return Route::Hold;
        }
        let link = if self.links.is_empty() { self.default } else { self.links.get(&key).copied().unwrap_or(self.default) };
        let slow = if self.slow.is_empty() { 1000 } else { self.slow.get(&key).copied().unwrap_or(1000) };
        Route::Deliver(link, slow)
    }

    /// Heals everything: cuts, isolation, clogs and slow links. Returns whether
    /// anything changed.
    pub fn heal_all(&mut self) -> bool {
        let changed = !(self.cut.is_empty() && self.isolated.is_empty() && self.clogged.is_empty() && self.slow.is_empty());
        self.cut.clear();
        self.isolated.clear();
        self.clogged.clear();
        self.slow.clear();
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_is_directed() {
        let mut n = Network::default();
        n.cut.insert((1, 2));
        assert!(matches!(n.route(NodeId(1), NodeId(2), ()), Route::Drop));
        assert!(matches!(n.route(NodeId(2), NodeId(1), ()), Route::Deliver(..)));
        assert!(n.heal_all());
        assert!(matches!(n.route(NodeId(1), NodeId(2), ()), Route::Deliver(..)));
        assert!(!n.heal_all());
    }

    #[test]
    fn bad_link_configs_are_rejected() {
        let bad = LinkConfig { latency_min: Dur::millis(5), latency_max: Dur::millis(1), loss_ppm: 0 };
        assert!(bad.validate().is_err());
        let lossy = LinkConfig { loss_ppm: PPM + 1, ..LinkConfig::default() };
        assert!(lossy.validate().is_err());
    }
}
