//! CloudTrail records that change resource tags → [`TagRecord`]s, for tags in time.
//!
//! Shapes (CloudTrail records EC2 request parameters with lowercased member names):
//! - `ec2:CreateTags` / `ec2:DeleteTags`: `requestParameters.resourcesSet.items[].resourceId`,
//!   `requestParameters.tagSet.items[].key/value` (EC2 API Reference, CreateTags and DeleteTags:
//!   a `DeleteTags` tag with a value deletes the tag only if its value matches, an empty value
//!   deletes only an empty-valued tag, no value deletes the key whatever its value, and no
//!   `Tag` parameter at all deletes every user-defined tag of the resources).
//! - `ec2:RunInstances`: `responseElements.instancesSet.items[].instanceId`, each with its
//!   `tagSet.items[]` (which include launch-template tags); failing that, the request's
//!   `tagSpecificationSet.items[]` entries with `resourceType: instance` apply to every instance
//!   of the launch (EC2 API Reference, RunInstances, TagSpecification.N).
//! - `ssm:AddTagsToResource` / `ssm:RemoveTagsFromResource`: `requestParameters.resourceId`
//!   with `tags[].key/value` or `tagKeys[]` (Systems Manager API Reference).
//!
//! A call that failed (`errorCode` set) changes nothing.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::mapping::history::{At, Source, TagOp, TagRecord};
use crate::timefmt;

/// Event source and name of the calls that change tags.
pub const TAGGING: [(&str, &str); 5] = [
    ("ec2.amazonaws.com", "CreateTags"),
    ("ec2.amazonaws.com", "DeleteTags"),
    ("ec2.amazonaws.com", "RunInstances"),
    ("ssm.amazonaws.com", "AddTagsToResource"),
    ("ssm.amazonaws.com", "RemoveTagsFromResource"),
];

/// Is this (source, name) a call that changes tags?
pub fn is_tagging(source: &str, name: &str) -> bool {
    TAGGING.iter().any(|(s, n)| *s == source && *n == name)
}

fn get<'v>(v: &'v Value, key: &str) -> Option<&'v Value> {
    // Member names are lowercased by CloudTrail for EC2; accept the API's capitalised form.
    v.get(key).or_else(|| {
        let mut c = key.chars();
        let upper: String = c
            .next()
            .map(|f| f.to_ascii_uppercase())
            .into_iter()
            .chain(c)
            .collect();
        v.get(upper.as_str())
    })
}

fn items(v: Option<&Value>) -> impl Iterator<Item = &Value> {
    v.and_then(|v| get(v, "items").or(Some(v)))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn text<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    get(v, key).and_then(Value::as_str)
}

fn tag_map<'v>(tags: impl Iterator<Item = &'v Value>) -> HashMap<String, String> {
    tags.filter_map(|t| {
        Some((
            text(t, "key")?.to_lowercase(),
            text(t, "value").unwrap_or("").to_string(),
        ))
    })
    .collect()
}

