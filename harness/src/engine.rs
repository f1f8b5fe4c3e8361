//! The simulation engine under the protocol code: simulated TCP, a simulated
//! clock and a simulated disk, from turmoil by default and from madsim when
//! built with `RUSTFLAGS="--cfg madsim"`.
//!
//! Everything the SMTP code (`mx`, `store`, `sender`, `relay`) touches of
//! the outside world goes through this module, so the same code runs on
//! both engines. The two differ where their authors chose differently, and
//! the harness says so instead of papering over it:
//! - **Time**: turmoil advances every host one tick at a time (the harness
//!   picks the tick, `Setup::tick`); madsim jumps from one timer to the next.
//! - **Connects**: turmoil leaks a socket and an ephemeral port on every
//!   failed or timed-out connect (16,384 leaks and the host panics with
//!   "ports exhausted"); madsim refuses a connect to a dead node at once.
//!   Callers bound every connect with a timeout and retry on the profile's
//!   schedule, never in a tight loop, so a long outage costs few connects.
//! - **Disk**: turmoil's file system (`unstable-fs`) loses every write not
//!   made durable by `sync_all` (and a new file's name unless its directory
//!   is synced) when a host crashes; madsim's has no power failure at all
//!   (`FsSim::power_fail` is empty in 0.2), so a crash there loses nothing
//!   written; and it cannot reopen a file for writing (`File::open` is
//!   read-only, `File::create` truncates), so an existing file is rewritten
//!   at open. `DurableFile` is the one interface both are used through.
//!
//! Task panics: a spawned task that panics is recorded in the run's
//! journal (`Journal::fail`) and fails the run; neither engine's runtime
//! may swallow it. `spawn` watches its own tasks' handles; `PanicWatch`
//! catches the rest — a task a user's server started with `tokio::spawn`,
//! or turmoil's "ports exhausted" panic inside any task — through a panic
//! hook that records every panic on the simulation's thread while a run is
//! on it (tokio would catch such a panic and drop it with the task).

use std::future::Future;
use std::io;
use std::time::Duration;

use crate::journal::Journal;

#[cfg(not(madsim))]
mod imp {
    use super::*;

    use turmoil::fs::shim::tokio::fs;
    pub use turmoil::net::{TcpListener, TcpStream};

    /// Binds a listener on every address of this host.
    pub async fn bind(port: u16) -> io::Result<TcpListener> {
        TcpListener::bind(("0.0.0.0", port)).await
    }

    /// Connects to `host:port` (names are the simulation's host names).
    pub async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
        TcpStream::connect((host, port)).await
    }

    /// Simulated time since the start of the run.
    pub fn now() -> Duration {
        turmoil::sim_elapsed().unwrap_or_default()
    }

    /// Sleeps `d` of simulated time.
    pub async fn sleep(d: Duration) {
        tokio::time::sleep(d).await
    }

    /// `f`, or `None` once `d` of simulated time has passed.
    pub async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
        tokio::time::timeout(d, f).await.ok()
    }

    /// Spawns a task on this host; if it panics, the run fails.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(journal: &Journal, what: &'static str, f: F) {
        let handle = tokio::spawn(f);
        let journal = journal.clone();
        tokio::spawn(async move {
            if let Err(e) = handle.await {
                if e.is_panic() {
                    journal.fail(format!("task `{what}` panicked at {:?}: {}", now(), panic_text(e.into_panic())));
                }
            }
        });
    }

    /// A file on this host's simulated disk.
    pub struct File(fs::File);

    impl File {
        pub async fn open_or_create(path: &str) -> io::Result<File> {
            let dir = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty());
            if let Some(dir) = dir {
                fs::create_dir_all(dir).await?;
            }
            match fs::OpenOptions::new().read(true).write(true).open(path).await {
                Ok(f) => Ok(File(f)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let f = fs::OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).await?;
                    // The name must survive a crash too: fsync the file and its directory.
                    f.sync_all().await?;
                    if let Some(dir) = dir {
                        fs::sync_dir(dir).await?;
                    }
                    Ok(File(f))
                }
                Err(e) => Err(e),
            }
        }
        pub async fn len(&self) -> io::Result<u64> {
            Ok(self.0.metadata().await?.len())
        }
        pub async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.0.read_at(buf, offset).await
        }
        pub async fn write_all_at(&self, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
            while !buf.is_empty() {
                let n = self.0.write_at(buf, offset).await?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::WriteZero, "simulated disk wrote nothing"));
                }
                buf = &buf[n..];
                offset += n as u64;
            }
            Ok(())
        }
        pub async fn sync_all(&self) -> io::Result<()> {
            self.0.sync_all().await
        }
    }
}

#[cfg(madsim)]
mod imp {
    use super::*;

    pub use madsim::net::{TcpListener, TcpStream};

    /// Binds a listener on every address of this node.
    pub async fn bind(port: u16) -> io::Result<TcpListener> {
        TcpListener::bind(("0.0.0.0", port)).await
    }

    /// Connects to `host:port` (names resolve through madsim's DNS).
    pub async fn connect(host: &str, port: u16) -> io::Result<TcpStream> {
        TcpStream::connect((host, port)).await
    }

    /// Simulated time since the start of the run.
    pub fn now() -> Duration {
        madsim::time::TimeHandle::current().elapsed()
    }

    /// Sleeps `d` of simulated time.
    pub async fn sleep(d: Duration) {
        madsim::time::sleep(d).await
    }

