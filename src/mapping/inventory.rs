//! Resource tags from an inventory: `aws ec2 describe-instances` output,
//! `aws resourcegroupstaggingapi get-resources` output, or a CSV `resource,key,value`.
//!
//! A resource in the inventory without tags has its tag keys absent; a resource in no inventory
//! has them unknown; with no inventory at all, every tag key is unknown.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::eval::TagState;

/// Tags by resource ARN and by bare resource ID (instance IDs are unique, and anonymised logs
/// can carry regions an inventory does not).
#[derive(Debug, Default)]
pub struct Inventory {
    by_arn: HashMap<String, Tags>,
    by_id: HashMap<String, Tags>,
    loaded: bool,
}

type Tags = Arc<HashMap<String, String>>;

fn tag_list(v: Option<&Value>) -> Tags {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| {
                    Some((
                        t.get("Key")?.as_str()?.to_lowercase(),
                        t.get("Value")?.as_str().unwrap_or("").to_string(),
                    ))
                })
                .collect()
        })
        .map(Arc::new)
        .unwrap_or_default()
}

/// `us-east-1a` → `us-east-1`.
fn region_of_zone(az: &str) -> &str {
    az.trim_end_matches(|c: char| c.is_ascii_lowercase() && !c.is_ascii_digit())
        .trim_end_matches('-')
}

fn resource_id(arn: &str) -> Option<&str> {
    crate::arn::Arn::parse(arn).map(|a| a.resource_id())
}

/// An inventory file that cannot be used, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{message}", line.map(|l| format!("line {l}: ")).unwrap_or_default())]
pub struct InventoryError {
    /// The file.
    pub file: String,
    /// The line (1-based), when one is at fault.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl InventoryError {
    fn new(file: &str, line: Option<usize>, message: impl Into<String>) -> InventoryError {
        InventoryError {
            file: file.to_string(),
            line,
            message: message.into(),
        }
    }
}

impl Inventory {
    /// Was an inventory file given?
    pub fn is_loaded(&self) -> bool {
        self.loaded
    }

