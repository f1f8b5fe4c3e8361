//! The file server's heads: one head, or an HA pair of two heads, each
//! owning its aggregates (here: RAID groups, group `g` owned by head
//! `g % heads`), with takeover of a failed partner's aggregates and
//! giveback. A pure model (plain structs, no kernel), held by the storage
//! and driven with the current time.
//!
//! Why: a mailstore on a filer HA pair survives a head failure only as
//! well as the takeover works. While a head is down and nobody serves its
//! aggregates, exactly the mailboxes on its volumes are unavailable; the
//! partner's stay available. So *which* mailboxes a head failure takes
//! down follows volume ownership, and *for how long* follows the takeover:
//! a short gap when it works, until an operator acts when it fails or
//! hangs.
//!
//! What is modeled, with NetApp ONTAP's defaults:
//! - A head that fails is noticed by its partner after `detection`, 15 s:
//!   `cf.takeover.detection.seconds`, "valid values 10 through 180; the
//!   default is 15" (NetApp, *Data ONTAP 8.2 High Availability and
//!   MetroCluster Configuration Guide For 7-Mode*, "Specifying the time
//!   period before takeover",
//!   <https://library.netapp.com/ecmdocs/ECMP1368831/html/GUID-81782F04-71ED-4F58-A311-7A83FF3139E0.html>).
//!   Takeover is automatic on a panic, a power loss or missed heartbeats
//!   (NetApp, *ONTAP 9: HA pair management overview*,
//!   <https://docs.netapp.com/us-en/ontap/high-availability/index.html>);
//!   hardware-assisted takeover can be quicker, which a scenario expresses
//!   by a shorter `detection`.
//! - The partner then brings the aggregates online in `takeover`, 30 s:
//!   an assumption ("seconds to about a minute"; NetApp's documents give no
//!   figure). During `detection` + `takeover` the failed head's volumes are
//!   offline, then the partner serves them.
//! - A takeover can go wrong, which a `head-failure` fault says
//!   ([`Takeover`]): it *fails* (the partner cannot take over: takeover
//!   disabled, the interconnect down, the partner not eligible — ONTAP's
//!   `sfo.takeover.aborted` reasons), and the volumes stay offline until
//!   the head is repaired; or it *hangs* (it starts and never completes,
//!   e.g. waiting for the failed head's disks), and the volumes stay
//!   offline until the shelves are power-cycled by an operator (the
//!   takeover then completes) or the head is repaired.
//! - A repaired head boots into "waiting for giveback" while its partner
//!   serves its aggregates; giveback is automatic after `giveback_delay`,
//!   600 s ("a 600-second minimum time that a node stays in the takeover
//!   state before performing an automatic giveback", NetApp, *Data ONTAP
//!   8.2 ... For 7-Mode*, "Adjusting the giveback delay time for automatic
//!   giveback",
//!   <https://library.netapp.com/ecmdocs/ECMP1368831/html/GUID-E03B00A7-1EB6-4E30-B064-F2A0DA7A9FAA.html>;
//!   auto-giveback is on by default, NetApp, *ONTAP automatic giveback
//!   commands*,
//!   <https://docs.netapp.com/us-en/ontap/high-availability/ha_automatic_giveback_commands.html>),
//!   or at once by a `giveback` step. A giveback is a second short outage
//!   of those volumes, `giveback` (30 s, an assumption like `takeover`).
//! - A head that was not taken over (a failed or hung takeover, or a
//!   single head) serves its own aggregates again as soon as it is
//!   repaired.
//! - If the partner that serves a head's aggregates fails in turn, nobody
//!   serves them; if the failed head is up meanwhile (waiting for
//!   giveback), it takes its own back at once, and the second failure is
//!   handled like the first.
//!
//! One head (the default) is a file server without HA: its failure takes
//! every volume offline until it is repaired.

use mailsim_sim::{Dur, Time};

