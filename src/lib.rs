//! The `mailsim` library: scenario files, the runner and the reports behind
//! the CLI. Scenarios are data (`scenarios/*.toml`); this crate turns them into
//! runs of the models on the kernel and checks their expectations.

/// Serializes (and, given `deserialize`, reads back) a named struct as the
/// tuple of its fields in order: results that were anonymous tuples before
/// they had names (issue 16) keep the JSON shape that outputs, shard files
/// and snapshots already use.
macro_rules! serde_as_tuple {
    ($ty:ident { $($field:ident: $fty:ty),+ $(,)? }) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                serde::Serialize::serialize(&($(&self.$field,)+), s)
            }
        }
    };
    ($ty:ident { $($field:ident: $fty:ty),+ $(,)? }, deserialize) => {
        serde_as_tuple!($ty { $($field: $fty),+ });
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let ($($field,)+) = <($($fty,)+) as serde::Deserialize>::deserialize(d)?;
                Ok($ty { $($field),+ })
            }
        }
    };
}

pub mod calibrate;
pub mod checkpoints;
pub mod compare;
pub mod error;
pub mod explore;
pub mod junit;
pub mod output;
pub mod pool;
pub mod ranges;
pub mod replay;
pub mod report;
pub mod run;
pub mod scenario;
pub mod shrink;
pub mod sweep;
pub mod testing;
pub mod units;
