//! Running many seeds on all cores: the one pool behind the default job,
//! `sweep` and `compare`.
//!
//! Each run stays single-threaded and deterministic; parallelism exists only
//! across runs (ARCHITECTURE.md). Worker threads, scoped with
//! `std::thread::scope`, take job indices from one atomic counter and send
//! their results to the calling thread over a channel, so nothing is
//! allocated per job up front: memory grows with the results the caller
//! keeps, never with the number of jobs asked for (a range of 10^8 seeds
//! costs nothing until it runs). The caller sees results as they finish, in
//! completion order, and can stop the pool early.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

/// What the pool hands to the caller's sink.
#[derive(Debug)]
pub enum Event<T> {
    /// Job `index` finished with this result.
    Done(u64, T),
    /// No job finished for a `tick` (see [`run_jobs`]): time to flush.
    Idle,
}

/// All cores, or 1 if the platform cannot say.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `work(j)` for every j in `0..jobs` on up to `threads` threads; a job
/// that returns `None` is skipped (nothing to do). Each result goes to `sink`
/// on the calling thread as soon as it is done; `sink` also gets
/// [`Event::Idle`] whenever `tick` passes without a result. When `sink`
/// returns `Break`, the workers take no new jobs, the jobs under way finish
/// and their results are dropped. Returns once every worker has stopped.
pub fn run_jobs<T: Send>(
    jobs: u64,
    threads: usize,
    tick: Option<Duration>,
    work: impl Fn(u64) -> Option<T> + Sync,
    mut sink: impl FnMut(Event<T>) -> ControlFlow<()>,
) {
    let threads = usize::try_from(jobs).unwrap_or(usize::MAX).clamp(1, threads.max(1));
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel::<(u64, T)>();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (work, next, stop) = (&work, &next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    if j >= jobs {
                        break;
                    }
                    let Some(out) = work(j) else { continue };
                    if tx.send((j, out)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        loop {
            let event = match tick {
                Some(t) => match rx.recv_timeout(t) {
                    Ok((j, out)) => Event::Done(j, out),
                    Err(mpsc::RecvTimeoutError::Timeout) => Event::Idle,
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok((j, out)) => Event::Done(j, out),
                    Err(mpsc::RecvError) => break,
                },
            };
            if sink(event).is_break() {
                stop.store(true, Ordering::Relaxed);
                break;
            }
        }
        // Unblocks workers still sending; they see `stop` and quit.
        drop(rx);
    });
}

/// `f(j)` for every j in `0..jobs`, on up to `threads` threads, returned in
/// index order. The result vector grows as jobs finish.
pub fn map_jobs<T: Send>(jobs: u64, threads: usize, f: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let mut done: Vec<(u64, T)> = Vec::new();
    run_jobs(
        jobs,
        threads,
        None,
        |j| Some(f(j)),
        |e| {
            if let Event::Done(j, out) = e {
                done.push((j, out));
            }
            ControlFlow::Continue(())
        },
    );
    done.sort_unstable_by_key(|x| x.0);
    done.into_iter().map(|x| x.1).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_returns_every_result_in_index_order_whatever_the_thread_count() {
        for threads in [1, 2, 7] {
            let out = map_jobs(100, threads, |j| j * j);
            assert_eq!(out, (0..100).map(|j| j * j).collect::<Vec<_>>(), "{threads} threads");
        }
        assert!(map_jobs(0, 4, |j| j).is_empty());
    }

    #[test]
    fn skipped_jobs_send_nothing_and_a_break_stops_the_pool() {
        let mut seen = Vec::new();
        run_jobs(
            10,
            3,
            None,
            |j| (j % 2 == 0).then_some(j),
            |e| {
                if let Event::Done(_, x) = e {
                    seen.push(x);
                }
                ControlFlow::Continue(())
            },
        );
        seen.sort_unstable();
        assert_eq!(seen, vec![0, 2, 4, 6, 8]);

        let mut count = 0u64;
        run_jobs(u64::MAX, 2, Some(Duration::from_millis(1)), Some, |e| {
            count += u64::from(matches!(e, Event::Done(..)));
            if count >= 50 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        assert_eq!(count, 50, "a pool over 2^64 jobs stops when told, having allocated nothing per job");
    }
}