/// How the partner's takeover goes when a head fails.
#[derive(Clone, Copy, Debug, Default, Hash, PartialEq, Eq)]
pub enum Takeover {
    /// The partner takes over after detection and takeover time.
    #[default]
    Works,
    /// The takeover is refused or aborted: the failed head's volumes stay
    /// offline until it is repaired.
    Fails,
    /// The takeover starts and never completes: the failed head's volumes
    /// stay offline until the shelves are power-cycled or the head is
    /// repaired.
    Hangs,
}

impl Takeover {
    /// The names a scenario uses.
    pub const NAMES: [&'static str; 3] = ["works", "fails", "hangs"];

    /// The mode named `name` (one of [`Takeover::NAMES`]).
    pub fn from_name(name: &str) -> Option<Takeover> {
        match name {
            "works" => Some(Takeover::Works),
            "fails" => Some(Takeover::Fails),
            "hangs" => Some(Takeover::Hangs),
            _ => None,
        }
    }
}

/// The heads of the file server and their takeover timings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeadsConfig {
    /// Heads: 1 (no HA, the default) or 2 (an HA pair).
    pub heads: u32,
    /// How long the partner takes to notice a failed head. Default 15 s
    /// (ONTAP `cf.takeover.detection.seconds`).
    pub detection: Dur,
    /// How long the partner takes to bring the failed head's aggregates
    /// online once it noticed. Default 30 s (an assumption).
    pub takeover: Dur,
    /// How long a giveback keeps the returned volumes offline. Default 30 s
    /// (an assumption).
    pub giveback: Dur,
    /// Give back automatically once the repaired head has waited
    /// `giveback_delay`. Default true (ONTAP `-auto-giveback`).
    pub auto_giveback: bool,
    /// How long a repaired head waits before an automatic giveback.
    /// Default 600 s (ONTAP `cf.giveback.auto.delay.seconds`).
    pub giveback_delay: Dur,
}

impl Default for HeadsConfig {
    fn default() -> Self {
        HeadsConfig {
            heads: 1,
            detection: Dur::secs(15),
            takeover: Dur::secs(30),
            giveback: Dur::secs(30),
            auto_giveback: true,
            giveback_delay: Dur::secs(600),
        }
    }
}

impl HeadsConfig {
    /// An HA pair with the defaults.
    pub fn pair() -> HeadsConfig {
        HeadsConfig { heads: 2, ..HeadsConfig::default() }
    }

    /// Checks the configuration; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=2).contains(&self.heads) {
            return Err(format!("storage.heads {} must be 1 or 2 (an HA pair)", self.heads));
        }
        Ok(())
    }
}

/// Who serves one head's own aggregates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Owner {
    /// Its own head (served while that head is up).
    Home,
    /// Nobody: the head is down and no takeover is under way.
    Unserved,
    /// The partner is taking them over; done at this time.
    TakingOver(Time),
    /// The partner's takeover hangs.
    Hung,
    /// The partner serves them; the home head is down.
    Partner,
    /// The partner serves them; the home head is repaired and waits for a
    /// giveback (automatic at this time, if any).
    WaitingGiveback(Option<Time>),
    /// Given back to the home head; done at this time.
    GivingBack(Time),
}

/// The heads, their health and who serves whose aggregates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heads {
    cfg: HeadsConfig,
    up: Vec<bool>,
    owner: Vec<Owner>,
}

impl Heads {
    /// Every head up and serving its own aggregates. Panics if the
    /// configuration is invalid ([`HeadsConfig::validate`]).
    pub fn new(cfg: HeadsConfig) -> Heads {
        if let Err(e) = cfg.validate() {
            panic!("invalid heads configuration: {e}");
        }
        let n = cfg.heads as usize;
        Heads { cfg, up: vec![true; n], owner: vec![Owner::Home; n] }
    }

    /// The number of heads.
    pub fn count(&self) -> u32 {
        self.cfg.heads
    }

    /// A head as scenarios name it: `head-a`, `head-b`.
    pub fn name(head: u32) -> String {
        format!("head-{}", (b'a' + head.min(25) as u8) as char)
    }

