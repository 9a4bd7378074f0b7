//! Tags as they were: a resource's tags at each event's time, rebuilt from CloudTrail's own tag
//! events (EC2 `CreateTags`/`DeleteTags`/`RunInstances`, Systems Manager
//! `AddTagsToResource`/`RemoveTagsFromResource`), AWS Config configuration items and the
//! inventory snapshot with its time.
//!
//! For resource r, key k and an event at time t:
//! 1. the last change or Config item for (r, k) at or before t gives the value (or absent);
//! 2. else the snapshot's value, when nothing changed (r, k) between the snapshot time S and t
//!    (either direction);
//! 3. else unknown: the value before the first change seen is not in the data.
//!
//! A Config item carries the whole tag set at its capture time (a key missing from it is
//! absent then); `RunInstances` sets exactly the launch tags. A change in the same second as the
//! event is ordered by the log when both are in the same file, else the key is unknown for that
//! event. CloudTrail and Config at the same instant: CloudTrail wins, and the conflict is
//! counted.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::eval::{PartialTags, TagState};
use crate::timefmt;

/// Where a change or an event sits in time: its time and, for CloudTrail records, its place in
/// the log (file and record), which orders records of the same second in one file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct At {
    /// When.
    pub time: DateTime<Utc>,
    /// The log file, for CloudTrail records.
    pub file: Option<Arc<str>>,
    /// The record's position in the file.
    pub record: u64,
}

/// What a change does to a resource's tags (keys lowercased).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagOp {
    /// The key gets the value (`CreateTags`, `AddTagsToResource`).
    Set(String, String),
    /// The key is removed whatever its value (`DeleteTags` without a value,
    /// `RemoveTagsFromResource`).
    Remove(String),
    /// The key is removed only when its value is this one (`DeleteTags` with a value; an
    /// empty value removes only an empty-valued tag).
    RemoveIf(String, String),
    /// The resource is created with exactly these tags (`RunInstances`).
    Launch(HashMap<String, String>),
    /// A Config item: the whole tag set at its capture time (an observation, not a change).
    Observed(HashMap<String, String>),
}

impl TagOp {
    fn touches(&self, key: &str) -> bool {
        match self {
            TagOp::Set(k, _) | TagOp::Remove(k) | TagOp::RemoveIf(k, _) => k == key,
            TagOp::Launch(_) | TagOp::Observed(_) => true,
        }
    }
    fn is_change(&self) -> bool {
        !matches!(self, TagOp::Observed(_))
    }
}

/// Where a tag value came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Source {
    /// A CloudTrail record: its event name and ID.
    Event {
        /// `CreateTags`, ….
        name: String,
        /// `eventID`.
        id: String,
    },
    /// An AWS Config configuration item, by capture time.
    Config(DateTime<Utc>),
    /// The inventory snapshot.
    Snapshot,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Event { id, .. } => f.write_str(id),
            Source::Config(t) => write!(f, "config@{}", timefmt::iso(t)),
            Source::Snapshot => f.write_str("snapshot"),
        }
    }
}

/// One change or observation of one resource's tags.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagRecord {
    /// The resource ID (`i-…`, `mi-…`).
    pub resource: String,
    /// When.
    pub at: At,
    /// From where.
    pub source: Source,
    /// What.
    pub op: TagOp,
}

/// A key's value for an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAt {
    /// Known: the value (`None`: absent) and where it came from.
    Known(Option<String>, Source),
    /// Not known, and why.
    Unknown(String),
}

/// Tags read by an evaluation, for the report: key, value or state, source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagReading {
    /// The tag key (as policies name it, lowercased).
    pub key: String,
    /// Its value, when present.
    pub value: Option<String>,
    /// `present`, `absent` or `unknown`.
    pub state: String,
    /// `snapshot`, the tag event's ID, `config@TIME`, or why it is unknown.
    pub source: String,
}

/// Every tag change and observation kept, by resource.
#[derive(Debug, Default)]
pub struct TagHistory {
    by_resource: HashMap<String, Vec<TagRecord>>,
    /// The inventory snapshot's time (`None`: after every event).
    pub snapshot_time: Option<DateTime<Utc>>,
    /// CloudTrail and Config disagreeing at the same instant (CloudTrail is used).
    pub conflicts: u64,
}

/// Is `r` before the event at `e`? `None`: the same second in different files (or a Config
/// item in the event's second): the order is not known.
fn before(r: &At, e: &At) -> Option<bool> {
    if r.time != e.time {
        return Some(r.time < e.time);
    }
    match (&r.file, &e.file) {
        (Some(a), Some(b)) if a == b => Some(r.record < e.record),
        _ => None,
    }
}