    /// `f`, or `None` once `d` of simulated time has passed.
    pub async fn timeout<F: Future>(d: Duration, f: F) -> Option<F::Output> {
        madsim::time::timeout(d, f).await.ok()
    }

    /// Spawns a task on this node. madsim itself ends the run on a task
    /// panic (it re-raises it from `block_on`), which the driver reports.
    pub fn spawn<F: Future<Output = ()> + Send + 'static>(_journal: &Journal, _what: &'static str, f: F) {
        drop(madsim::task::spawn(f));
    }

    /// A file on this node's simulated disk.
    pub struct File(madsim::fs::File);

    impl File {
        /// madsim 0.2 opens an existing file read-only and `create`
        /// truncates, so an existing file is read, recreated and written
        /// back. Its file operations never yield, so no kill can fall
        /// between the two.
        pub async fn open_or_create(path: &str) -> io::Result<File> {
            match madsim::fs::read(path).await {
                Ok(data) => {
                    let f = madsim::fs::File::create(path).await?;
                    f.write_all_at(&data, 0).await?;
                    Ok(File(f))
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(File(madsim::fs::File::create(path).await?)),
                Err(e) => Err(e),
            }
        }
        pub async fn len(&self) -> io::Result<u64> {
            Ok(self.0.metadata().await?.len())
        }
        pub async fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            self.0.read_at(buf, offset).await
        }
        pub async fn write_all_at(&self, buf: &[u8], offset: u64) -> io::Result<()> {
            self.0.write_all_at(buf, offset).await
        }
        pub async fn sync_all(&self) -> io::Result<()> {
            self.0.sync_all().await
        }
    }
}

pub use imp::{bind, connect, now, sleep, spawn, timeout, TcpListener, TcpStream};

thread_local! {
    /// Panics seen on this thread while a `PanicWatch` is alive (`None`:
    /// none is).
    static PANICS: std::cell::RefCell<Option<Vec<String>>> = const { std::cell::RefCell::new(None) };
}

static PANIC_HOOK: std::sync::Once = std::sync::Once::new();

/// While alive, every panic on this thread — in any task of any host, even
/// one the runtime catches and drops — is recorded, for the driver to fail
/// the run with (`PanicWatch::take`). One run per thread at a time.
pub struct PanicWatch(());

impl PanicWatch {
    /// Starts recording panics on this thread (installs the process's panic
    /// hook on first use; the hook passes every panic on to the previous
    /// one, so it is still printed).
    pub fn new() -> PanicWatch {
        PANIC_HOOK.call_once(|| {
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                // No engine call here: the panic may have struck while the
                // engine's own state was borrowed (turmoil's "ports
                // exhausted" does). Only this thread's list is touched.
                let text = match (info.payload().downcast_ref::<&str>(), info.payload().downcast_ref::<String>()) {
                    (Some(s), _) => (*s).to_string(),
                    (None, Some(s)) => s.clone(),
                    (None, None) => "a non-text panic payload".to_string(),
                };
                let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
                let _ = PANICS.try_with(|p| {
                    if let Ok(mut p) = p.try_borrow_mut() {
                        if let Some(list) = p.as_mut() {
                            list.push(format!("a task panicked{at}: {text}"));
                        }
                    }
                });
                previous(info);
            }));
        });
        PANICS.with(|p| *p.borrow_mut() = Some(Vec::new()));
        PanicWatch(())
    }

    /// The panics recorded since the last call.
    pub fn take(&self) -> Vec<String> {
        PANICS.with(|p| p.borrow_mut().as_mut().map(std::mem::take).unwrap_or_default())
    }
}

impl Default for PanicWatch {
    fn default() -> PanicWatch {
        PanicWatch::new()
    }
}

impl Drop for PanicWatch {
    fn drop(&mut self) {
        let _ = PANICS.try_with(|p| p.borrow_mut().take());
    }
}

/// The message of a panic payload.
#[cfg_attr(madsim, allow(dead_code))]
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        return (*s).to_string();
    }
    if let Some(s) = payload.downcast_ref::<String>() {
        return s.clone();
    }
    "a non-text panic payload".to_string()
}

/// An append-only file on the simulated disk: appends are volatile until
/// `sync`, as on a real one. The spool and the mailboxes are made of these.
pub struct DurableFile {
    file: imp::File,
    len: u64,
}

impl DurableFile {
    /// Opens `path`, creating it (durably, name included) if missing, and
    /// returns it with its whole contents: what survived the last crash.
    pub async fn open(path: &str) -> io::Result<(DurableFile, Vec<u8>)> {
        let file = imp::File::open_or_create(path).await?;
        let len = file.len().await?;
        let mut data = vec![0u8; usize::try_from(len).map_err(|_| io::Error::other("file too large"))?];
        let mut at = 0usize;
        while at < data.len() {
            let n = file.read_at(&mut data[at..], at as u64).await?;
            if n == 0 {
                data.truncate(at);
                break;
            }
            at += n;
        }
        Ok((DurableFile { file, len: data.len() as u64 }, data))
    }

    /// Appends `bytes` (not yet durable).
    pub async fn append(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all_at(bytes, self.len).await?;
        self.len += bytes.len() as u64;
        Ok(())
    }

    /// Makes every append so far durable (fsync).
    pub async fn sync(&self) -> io::Result<()> {
        self.file.sync_all().await
    }
}