    /// The head owning RAID group `group` (its aggregate's home).
    pub fn head_of_group(&self, group: u32) -> u32 {
        group % self.cfg.heads
    }

    fn partner(&self, head: u32) -> Option<u32> {
        (self.cfg.heads == 2).then_some(1 - head)
    }

    fn partner_up(&self, head: u32) -> bool {
        self.partner(head).is_some_and(|p| self.up[p as usize])
    }

    /// Whether the head is up.
    pub fn up(&self, head: u32) -> bool {
        self.up[head as usize]
    }

    /// Whether some head serves `head`'s own aggregates now.
    pub fn serving(&self, head: u32) -> bool {
        match self.owner[head as usize] {
            Owner::Home => self.up[head as usize],
            Owner::Partner | Owner::WaitingGiveback(_) => self.partner_up(head),
            Owner::Unserved | Owner::TakingOver(_) | Owner::Hung | Owner::GivingBack(_) => false,
        }
    }

    /// Whether the partner serves `head`'s aggregates (taken over, not
    /// yet given back).
    pub fn taken_over(&self, head: u32) -> bool {
        matches!(self.owner[head as usize], Owner::Partner | Owner::WaitingGiveback(_)) && self.partner_up(head)
    }

    /// `head` fails at `now`; its partner's takeover goes as `mode` says.
    /// Returns false if the head was already down (nothing changes).
    pub fn fail(&mut self, head: u32, mode: Takeover, now: Time) -> bool {
        let h = head as usize;
        if h >= self.up.len() || !self.up[h] {
            return false;
        }
        self.up[h] = false;
        // The partner's aggregates this head was serving (or taking over):
        // back to the partner at once if it is up, else nobody serves them.
        if let Some(p) = self.partner(head) {
            let p = p as usize;
            if self.owner[p] != Owner::Home {
                self.owner[p] = if self.up[p] { Owner::Home } else { Owner::Unserved };
            }
        }
        self.owner[h] = match self.owner[h] {
            Owner::Home | Owner::GivingBack(_) => match (self.partner_up(head), mode) {
                (true, Takeover::Works) => Owner::TakingOver(now + self.cfg.detection + self.cfg.takeover),
                (true, Takeover::Hangs) => Owner::Hung,
                _ => Owner::Unserved,
            },
            Owner::WaitingGiveback(_) => Owner::Partner,
            other => other,
        };
        true
    }

    /// Repairs every failed head at `now`: one that was not taken over
    /// serves its own aggregates again (a hung takeover is abandoned); one
    /// that was waits for giveback. Returns whether any head was down.
    pub fn repair(&mut self, now: Time) -> bool {
        self.advance(now);
        let mut changed = false;
        for h in 0..self.up.len() {
            if self.up[h] {
                continue;
            }
            changed = true;
            self.up[h] = true;
            self.owner[h] = match self.owner[h] {
                Owner::Unserved | Owner::Hung => Owner::Home,
                Owner::Partner => Owner::WaitingGiveback(self.auto_giveback_at(now)),
                // Completes into waiting for giveback (`advance`).
                other => other,
            };
        }
        changed
    }

    fn auto_giveback_at(&self, now: Time) -> Option<Time> {
        self.cfg.auto_giveback.then(|| now + self.cfg.giveback_delay)
    }

    /// Gives back, at `now`, every taken-over aggregate whose head is up.
    /// Returns whether any giveback started; refused, starting none, while
    /// a taken-over head is still down (nothing to give back to).
    pub fn giveback(&mut self, now: Time) -> Result<bool, String> {
        self.advance(now);
        let down: Vec<String> = (0..self.up.len()).filter(|h| self.owner[*h] == Owner::Partner).map(|h| Self::name(h as u32)).collect();
        if !down.is_empty() {
            return Err(format!("cannot give back: {} is down (repair it first)", down.join(", ")));
        }
        let mut started = false;
        for h in 0..self.owner.len() {
            if let Owner::WaitingGiveback(_) = self.owner[h] {
                self.owner[h] = Owner::GivingBack(now + self.cfg.giveback);
                started = true;
            }
        }
        Ok(started)
    }