impl TagHistory {
    /// A history of these records (any order), with the snapshot's time.
    pub fn new(records: Vec<TagRecord>, snapshot_time: Option<DateTime<Utc>>) -> TagHistory {
        let mut by_resource: HashMap<String, Vec<TagRecord>> = HashMap::new();
        for r in records {
            by_resource.entry(r.resource.clone()).or_default().push(r);
        }
        let mut conflicts = 0;
        for recs in by_resource.values_mut() {
            // Time order; at one instant Config first, so that CloudTrail's change is the
            // later one and wins; then the log's order.
            recs.sort_by(|a, b| {
                a.at.time
                    .cmp(&b.at.time)
                    .then_with(|| a.op.is_change().cmp(&b.op.is_change()))
                    .then_with(|| a.at.file.cmp(&b.at.file))
                    .then_with(|| a.at.record.cmp(&b.at.record))
            });
            for (i, r) in recs.iter().enumerate() {
                let TagOp::Observed(seen) = &r.op else {
                    continue;
                };
                let disagrees = recs[i + 1..]
                    .iter()
                    .take_while(|c| c.at.time == r.at.time)
                    .any(|c| match &c.op {
                        TagOp::Set(k, v) => seen.get(k) != Some(v),
                        TagOp::Remove(k) => seen.contains_key(k),
                        TagOp::Launch(m) => m != seen,
                        TagOp::RemoveIf(..) | TagOp::Observed(_) => false,
                    });
                if disagrees {
                    conflicts += 1;
                }
            }
        }
        TagHistory {
            by_resource,
            snapshot_time,
            conflicts,
        }
    }

    /// Is anything known of this resource's tag history?
    pub fn has(&self, resource: &str) -> bool {
        self.by_resource.contains_key(resource)
    }

    /// Resources with history.
    pub fn len(&self) -> usize {
        self.by_resource.len()
    }

    /// No history at all.
    pub fn is_empty(&self) -> bool {
        self.by_resource.is_empty()
    }

    /// The value of `key` (lowercased) on `resource` for an event at `at`, given the snapshot's
    /// tags of the resource (`None`: not in the snapshot).
    pub fn key_at(
        &self,
        resource: &str,
        key: &str,
        at: &At,
        snapshot: Option<&HashMap<String, String>>,
    ) -> KeyAt {
        let recs = self
            .by_resource
            .get(resource)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        self.key_in(recs, recs.len(), key, at, snapshot)
    }

    /// [`TagHistory::key_at`] over the first `end` records.
    fn key_in(
        &self,
        recs: &[TagRecord],
        end: usize,
        key: &str,
        at: &At,
        snapshot: Option<&HashMap<String, String>>,
    ) -> KeyAt {
        for i in (0..end).rev() {
            let r = &recs[i];
            if !r.op.touches(key) {
                continue;
            }
            match before(&r.at, at) {
                Some(false) => continue,
                None => {
                    return KeyAt::Unknown(format!(
                        "{key} changed in the same second as the event, in another file ({}); the order is not known",
                        describe(r)
                    ))
                }
                Some(true) => {}
            }
            let source = r.source.clone();
            return match &r.op {
                TagOp::Set(_, v) => KeyAt::Known(Some(v.clone()), source),
                TagOp::Remove(_) => KeyAt::Known(None, source),
                TagOp::Launch(m) | TagOp::Observed(m) => KeyAt::Known(m.get(key).cloned(), source),
                TagOp::RemoveIf(_, v) => match self.key_in(recs, i, key, &r.at, snapshot) {
                    KeyAt::Known(Some(cur), _) if cur == *v => KeyAt::Known(None, source),
                    // No match: the delete changed nothing.
                    known @ KeyAt::Known(..) => known,
                    KeyAt::Unknown(why) => KeyAt::Unknown(format!(
                        "{why}; {} deletes it only if its value was `{v}`",
                        describe(r)
                    )),
                },
            };
        }
        // Nothing at or before the event: the snapshot, if nothing changed the key between
        // the event and the snapshot.
        let Some(snap) = snapshot else {
            return KeyAt::Unknown(format!(
                "the resource is not in the inventory and no {key} change precedes the event"
            ));
        };
        let later_change = recs.iter().find(|r| {
            r.op.is_change()
                && r.op.touches(key)
                && before(&r.at, at) == Some(false)
                && self.snapshot_time.is_none_or(|s| r.at.time <= s)
        });
        match later_change {
            Some(r) => KeyAt::Unknown(format!(
                "{key} changed at {} by {}; its value before is unknown",
                timefmt::iso(&r.at.time),
                describe(r)
            )),
            None => KeyAt::Known(snap.get(key).cloned(), Source::Snapshot),
        }
    }

