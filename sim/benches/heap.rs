//! Heap accounting for the benchmarks: a counting wrapper around the system
//! allocator, and `measure`, which reports a closure's wall time and peak heap
//! growth. Shared by `sim/benches/reference.rs` and
//! `models/benches/cluster.rs` through `#[path]`; it is bench-only code (the
//! wall clock is allowed here, never in `sim/src` or `models/src`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

#[inline]
fn grew(n: usize) {
    let now = CURRENT.fetch_add(n, Relaxed) + n;
    // The bench is single-threaded: a plain load/store keeps this cheap.
    if now > PEAK.load(Relaxed) {
        PEAK.store(now, Relaxed);
    }
}

// The workspace denies `unsafe_code`; a global allocator cannot be written
// without it, and this one only forwards to `System`.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                grew(new_size - layout.size());
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f`, returning its result, its wall time and the peak heap growth
/// (bytes above what was allocated when it started).
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, Duration, usize) {
    let base = CURRENT.load(Relaxed);
    PEAK.store(base, Relaxed);
    let t = Instant::now();
    let r = f();
    let wall = t.elapsed();
    (r, wall, PEAK.load(Relaxed) - base)
}
