//! Names a scenario file may give, each with what it means: one table per
//! list (`FaultKind::CHOICES`, `Action::CHOICES`, the scenario loader's
//! triggers). The loader accepts exactly the names of its table, the error
//! for an unknown name lists them, and `mailsim schema` shows each with its
//! description; so adding a name is one entry in its table (plus the code
//! that gives it its meaning).

/// A name a scenario file may give, and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// The name as a file writes it.
    pub name: &'static str,
    /// What it means, in a sentence or two (shown by `mailsim schema`).
    pub description: &'static str,
}

impl Choice {
    /// The entry of `choices` named `name`.
    pub fn find(choices: &'static [Choice], name: &str) -> Option<&'static Choice> {
        choices.iter().find(|c| c.name == name)
    }
}

/// The names of `choices`, in order: a `const` list of names made from a
/// table, so that the two cannot differ. `N` is `choices.len()`.
pub const fn names<const N: usize>(choices: &[Choice]) -> [&'static str; N] {
    assert!(choices.len() == N, "N is the number of choices");
    let mut out = [""; N];
    let mut i = 0;
    while i < N {
        out[i] = choices[i].name;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &[Choice] = &[Choice { name: "a", description: "first" }, Choice { name: "b", description: "second" }];
    const NAMES: &[&str] = &names::<{ TABLE.len() }>(TABLE);

    #[test]
    fn names_follow_the_table() {
        assert_eq!(NAMES, ["a", "b"]);
        assert_eq!(Choice::find(TABLE, "b").map(|c| c.description), Some("second"));
        assert_eq!(Choice::find(TABLE, "c"), None);
    }
}