    /// Adds one inventory file's text. `name` names it in errors.
    pub fn add(&mut self, name: &str, text: &str) -> Result<usize, InventoryError> {
        self.loaded = true;
        let t = text.trim_start_matches('\u{feff}').trim_start();
        if t.starts_with('{') {
            let v: Value = serde_json::from_str(t)
                .map_err(|e| InventoryError::new(name, None, format!("invalid JSON: {e}")))?;
            if let Some(res) = v.get("Reservations").and_then(Value::as_array) {
                let mut n = 0;
                for r in res {
                    let owner = r.get("OwnerId").and_then(Value::as_str).unwrap_or("");
                    for i in r
                        .get("Instances")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let Some(id) = i.get("InstanceId").and_then(Value::as_str) else {
                            continue;
                        };
                        let tags = tag_list(i.get("Tags"));
                        let az = i
                            .get("Placement")
                            .and_then(|p| p.get("AvailabilityZone"))
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        if !az.is_empty() && !owner.is_empty() {
                            let arn =
                                format!("arn:aws:ec2:{}:{owner}:instance/{id}", region_of_zone(az));
                            self.by_arn.insert(arn, tags.clone());
                        }
                        self.by_id.insert(id.to_string(), tags);
                        n += 1;
                    }
                }
                return Ok(n);
            }
            if let Some(list) = v.get("ResourceTagMappingList").and_then(Value::as_array) {
                let mut n = 0;
                for m in list {
                    let Some(arn) = m.get("ResourceARN").and_then(Value::as_str) else {
                        continue;
                    };
                    let tags = tag_list(m.get("Tags"));
                    if arn.contains(":instance/") || arn.contains(":managed-instance/") {
                        if let Some(id) = resource_id(arn) {
                            self.by_id.insert(id.to_string(), tags.clone());
                        }
                    }
                    self.by_arn.insert(arn.to_string(), tags);
                    n += 1;
                }
                return Ok(n);
            }
            return Err(InventoryError::new(
                name,
                None,
                "not an inventory: expected `describe-instances` output (`Reservations`), \
                 `get-resources` output (`ResourceTagMappingList`) or CSV `resource,key,value`",
            ));
        }
        self.add_csv(name, t)
    }

    fn add_csv(&mut self, name: &str, text: &str) -> Result<usize, InventoryError> {
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = rdr
            .headers()
            .map_err(|e| InventoryError::new(name, None, e.to_string()))?
            .iter()
            .map(|h| h.trim().to_ascii_lowercase())
            .collect::<Vec<_>>();
        if headers != ["resource", "key", "value"] {
            let found: String = text
                .lines()
                .next()
                .unwrap_or("")
                .chars()
                .take(120)
                .collect();
            return Err(InventoryError::new(
                name,
                Some(1),
                format!(
                    "a CSV inventory must have the header `resource,key,value`, found `{found}`"
                ),
            ));
        }
        let mut n = 0;
        for (i, rec) in rdr.records().enumerate() {
            let rec = rec.map_err(|e| InventoryError::new(name, Some(i + 2), e.to_string()))?;
            let resource = rec.get(0).unwrap_or("").trim();
            let key = rec.get(1).unwrap_or("").trim();
            let value = rec.get(2).unwrap_or("");
            if resource.is_empty() {
                return Err(InventoryError::new(name, Some(i + 2), "empty resource"));
            }
            let map = if resource.starts_with("arn:") {
                self.by_arn.entry(resource.to_string()).or_default()
            } else {
                self.by_id.entry(resource.to_string()).or_default()
            };
            // An empty key lists a resource that has no tags.
            if !key.is_empty() {
                Arc::make_mut(map).insert(key.to_lowercase(), value.to_string());
            }
            n += 1;
        }
        Ok(n)
    }

    /// The snapshot's tags of a resource, when the inventory lists it.
    pub fn snapshot(&self, arn: &str, id: Option<&str>) -> Option<&HashMap<String, String>> {
        self.by_arn
            .get(arn)
            .or_else(|| id.and_then(|i| self.by_id.get(i)))
            .map(|t| t.as_ref())
    }

    /// The tags of a resource.
    pub fn tags(&self, arn: &str, id: Option<&str>) -> TagState {
        if !self.loaded {
            return TagState::Unknown;
        }
        if let Some(t) = self.by_arn.get(arn) {
            return TagState::Known(t.clone());
        }
        if let Some(t) = id.and_then(|i| self.by_id.get(i)) {
            return TagState::Known(t.clone());
        }
        TagState::Unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_instances() {
        let mut inv = Inventory::default();
        let n = inv
            .add(
                "i.json",
                r#"{"Reservations":[{"OwnerId":"111","Instances":[{"InstanceId":"i-1","Placement":{"AvailabilityZone":"us-east-2a"},"Tags":[{"Key":"Finance","Value":"WebServers"}]},{"InstanceId":"i-2","Placement":{"AvailabilityZone":"us-east-2b"}}]}]}"#,
            )
            .expect("inventory");
        assert_eq!(n, 2);
        let t = inv.tags("arn:aws:ec2:us-east-2:111:instance/i-1", None);
        assert_eq!(t, TagState::known([("finance", "WebServers")]));
        assert_eq!(inv.tags("x", Some("i-2")), TagState::none());
        assert_eq!(inv.tags("x", Some("i-3")), TagState::Unknown);
    }

    #[test]
    fn csv_and_errors() {
        let mut inv = Inventory::default();
        inv.add("t.csv", "resource,key,value\ni-9,Env,prod\ni-8,,\n")
            .expect("csv");
        assert_eq!(
            inv.tags("x", Some("i-9")),
            TagState::known([("env", "prod")])
        );
        assert_eq!(inv.tags("x", Some("i-8")), TagState::none());
        let header = inv.add("bad.csv", "a,b\n1,2\n").expect_err("bad header");
        assert_eq!(header.line, Some(1));
        assert!(
            header
                .to_string()
                .starts_with("bad.csv: line 1: a CSV inventory"),
            "{header}"
        );
        let empty = Inventory::default()
            .add("e.csv", "resource,key,value\ni-1,a,b\n,k,v\n")
            .expect_err("empty resource");
        assert_eq!(empty.to_string(), "e.csv: line 3: empty resource");
        assert!(Inventory::default().add("x.json", "{\"x\":1}").is_err());
    }

    #[test]
    fn zones() {
        assert_eq!(region_of_zone("us-east-1a"), "us-east-1");
        assert_eq!(region_of_zone("eu-west-3c"), "eu-west-3");
    }
}
