//! Writing a command's output without panicking on a closed pipe.
//!
//! `println!` panics when stdout is a pipe whose reader has gone
//! (`mailsim run F --json | head -c1`): Rust ignores SIGPIPE, so the write
//! fails with EPIPE and the macro turns that into a panic. Unix tools stop
//! writing quietly instead, and so does mailsim: [`stdout`] treats a closed
//! reader as the end of the output (the command still finishes and exits
//! with the status its results call for), and reports any other write error
//! to the caller, which exits 2. Reports go to stdout (`mailsim run F >
//! report.txt`; with `--json`, the JSON does, and the human report goes to
//! stderr); progress, logs and errors go to stderr through [`stderr`], which
//! ignores every error there, since there is nowhere left to report one.

use std::io::{ErrorKind, Write};

/// Writes `text` to stdout and flushes. A closed reader (EPIPE) is not an
/// error: the output is dropped. Other errors (a full disk behind a
/// redirection) are returned.
pub fn stdout(text: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// Writes `text` to stdout followed by a newline; see [`stdout`].
pub fn stdout_line(text: &str) -> std::io::Result<()> {
    stdout(&format!("{text}\n"))
}

/// The human report of a command: on stdout, or on stderr when stdout
/// carries the JSON form (`json`). A write error on stdout other than a
/// closed reader is returned.
pub fn report(text: &str, json: bool) -> std::io::Result<()> {
    if json {
        stderr(text);
        Ok(())
    } else {
        stdout(text)
    }
}

/// Writes `text` to stderr, ignoring errors (a closed pipe included).
pub fn stderr(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// `eprintln!` that never panics: a line to stderr through [`stderr`].
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::stderr(&format!("{}\n", format_args!($($arg)*)))
    };
}

/// A command's invalid input: `error: {message}` on stderr, and exit 2.
pub fn invalid(message: impl std::fmt::Display) -> std::process::ExitCode {
    crate::note!("error: {message}");
    std::process::ExitCode::from(2)
}

/// Loads a command's scenario file, or says why it cannot (exit 2 through
/// [`invalid`]): the preamble of every command that takes one.
pub fn load_scenario(path: &std::path::Path) -> Result<crate::scenario::Scenario, std::process::ExitCode> {
    crate::scenario::Scenario::load(path).map_err(invalid)
}
