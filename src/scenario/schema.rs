//! The JSON Schema of scenario files (`mailsim schema`): the string enums
//! of the names the loader accepts, and maps keyed by them.

use super::*;

/// A string schema allowing exactly the names of `choices`, each with its
/// description: `enum` and, in the same order, `enumDescriptions` (the
/// keyword VS Code's JSON editor shows per value; other tools ignore it as
/// an unknown annotation). Not `oneOf`/`anyOf` of `const`s: the schema
/// stays a plain string enum for every tool.
fn choices_schema(description: &str, choices: &[Choice]) -> Schema {
    let names: Vec<&str> = choices.iter().map(|c| c.name).collect();
    let descriptions: Vec<&str> = choices.iter().map(|c| c.description).collect();
    schemars::json_schema!({ "type": "string", "enum": names, "enumDescriptions": descriptions, "description": description })
}

/// A schema-only type (never a value) named `$ty` whose schema is
/// `$schema`: the one shape behind `choice_list!` and `name_list!`.
macro_rules! schema_only {
    ($(#[$doc:meta])* $ty:ident, $schema:expr) => {
        $(#[$doc])*
        pub(super) enum $ty {}

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                $schema
            }
        }
    };
}

/// Schema-only types: a string from a table of `Choice`s, with a
/// description per value.
macro_rules! choice_list {
    ($(#[$doc:meta])* $ty:ident, $description:literal, $choices:expr) => {
        schema_only!($(#[$doc])* $ty, choices_schema($description, $choices));
    };
}

/// A string schema allowing exactly `names`.
fn names_schema(description: &str, names: &[&str]) -> Schema {
    schemars::json_schema!({ "type": "string", "enum": names, "description": description })
}

/// Schema-only types: a string from one of the lists the loader checks
/// against, so that `mailsim schema` shows the same list. The fields stay
/// `String`s for serde, so parsing and its errors do not change.
macro_rules! name_list {
    ($(#[$doc:meta])* $ty:ident, $description:literal, $names:expr) => {
        schema_only!($(#[$doc])* $ty, {
            let names: Vec<&str> = $names.iter().map(|n| &**n).collect();
            names_schema($description, &names)
        });
    };
}

choice_list!(
    /// `FaultKind::CHOICES`: what a scheduled fault can be.
    FaultKindName,
    "A scheduled fault's kind.",
    FaultKind::CHOICES
);
choice_list!(
    /// `RANDOM_FAULT_CHOICES`: what a random fault process can inject.
    RandomFaultKindName,
    "A random fault process's kind.",
    RANDOM_FAULT_CHOICES
);
choice_list!(
    /// `Action::CHOICES`.
    StepActionName,
    "A recovery step's action.",
    Action::CHOICES
);
name_list!(
    /// `RETRY_PROFILES`.
    RetryProfileName,
    "A built-in retry profile.",
    RETRY_PROFILES
);
name_list!(
    /// `NoQuorumPolicy::NAMES`.
    NoQuorumPolicyName,
    "What a cluster partition without quorum does (Pacemaker no-quorum-policy): stop (stop its services), freeze (keep what runs, start nothing), ignore (carry on as if quorate).",
    NoQuorumPolicy::NAMES
);
name_list!(
    /// `InboundPolicy::NAMES`.
    InboundPolicyName,
    "What an MX answers new mail for a mailbox it knows is unavailable: accept-and-hold (250, queued at the MX), reject-4xx (450, the sender retries), reject-5xx (550, the sender bounces it at once).",
    InboundPolicy::NAMES
);
name_list!(
    /// `WEEKDAYS`.
    WeekdayName,
    "A day of the week.",
    WEEKDAYS.map(|(name, _)| name)
);
name_list!(
    /// `RECIPIENTS`.
    RecipientsName,
    "A recipient distribution.",
    RECIPIENTS.map(|(name, _)| name)
);
name_list!(
    /// The values of `recovery[].hours`.
    WorkingHoursName,
    "When operators work on a recovery step: always (around the clock) or business (working days, business hours).",
    ["always", "business"]
);
name_list!(
    /// `ROLE_HOURS`: the values of `topology.operators.roles[].hours`.
    RoleHoursName,
    "When a role can be reached: 24x7 (at once, around the clock), business (working days, business hours only) or on-call (at once in business hours, after a callout delay outside them).",
    ROLE_HOURS
);
name_list!(
    /// `RebuildPriority::NAMES`.
    RebuildPriorityName,
    "How much bandwidth rebuilds take from clients under load (NetApp's raid.reconstruct.perf_impact).",
    RebuildPriority::NAMES
);
name_list!(
    /// `RebuildRule::NAMES`: the values of `recovery[].order`.
    RebuildRuleName,
    "Which degraded RAID group a serial rebuild takes next: index (group-1 first), smallest-first (least data to rebuild), largest-first, most-users-first (most mailboxes on its volumes), most-users-per-byte (most mailboxes per byte to rebuild).",
    RebuildRule::NAMES
);
name_list!(
    /// The values of `topology.backups[].kind`.
    BackupKindName,
    "Where a backup set's copies live: snapshot (on the volume's own storage, gone with a destroyed volume), disk (a backup server), tape.",
    ["snapshot", "disk", "tape"]
);
name_list!(
    /// `Takeover::NAMES`.
    TakeoverName,
    "How a head's partner takes over when the head fails: works (its volumes are offline for detection plus takeover time, then the partner serves them), fails (they stay offline until the head is repaired), hangs (they stay offline until the shelves are power-cycled or the head is repaired).",
    Takeover::NAMES
);
name_list!(
    /// `LocalDevice::NAMES`.
    LocalDeviceName,
    "A mail node's local device: queue (its queue disk: the MTA can neither queue new mail nor deliver what it queued until the device is replaced).",
    LocalDevice::NAMES
);
name_list!(
    /// `ReplicationMode::NAMES`.
    ReplicationModeName,
    "How the mailstore is replicated: sync (a write is acknowledged once both copies have it) or async (once the primary has it; the replica gets it at the next update).",
    ReplicationMode::NAMES
);
name_list!(
    /// `LinkLoss::NAMES`.
    LinkLossName,
    "What a synchronous primary does while its replica cannot be reached: continue (alone, out of sync) or stop (refuse writes).",
    LinkLoss::NAMES
);
name_list!(
    /// `Metric::NAMES`.
    MetricName,
    "What a checkpoint measures.",
    crate::checkpoints::Metric::NAMES
);

/// A map schema of `V` whose keys are `names`.
fn keyed_by<V: JsonSchema>(g: &mut SchemaGenerator, names: &[&str]) -> Schema {
    let mut schema = g.subschema_for::<BTreeMap<String, V>>();
    schema.insert("propertyNames".into(), serde_json::json!({ "enum": names }));
    schema
}

pub(super) fn weights_by_profile(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<u64>(g, &RETRY_PROFILES)
}

pub(super) fn weights_by_protocol(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<u64>(g, &PROTOCOLS)
}

pub(super) fn bounces_by_profile(g: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = RETRY_PROFILES.iter().copied().chain(["all"]).collect();
    keyed_by::<Bounds<u64>>(g, &names)
}

pub(super) fn durations_by_service(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<Bounds<HumanDuration>>(g, &services())
}

pub(super) fn shares_by_service(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<Bounds<Share>>(g, &services())
}

/// Schema-only: `CheckpointEntry` with its `metric` one of `Metric::NAMES`.
pub(super) enum CheckpointEntrySchema {}

impl JsonSchema for CheckpointEntrySchema {
    fn schema_name() -> Cow<'static, str> {
        "CheckpointEntry".into()
    }
    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::CheckpointEntrySchema").into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut schema = crate::checkpoints::CheckpointEntry::json_schema(g);
        let metric = g.subschema_for::<MetricName>();
        let property = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut("metric"))
            .and_then(serde_json::Value::as_object_mut)
            .expect("CheckpointEntry has a `metric` property");
        property.remove("type");
        property.extend(metric.as_object().expect("a $ref schema is an object").clone());
        schema
    }
}

/// The JSON Schema of scenario files.
pub fn schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    let mut schema = serde_json::to_value(&schema).expect("a schema is JSON");
    crate::ranges::allow_in_schema(&mut schema);
    // The triggers are fields of a step, not one field's values: listed
    // here, with their descriptions, for editors and readers.
    let triggers = choices_schema("What starts a recovery step: the one of these fields a `[[recovery]]` step gives.", TRIGGERS);
    if let Some(defs) = schema.get_mut("$defs").and_then(serde_json::Value::as_object_mut) {
        defs.insert("RecoveryTrigger".into(), triggers.into());
    }
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}