    /// The shelves are power-cycled, back at `power_on`: a hung takeover
    /// gets its disks and completes `takeover` after that. Returns whether
    /// any hung takeover was released.
    pub fn power_cycle(&mut self, power_on: Time) -> bool {
        let mut released = false;
        // (The storage advances to the power cycle's start first.)
        for h in 0..self.owner.len() {
            if self.owner[h] == Owner::Hung && self.partner_up(h as u32) {
                self.owner[h] = Owner::TakingOver(power_on + self.cfg.takeover);
                released = true;
            }
        }
        released
    }

    /// Moves takeovers and givebacks that are due by `now` along. Returns
    /// whether anything changed.
    pub fn advance(&mut self, now: Time) -> bool {
        let mut changed = false;
        for h in 0..self.owner.len() {
            // Each transition moves forward in time, so this ends.
            loop {
                let next = match self.owner[h] {
                    Owner::TakingOver(t) if t <= now => match (self.partner_up(h as u32), self.up[h]) {
                        (true, true) => Owner::WaitingGiveback(self.auto_giveback_at(t)),
                        (true, false) => Owner::Partner,
                        (false, _) => Owner::Unserved,
                    },
                    Owner::WaitingGiveback(Some(t)) if t <= now => Owner::GivingBack(t + self.cfg.giveback),
                    Owner::GivingBack(t) if t <= now => Owner::Home,
                    _ => break,
                };
                self.owner[h] = next;
                changed = true;
            }
        }
        changed
    }

    /// When the next takeover or giveback is due, if any.
    pub fn next_event(&self) -> Option<Time> {
        self.owner
            .iter()
            .filter_map(|o| match *o {
                Owner::TakingOver(t) | Owner::GivingBack(t) | Owner::WaitingGiveback(Some(t)) => Some(t),
                _ => None,
            })
            .min()
    }