/// The tag changes a record states (none for a failed call or an unreadable one).
pub fn tag_records(v: &Value, file: &Arc<str>, index: u64) -> Vec<TagRecord> {
    let mut out = Vec::new();
    if v.get("errorCode").is_some_and(|e| !e.is_null()) {
        return out;
    }
    let (Some(source), Some(name)) = (text(v, "eventSource"), text(v, "eventName")) else {
        return out;
    };
    let Some(time) = text(v, "eventTime").and_then(timefmt::parse_datetime) else {
        return out;
    };
    let at = At {
        time,
        file: Some(file.clone()),
        record: index,
    };
    let src = Source::Event {
        name: name.to_string(),
        id: text(v, "eventID").unwrap_or("").to_string(),
    };
    let req = v.get("requestParameters").unwrap_or(&Value::Null);
    let mut push = |resource: &str, op: TagOp| {
        if !resource.is_empty() {
            out.push(TagRecord {
                resource: resource.to_string(),
                at: at.clone(),
                source: src.clone(),
                op,
            });
        }
    };
    match (source, name) {
        ("ec2.amazonaws.com", "CreateTags" | "DeleteTags") => {
            let resources: Vec<&str> = items(get(req, "resourcesSet"))
                .filter_map(|r| text(r, "resourceId"))
                .collect();
            let tags: Vec<&Value> = items(get(req, "tagSet")).collect();
            for r in resources {
                if name == "DeleteTags" && tags.is_empty() {
                    // No tags named: every user-defined tag is deleted.
                    push(r, TagOp::Launch(HashMap::new()));
                }
                for t in &tags {
                    let Some(key) = text(t, "key") else { continue };
                    let key = key.to_lowercase();
                    let value = get(t, "value").and_then(Value::as_str);
                    let op = match (name, value) {
                        ("CreateTags", v) => TagOp::Set(key, v.unwrap_or("").to_string()),
                        (_, Some(v)) => TagOp::RemoveIf(key, v.to_string()),
                        (_, None) => TagOp::Remove(key),
                    };
                    push(r, op);
                }
            }
        }
        ("ec2.amazonaws.com", "RunInstances") => {
            let requested = tag_map(
                items(get(req, "tagSpecificationSet"))
                    .filter(|s| text(s, "resourceType") == Some("instance"))
                    .flat_map(|s| items(get(s, "tags")).chain(items(get(s, "tagSet")))),
            );
            let resp = v.get("responseElements").unwrap_or(&Value::Null);
            for i in items(get(resp, "instancesSet")) {
                let Some(id) = text(i, "instanceId") else {
                    continue;
                };
                let tags = match get(i, "tagSet") {
                    Some(t) => tag_map(items(Some(t))),
                    None => requested.clone(),
                };
                push(id, TagOp::Launch(tags));
            }
        }
        ("ssm.amazonaws.com", "AddTagsToResource") => {
            let id = text(req, "resourceId").unwrap_or("");
            for t in items(get(req, "tags")) {
                if let Some(key) = text(t, "key") {
                    let value = text(t, "value").unwrap_or("").to_string();
                    push(id, TagOp::Set(key.to_lowercase(), value));
                }
            }
        }
        ("ssm.amazonaws.com", "RemoveTagsFromResource") => {
            let id = text(req, "resourceId").unwrap_or("");
            for k in items(get(req, "tagKeys")).filter_map(Value::as_str) {
                push(id, TagOp::Remove(k.to_lowercase()));
            }
        }
        _ => {}
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn records(v: Value) -> Vec<TagRecord> {
        tag_records(&v, &Arc::from("f"), 0)
    }

    fn base(name: &str, source: &str, req: Value, resp: Value) -> Value {
        json!({"eventVersion": "1.09", "eventTime": "2026-03-02T10:00:00Z", "eventSource": source,
               "eventName": name, "eventID": "e-1", "requestParameters": req, "responseElements": resp})
    }

    #[test]
    fn ec2_create_and_delete_tags() {
        let req = json!({"resourcesSet": {"items": [{"resourceId": "i-1"}, {"resourceId": "i-2"}]},
                         "tagSet": {"items": [{"key": "Env", "value": "dev"}]}});
        let r = records(base(
            "CreateTags",
            "ec2.amazonaws.com",
            req,
            json!({"_return": true}),
        ));
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].resource, "i-2");
        assert_eq!(r[0].op, TagOp::Set("env".into(), "dev".into()));
        let del = json!({"resourcesSet": {"items": [{"resourceId": "i-1"}]},
                         "tagSet": {"items": [{"key": "A"}, {"key": "B", "value": ""}, {"key": "C", "value": "x"}]}});
        let ops: Vec<TagOp> = records(base("DeleteTags", "ec2.amazonaws.com", del, Value::Null))
            .into_iter()
            .map(|r| r.op)
            .collect();
        assert_eq!(
            ops,
            [
                TagOp::Remove("a".into()),
                TagOp::RemoveIf("b".into(), String::new()),
                TagOp::RemoveIf("c".into(), "x".into())
            ]
        );
        let all = json!({"resourcesSet": {"items": [{"resourceId": "i-1"}]}});
        assert_eq!(
            records(base("DeleteTags", "ec2.amazonaws.com", all, Value::Null))[0].op,
            TagOp::Launch(HashMap::new())
        );
    }

    #[test]
    fn failed_calls_change_nothing() {
        let mut v = base(
            "CreateTags",
            "ec2.amazonaws.com",
            json!({"resourcesSet": {"items": [{"resourceId": "i-1"}]}, "tagSet": {"items": [{"key": "Env", "value": "dev"}]}}),
            Value::Null,
        );
        v["errorCode"] = json!("Client.UnauthorizedOperation");
        assert!(records(v).is_empty());
    }

    #[test]
    fn run_instances_uses_the_response_tags_for_every_instance() {
        let req = json!({"tagSpecificationSet": {"items": [
            {"resourceType": "instance", "tags": [{"key": "Env", "value": "dev"}]},
            {"resourceType": "volume", "tags": [{"key": "Vol", "value": "x"}]}]}});
        let resp = json!({"instancesSet": {"items": [
            {"instanceId": "i-1", "tagSet": {"items": [{"key": "Env", "value": "dev"}, {"key": "FromTemplate", "value": "t"}]}},
            {"instanceId": "i-2"}]}});
        let r = records(base("RunInstances", "ec2.amazonaws.com", req, resp));
        let map = |pairs: &[(&str, &str)]| -> HashMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            r[0].op,
            TagOp::Launch(map(&[("env", "dev"), ("fromtemplate", "t")]))
        );
        assert_eq!(r[1].op, TagOp::Launch(map(&[("env", "dev")])));
    }

    #[test]
    fn ssm_managed_instance_tags() {
        let add = json!({"resourceType": "ManagedInstance", "resourceId": "mi-1", "tags": [{"key": "Env", "value": "lab"}]});
        let r = records(base(
            "AddTagsToResource",
            "ssm.amazonaws.com",
            add,
            json!({}),
        ));
        assert_eq!(r[0].resource, "mi-1");
        assert_eq!(r[0].op, TagOp::Set("env".into(), "lab".into()));
        let rm =
            json!({"resourceType": "ManagedInstance", "resourceId": "mi-1", "tagKeys": ["Env"]});
        let r = records(base(
            "RemoveTagsFromResource",
            "ssm.amazonaws.com",
            rm,
            json!({}),
        ));
        assert_eq!(r[0].op, TagOp::Remove("env".into()));
    }
}