    /// The resource's tags for an event at `at`: every key the history or the snapshot names,
    /// each resolved by [`TagHistory::key_at`]. Keys neither names are absent when the snapshot
    /// or a full tag set before the event says so, else unknown.
    pub fn tags_at(
        &self,
        resource: &str,
        at: &At,
        snapshot: Option<&HashMap<String, String>>,
    ) -> TagState {
        let Some(recs) = self.by_resource.get(resource) else {
            return match snapshot {
                Some(s) => TagState::Known(Arc::new(s.clone())),
                None => TagState::Unknown,
            };
        };
        let mut keys: HashSet<&str> = snapshot
            .map(|s| s.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut whole_before = false;
        for r in recs {
            match &r.op {
                TagOp::Set(k, _) | TagOp::Remove(k) | TagOp::RemoveIf(k, _) => {
                    keys.insert(k);
                }
                TagOp::Launch(m) | TagOp::Observed(m) => {
                    keys.extend(m.keys().map(String::as_str));
                    if before(&r.at, at) == Some(true) {
                        whole_before = true;
                    }
                }
            }
        }
        let mut p = PartialTags {
            others_unknown: snapshot.is_none() && !whole_before,
            ..PartialTags::default()
        };
        for k in keys {
            match self.key_at(resource, k, at, snapshot) {
                KeyAt::Known(v, _) => {
                    p.values.insert(k.to_string(), v);
                }
                KeyAt::Unknown(_) => {
                    p.unknown.insert(k.to_string());
                }
            }
        }
        if p.unknown.is_empty() && !p.others_unknown {
            return TagState::Known(Arc::new(
                p.values
                    .into_iter()
                    .filter_map(|(k, v)| v.map(|v| (k, v)))
                    .collect(),
            ));
        }
        TagState::Partial(Arc::new(p))
    }
}

/// `CreateTags eventID e-1` or `config item of TIME`.
fn describe(r: &TagRecord) -> String {
    match &r.source {
        Source::Event { name, id } => format!("{name} eventID {id}"),
        Source::Config(t) => format!("the Config item of {}", timefmt::iso(t)),
        Source::Snapshot => "the snapshot".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        timefmt::parse_datetime(s).expect("time")
    }

    fn at(s: &str) -> At {
        At {
            time: t(s),
            file: Some(Arc::from("f")),
            record: 0,
        }
    }

    fn rec(time: &str, id: &str, op: TagOp) -> TagRecord {
        TagRecord {
            resource: "i-1".into(),
            at: At {
                time: t(time),
                file: Some(Arc::from("g")),
                record: 0,
            },
            source: Source::Event {
                name: "CreateTags".into(),
                id: id.into(),
            },
            op,
        }
    }

    fn set(k: &str, v: &str) -> TagOp {
        TagOp::Set(k.into(), v.into())
    }

    fn snap(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn value(k: KeyAt) -> Option<Option<String>> {
        match k {
            KeyAt::Known(v, _) => Some(v),
            KeyAt::Unknown(_) => None,
        }
    }

    /// Granted, revoked, re-granted: each event sees the value of its time.
    #[test]
    fn rule_one_the_last_change_before_the_event() {
        let h = TagHistory::new(
            vec![
                rec("2026-03-01T00:00:00Z", "grant", set("env", "dev")),
                rec("2026-03-02T00:00:00Z", "revoke", set("env", "prod")),
                rec("2026-03-03T00:00:00Z", "regrant", set("env", "dev")),
            ],
            None,
        );
        let s = snap(&[("env", "dev")]);
        for (when, expect) in [
            ("2026-03-01T12:00:00Z", Some("dev")),
            ("2026-03-02T12:00:00Z", Some("prod")),
            ("2026-03-03T12:00:00Z", Some("dev")),
        ] {
            assert_eq!(
                value(h.key_at("i-1", "env", &at(when), Some(&s))),
                Some(expect.map(str::to_string)),
                "{when}"
            );
        }
        // Before the first change: the value then is unknown (rule 3), naming the change.
        match h.key_at("i-1", "env", &at("2026-02-28T00:00:00Z"), Some(&s)) {
            KeyAt::Unknown(why) => assert!(
                why.contains("changed at 2026-03-01T00:00:00Z by CreateTags eventID grant"),
                "{why}"
            ),
            other => panic!("{other:?}"),
        }
        // A key no change touched: the snapshot (rule 2).
        assert_eq!(
            value(h.key_at(
                "i-1",
                "team",
                &at("2026-02-28T00:00:00Z"),
                Some(&snap(&[("team", "a")]))
            )),
            Some(Some("a".into()))
        );
    }

    #[test]
    fn snapshot_time_bounds_rule_two() {
        // Snapshot taken on the 2nd; a change on the 3rd does not make the 1st unknown.
        let h = TagHistory::new(
            vec![rec("2026-03-03T00:00:00Z", "later", set("env", "prod"))],
            Some(t("2026-03-02T00:00:00Z")),
        );
        let s = snap(&[("env", "dev")]);
        assert_eq!(
            value(h.key_at("i-1", "env", &at("2026-03-01T00:00:00Z"), Some(&s))),
            Some(Some("dev".into()))
        );
        // After the change: the change.
        assert_eq!(
            value(h.key_at("i-1", "env", &at("2026-03-04T00:00:00Z"), Some(&s))),
            Some(Some("prod".into()))
        );
    }

    /// EC2 API Reference, DeleteTags: with a value, only a matching tag is deleted; with an
    /// empty value, only an empty-valued tag; without a value, the key whatever its value.
    #[test]
    fn delete_tags_with_and_without_values() {
        let cases = [
            (TagOp::RemoveIf("env".into(), "dev".into()), Some(None)),
            (
                TagOp::RemoveIf("env".into(), "prod".into()),
                Some(Some("dev".to_string())),
            ),
            (
                TagOp::RemoveIf("env".into(), String::new()),
                Some(Some("dev".to_string())),
            ),
            (TagOp::Remove("env".into()), Some(None)),
        ];
        for (op, expect) in cases {
            let h = TagHistory::new(
                vec![
                    rec("2026-03-01T00:00:00Z", "a", set("env", "dev")),
                    rec("2026-03-02T00:00:00Z", "b", op.clone()),
                ],
                None,
            );
            assert_eq!(
                value(h.key_at("i-1", "env", &at("2026-03-03T00:00:00Z"), None)),
                expect,
                "{op:?}"
            );
        }
        // A conditional delete of an unknown value stays unknown.
        let h = TagHistory::new(
            vec![rec(
                "2026-03-02T00:00:00Z",
                "b",
                TagOp::RemoveIf("env".into(), "dev".into()),
            )],
            None,
        );
        assert_eq!(
            value(h.key_at("i-1", "env", &at("2026-03-03T00:00:00Z"), None)),
            None
        );
    }

    #[test]
    fn launches_and_config_items_carry_whole_tag_sets() {
        let mut launch = rec(
            "2026-03-01T00:00:00Z",
            "run",
            TagOp::Launch(snap(&[("env", "dev")])),
        );
        launch.source = Source::Event {
            name: "RunInstances".into(),
            id: "run".into(),
        };
        let observed = TagRecord {
            resource: "i-1".into(),
            at: At {
                time: t("2026-03-05T00:00:00Z"),
                file: None,
                record: 0,
            },
            source: Source::Config(t("2026-03-05T00:00:00Z")),
            op: TagOp::Observed(snap(&[("team", "a")])),
        };
        let h = TagHistory::new(vec![launch, observed], None);
        // After the launch, without a snapshot: every key known (absent unless launched).
        let tags = h.tags_at("i-1", &at("2026-03-02T00:00:00Z"), None);
        assert_eq!(tags, TagState::known([("env", "dev")]));
        // After the Config item: its set, whole.
        let tags = h.tags_at("i-1", &at("2026-03-06T00:00:00Z"), None);
        assert_eq!(tags, TagState::known([("team", "a")]));
        assert_eq!(h.conflicts, 0);
    }

    #[test]
    fn same_second_events_are_ordered_by_the_log_or_unknown() {
        let mut same_file = rec("2026-03-01T00:00:00Z", "a", set("env", "prod"));
        same_file.at.file = Some(Arc::from("f"));
        same_file.at.record = 3;
        let h = TagHistory::new(vec![same_file], None);
        let s = snap(&[("env", "dev")]);
        let event = |record| At {
            time: t("2026-03-01T00:00:00Z"),
            file: Some(Arc::from("f")),
            record,
        };
        assert_eq!(
            value(h.key_at("i-1", "env", &event(4), Some(&s))),
            Some(Some("prod".into()))
        );
        // Before it in the same file: the change comes after; the snapshot is not valid then.
        assert_eq!(value(h.key_at("i-1", "env", &event(2), Some(&s))), None);
        // Another file, same second: not known.
        let other = At {
            time: t("2026-03-01T00:00:00Z"),
            file: Some(Arc::from("other")),
            record: 9,
        };
        assert!(
            matches!(h.key_at("i-1", "env", &other, Some(&s)), KeyAt::Unknown(w) if w.contains("same second"))
        );
    }

    #[test]
    fn cloudtrail_wins_over_config_at_the_same_instant_and_the_conflict_is_counted() {
        let observed = TagRecord {
            resource: "i-1".into(),
            at: At {
                time: t("2026-03-01T00:00:00Z"),
                file: None,
                record: 0,
            },
            source: Source::Config(t("2026-03-01T00:00:00Z")),
            op: TagOp::Observed(snap(&[("env", "dev")])),
        };
        let h = TagHistory::new(
            vec![
                rec("2026-03-01T00:00:00Z", "ct", set("env", "prod")),
                observed,
            ],
            None,
        );
        assert_eq!(h.conflicts, 1);
        assert_eq!(
            value(h.key_at("i-1", "env", &at("2026-03-01T00:00:01Z"), None)),
            Some(Some("prod".into()))
        );
    }
}

/// AWS Config configuration items from `aws configservice get-resource-config-history` output
/// (`configurationItems[]` with `resourceId`, `configurationItemCaptureTime` as epoch seconds
/// (AWS CLI v1) or ISO 8601 with an offset (v2), and `tags` as a map), newest first as the API
/// returns them or in any order. Items of a deleted or unrecorded resource carry no tags and
/// are skipped.
pub fn config_items(text: &str) -> Result<Vec<TagRecord>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(|e| {
            format!("not JSON ({e}): give `aws configservice get-resource-config-history` output")
        })?;
    let items = v
        .get("configurationItems")
        .or_else(|| v.get("ConfigurationItems"))
        .and_then(serde_json::Value::as_array)
        .ok_or(
            "no `configurationItems`: give `aws configservice get-resource-config-history` output",
        )?;
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let status = item
            .get("configurationItemStatus")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("OK");
        if matches!(
            status,
            "ResourceDeleted" | "ResourceNotRecorded" | "ResourceDeletedNotRecorded"
        ) {
            continue;
        }
        let id = item
            .get("resourceId")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| format!("configurationItems[{n}]: no `resourceId`"))?;
        let time = match item.get("configurationItemCaptureTime") {
            Some(serde_json::Value::Number(secs)) => secs
                .as_f64()
                .and_then(|s| DateTime::<Utc>::from_timestamp(s.floor() as i64, 0)),
            Some(serde_json::Value::String(s)) => timefmt::parse_datetime(s),
            _ => None,
        }
        .ok_or_else(|| {
            format!("configurationItems[{n}]: `configurationItemCaptureTime` is neither epoch seconds nor an ISO 8601 time")
        })?;
        let tags: HashMap<String, String> = match item.get("tags") {
            Some(serde_json::Value::Object(m)) => m
                .iter()
                .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap_or("").to_string()))
                .collect(),
            None | Some(serde_json::Value::Null) => HashMap::new(),
            Some(_) => return Err(format!("configurationItems[{n}]: `tags` is not an object")),
        };
        out.push(TagRecord {
            resource: id.to_string(),
            at: At {
                time,
                file: None,
                record: 0,
            },
            source: Source::Config(time),
            op: TagOp::Observed(tags),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod config_tests {
    use super::*;

    #[test]
    fn epoch_and_iso_capture_times() {
        let v1 = r#"{"configurationItems": [
            {"resourceType": "AWS::EC2::Instance", "resourceId": "i-1", "configurationItemCaptureTime": 1772445600.123, "configurationItemStatus": "OK", "tags": {"Env": "dev"}},
            {"resourceType": "AWS::EC2::Instance", "resourceId": "i-1", "configurationItemCaptureTime": 1772359200.0, "configurationItemStatus": "ResourceDeleted", "tags": {}}]}"#;
        let r = config_items(v1).expect("reads");
        assert_eq!(r.len(), 1);
        assert_eq!(timefmt::iso(&r[0].at.time), "2026-03-02T10:00:00Z");
        let v2 = r#"{"configurationItems": [{"resourceId": "i-1", "configurationItemCaptureTime": "2026-03-02T11:00:00+01:00", "tags": {"Env": "dev"}}]}"#;
        let r = config_items(v2).expect("reads");
        assert_eq!(timefmt::iso(&r[0].at.time), "2026-03-02T10:00:00Z");
        assert!(config_items("[]").is_err());
        assert!(config_items(r#"{"configurationItems": [{"resourceId": "i-1", "configurationItemCaptureTime": true}]}"#).is_err());
    }
}
