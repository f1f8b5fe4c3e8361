//! The `mailsim` command line.

fn main() {}