    /// Each head as scenarios name it, with its state in words, for the
    /// trace's tracks.
    pub fn states(&self, mut each: impl FnMut(String, String)) {
        for h in 0..self.owner.len() {
            let head = if self.up[h] { "up" } else { "down" };
            let partner = self.partner(h as u32).map(Self::name).unwrap_or_default();
            let aggregates = match self.owner[h] {
                Owner::Home => "serving its aggregates".to_string(),
                Owner::Unserved => "its aggregates are offline: no takeover".to_string(),
                Owner::TakingOver(_) => format!("{partner} is taking over its aggregates"),
                Owner::Hung => format!("{partner}'s takeover of its aggregates hangs"),
                Owner::Partner => format!("taken over by {partner}"),
                Owner::WaitingGiveback(_) => format!("waiting for giveback from {partner}"),
                Owner::GivingBack(_) => format!("{partner} is giving back its aggregates"),
            };
            each(Self::name(h as u32), format!("{head}, {aggregates}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Time {
        Time(s * 1_000_000)
    }

    fn pair(auto_giveback: bool) -> Heads {
        Heads::new(HeadsConfig { auto_giveback, ..HeadsConfig::pair() })
    }

    /// Advances to `at` and says whether each head's aggregates are served.
    fn served(h: &mut Heads, at: Time) -> [bool; 2] {
        h.advance(at);
        [h.serving(0), h.serving(1)]
    }

    #[test]
    fn a_working_takeover_serves_the_failed_heads_aggregates_after_detection_and_takeover() {
        let mut h = pair(true);
        assert!(h.fail(0, Takeover::Works, t(100)));
        // 15 s detection + 30 s takeover: offline until T+145 s, the
        // partner's own aggregates never.
        assert_eq!(served(&mut h, t(144)), [false, true]);
        assert_eq!(h.next_event(), Some(t(145)));
        assert_eq!(served(&mut h, t(145)), [true, true]);
        assert!(h.taken_over(0));
        assert!(!h.fail(0, Takeover::Works, t(200)), "a head already down fails no further");
    }

    #[test]
    fn a_failed_takeover_leaves_exactly_the_failed_heads_aggregates_offline_until_repair() {
        let mut h = pair(true);
        h.fail(1, Takeover::Fails, t(0));
        assert_eq!(served(&mut h, t(86_400)), [true, false]);
        assert_eq!(h.next_event(), None, "nothing will bring them back by itself");
        assert!(!h.power_cycle(t(90_000)), "a power cycle does not help a refused takeover");
        assert!(h.repair(t(90_000)));
        assert_eq!(served(&mut h, t(90_000)), [true, true]);
        assert!(!h.taken_over(1));
    }

    #[test]
    fn a_hung_takeover_completes_after_a_power_cycle_of_the_shelves() {
        let mut h = pair(true);
        h.fail(0, Takeover::Hangs, t(0));
        assert_eq!(served(&mut h, t(3600)), [false, true]);
        assert_eq!(h.next_event(), None);
        assert!(h.power_cycle(t(3900)));
        assert_eq!(served(&mut h, t(3929)), [false, true]);
        assert_eq!(served(&mut h, t(3930)), [true, true]);
        assert!(h.taken_over(0));
    }

    #[test]
    fn giveback_returns_ownership_automatically_after_its_delay_or_at_once_by_hand() {
        // Automatic: repaired at T+1000 s, 600 s delay, 30 s giveback.
        let mut h = pair(true);
        h.fail(0, Takeover::Works, t(0));
        h.repair(t(1000));
        assert_eq!(served(&mut h, t(1599)), [true, true]);
        assert!(h.taken_over(0));
        assert_eq!(served(&mut h, t(1600)), [false, true], "the giveback is a short outage of its own");
        assert_eq!(served(&mut h, t(1630)), [true, true]);
        assert!(!h.taken_over(0));
        // By hand, with automatic giveback off: a giveback while the head is
        // down is refused, after its repair it starts at once.
        let mut h = pair(false);
        h.fail(0, Takeover::Works, t(0));
        h.advance(t(45));
        assert!(h.giveback(t(50)).unwrap_err().contains("head-a is down"));
        h.repair(t(1000));
        assert_eq!(served(&mut h, t(100_000)), [true, true]);
        assert!(h.taken_over(0), "without automatic giveback the partner keeps them");
        assert_eq!(h.giveback(t(100_000)), Ok(true));
        assert_eq!(served(&mut h, t(100_029)), [false, true]);
        assert_eq!(served(&mut h, t(100_030)), [true, true]);
        assert!(!h.taken_over(0));
        assert_eq!(h.giveback(t(100_100)), Ok(false), "nothing left to give back");
    }

    #[test]
    fn when_the_partner_that_took_over_fails_too_nothing_serves_either_heads_aggregates() {
        let mut h = pair(true);
        h.fail(0, Takeover::Works, t(0));
        assert_eq!(served(&mut h, t(100)), [true, true]);
        h.fail(1, Takeover::Works, t(200));
        assert_eq!(served(&mut h, t(10_000)), [false, false]);
        h.repair(t(20_000));
        assert_eq!(served(&mut h, t(20_000)), [true, true]);
    }

    #[test]
    fn a_single_head_takes_every_aggregate_down_until_repaired() {
        let mut h = Heads::new(HeadsConfig::default());
        assert_eq!(h.head_of_group(5), 0);
        h.fail(0, Takeover::Works, t(0));
        h.advance(t(10_000));
        assert!(!h.serving(0));
        h.repair(t(10_000));
        assert!(h.serving(0));
    }

    #[test]
    fn more_than_two_heads_are_refused() {
        let cfg = HeadsConfig { heads: 3, ..HeadsConfig::default() };
        assert!(cfg.validate().unwrap_err().contains("1 or 2"));
    }
}
