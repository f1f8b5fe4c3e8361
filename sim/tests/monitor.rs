//! The failure monitor (`Ctx::watch`, `Ctx::publish`): a watcher hears what a
//! heartbeat failure detector would tell it — a peer down `timeout` after it
//! stopped reaching the watcher, up again one link latency after it reaches
//! it again, and its published status — for crashes, partitions (both
//! directions and one), isolation, clogs and slow links; nothing for an
//! outage shorter than the timeout; nothing after the watcher itself crashed.
//!
//! Links have a fixed 1 ms latency and the timeout is 3 s, so every notice
//! time is exact.

mod common;

use std::cell::RefCell;
use std::rc::Rc;

use common::*;
use mailsim_sim::*;

const W: NodeId = NodeId(0);
const P: NodeId = NodeId(1);
const TIMEOUT: Dur = Dur::secs(3);

type Log = Rc<RefCell<Vec<(Time, bool, u64)>>>;

/// Watches `P` from boot and logs every notice.
struct Watcher {
    log: Log,
}
impl Node<Msg, World> for Watcher {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => ctx.watch(P, TIMEOUT),
            Input::Peer { peer, up, status } => {
                assert_eq!(peer, P);
                self.log.borrow_mut().push((ctx.now(), up, status));
            }
            _ => {}
        }
    }
}

/// Publishes status 1 at boot and its timer tag at each timer in `at`.
struct Peer {
    at: Vec<(Time, u64)>,
}
impl Node<Msg, World> for Peer {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => {
                ctx.publish(1);
                let now = ctx.now();
                for &(t, s) in &self.at {
                    if t > now {
                        ctx.set_timer(t.since(now), s);
                    }
                }
            }
            Input::Timer { tag, .. } => ctx.publish(tag),
            _ => {}
        }
    }
}

fn run(faults: Vec<(Time, Fault<Msg>)>, publish: Vec<(Time, u64)>, link: LinkConfig) -> (Vec<(Time, bool, u64)>, RunReport) {
    let log: Log = Rc::default();
    let mut cfg = Config::new(3);
    cfg.end_at = Some(Time::from_secs(60));
    let mut sim: Sim<Msg, World> = Sim::new(cfg, World::default());
    let l = log.clone();
    sim.add_node("w", NodeConfig::default(), (), move |_| Watcher { log: l.clone() });
    sim.add_node("p", NodeConfig::default(), (), move |_| Peer { at: publish.clone() });
    sim.set_default_link(link);
    for (at, f) in faults {
        sim.schedule(at, f);
    }
    let report = sim.run();
    let log = log.borrow().clone();
    (log, report)
}

fn secs(s: u64) -> Time {
    Time::from_secs(s)
}

fn lan() -> LinkConfig {
    fixed_link(Dur::millis(1))
}

#[test]
fn a_crash_is_noticed_after_the_timeout_and_a_restart_after_a_latency() {
    let (log, report) = run(vec![(secs(10), Fault::Crash(P)), (secs(20), Fault::Restart(P))], vec![], lan());
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(log, vec![(ms(1), true, 1), (secs(13), false, 0), (secs(20) + Dur::millis(1), true, 1)]);
}

#[test]
fn an_outage_shorter_than_the_timeout_goes_unnoticed() {
    let (log, _) = run(vec![(secs(10), Fault::Partition(W, P)), (secs(12), Fault::Heal)], vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1)]);
}

#[test]
fn partitions_isolation_and_clogs_count_only_in_the_peer_to_watcher_direction() {
    // W -> P cut: P's heartbeats still reach W.
    let (log, _) = run(vec![(secs(10), Fault::PartitionOneWay { from: W, to: P })], vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1)]);
    // P -> W cut: P is down to W.
    let (log, _) = run(vec![(secs(10), Fault::PartitionOneWay { from: P, to: W })], vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1), (secs(13), false, 0)]);
    // The watcher isolated: it hears from nobody.
    let (log, _) = run(vec![(secs(10), Fault::Isolate(W)), (secs(30), Fault::Heal)], vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1), (secs(13), false, 0), (secs(30) + Dur::millis(1), true, 1)]);
    // A clogged link holds heartbeats: down until unclogged.
    let (log, _) = run(vec![(secs(10), Fault::Clog { from: P, to: W }), (secs(40), Fault::Unclog { from: P, to: W })], vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1), (secs(13), false, 0), (secs(40) + Dur::millis(1), true, 1)]);
}

#[test]
fn a_link_slower_than_the_timeout_is_a_dead_link() {
    // 1 ms x 4000 = 4 s > 3 s: every heartbeat would come too late.
    let (log, _) = run(vec![(secs(10), Fault::SlowLink { from: P, to: W, permille: 4_000_000 })], vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1), (secs(13), false, 0)]);
    // x2: 2 ms, still in time.
    let (log, _) = run(vec![(secs(10), Fault::SlowLink { from: P, to: W, permille: 2000 })], vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1)]);
}

#[test]
fn published_status_changes_arrive_one_latency_later() {
    let (log, _) = run(vec![], vec![(secs(5), 7), (secs(6), 7), (secs(8), 9)], lan());
    assert_eq!(log, vec![(ms(1), true, 1), (secs(5) + Dur::millis(1), true, 7), (secs(8) + Dur::millis(1), true, 9)]);
}

#[test]
fn a_crashed_watcher_hears_nothing_until_it_watches_again() {
    // W crashes at 10 s, P at 12 s, W restarts at 20 s and watches again: P
    // is down, so the new watch reports it down a timeout later.
    let faults = vec![(secs(10), Fault::Crash(W)), (secs(12), Fault::Crash(P)), (secs(20), Fault::Restart(W))];
    let (log, _) = run(faults, vec![], lan());
    assert_eq!(log, vec![(ms(1), true, 1), (secs(23), false, 0)]);
}

#[test]
fn lossy_links_are_alive_and_total_loss_is_dead() {
    let lossy = LinkConfig { loss_ppm: 500_000, ..lan() };
    let (log, _) = run(vec![], vec![], lossy);
    assert_eq!(log, vec![(ms(1), true, 1)]);
    let dead = LinkConfig { loss_ppm: PPM, ..lan() };
    let (log, _) = run(vec![], vec![], dead);
    assert_eq!(log, vec![(secs(3), false, 0)]);
}

#[test]
fn notices_are_in_the_trace_and_deterministic() {
    let faults = || vec![(secs(10), Fault::Crash(P)), (secs(20), Fault::Restart(P))];
    let (_, a) = run(faults(), vec![(secs(30), 5)], LinkConfig::default());
    let (_, b) = run(faults(), vec![(secs(30), 5)], LinkConfig::default());
    assert_eq!(a.trace_hash, b.trace_hash);
    let (_, c) = run(faults(), vec![(secs(30), 6)], LinkConfig::default());
    assert_ne!(a.trace_hash, c.trace_hash, "the status is part of the trace");
}
