//! Rows of Athena's CloudTrail table, as `UNLOAD … WITH (format = 'JSON')` writes them, turned
//! back into CloudTrail records.
//!
//! The table is the one the Amazon Athena User Guide defines in "Create the table for CloudTrail
//! logs in Athena using partition projection" (its columns are listed in
//! `contrib/athena/README.md`). Its rows differ from records in four ways, each undone here:
//! column and struct field names are lower case (`useridentity.sessioncontext.sessionissuer`);
//! `requestparameters`, `responseelements` and `additionaleventdata` are JSON text in a string;
//! every column is present, absent values as `null`; and `SELECT *` adds the partition column
//! `timestamp`. Fields the table does not have are not in the rows at all: the event carries
//! that fact ([`crate::decode::SsmEvent::table_row`]) so that their condition keys are unknown,
//! not absent.

use serde_json::{Map, Value};

/// CloudTrail's names for the table's lower-case ones, wherever they occur in a row outside the
/// JSON-text columns (CloudTrail User Guide, "CloudTrail record contents" and "CloudTrail
/// userIdentity element").
const NAMES: &[(&str, &str)] = &[
    ("eventversion", "eventVersion"),
    ("useridentity", "userIdentity"),
    ("principalid", "principalId"),
    ("accountid", "accountId"),
    ("invokedby", "invokedBy"),
    ("accesskeyid", "accessKeyId"),
    ("username", "userName"),
    ("onbehalfof", "onBehalfOf"),
    ("userid", "userId"),
    ("identitystorearn", "identityStoreArn"),
    ("sessioncontext", "sessionContext"),
    ("mfaauthenticated", "mfaAuthenticated"),
    ("creationdate", "creationDate"),
    ("sessionissuer", "sessionIssuer"),
    ("ec2roledelivery", "ec2RoleDelivery"),
    ("webidfederationdata", "webIdFederationData"),
    ("federatedprovider", "federatedProvider"),
    ("sourceidentity", "sourceIdentity"),
    ("eventtime", "eventTime"),
    ("eventsource", "eventSource"),
    ("eventname", "eventName"),
    ("awsregion", "awsRegion"),
    ("sourceipaddress", "sourceIPAddress"),
    ("useragent", "userAgent"),
    ("errorcode", "errorCode"),
    ("errormessage", "errorMessage"),
    ("requestparameters", "requestParameters"),
    ("responseelements", "responseElements"),
    ("additionaleventdata", "additionalEventData"),
    ("requestid", "requestID"),
    ("eventid", "eventID"),
    ("readonly", "readOnly"),
    ("eventtype", "eventType"),
    ("apiversion", "apiVersion"),
    ("recipientaccountid", "recipientAccountId"),
    ("serviceeventdetails", "serviceEventDetails"),
    ("sharedeventid", "sharedEventID"),
    ("vpcendpointid", "vpcEndpointId"),
    ("vpcendpointaccountid", "vpcEndpointAccountId"),
    ("eventcategory", "eventCategory"),
    ("tlsdetails", "tlsDetails"),
    ("tlsversion", "tlsVersion"),
    ("ciphersuite", "cipherSuite"),
    ("clientprovidedhostheader", "clientProvidedHostHeader"),
    (
        "sessioncredentialfromconsole",
        "sessionCredentialFromConsole",
    ),
    ("arn", "arn"),
];

/// Columns that hold JSON text.
const JSON_TEXT: &[&str] = &[
    "requestparameters",
    "responseelements",
    "additionaleventdata",
    "serviceeventdetails",
];

/// Is this record text a table row? (Lower-case `eventsource` and `eventname` columns, no
/// CloudTrail `eventSource`.) Cheap: a byte search.
pub fn looks_like_row(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\"eventsource\"").is_some()
        && memchr::memmem::find(bytes, b"\"eventSource\"").is_none()
}

/// The CloudTrail record a row stands for, as JSON text; `None` when the text is not an object.
pub fn to_record(bytes: &[u8]) -> Option<String> {
    let Value::Object(row) = serde_json::from_slice::<Value>(bytes).ok()? else {
        return None;
    };
    let mut record = Map::new();
    for (k, v) in row {
        if v.is_null() || k == "timestamp" {
            continue;
        }
        let v = if JSON_TEXT.contains(&k.as_str()) {
            match v {
                Value::String(text) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
                other => other,
            }
        } else if k == "resources" {
            resources(v)
        } else {
            renamed(v)
        };
        record.insert(name(&k), v);
    }
    serde_json::to_string(&Value::Object(record)).ok()
}

fn name(k: &str) -> String {
    NAMES
        .iter()
        .find(|(lower, _)| *lower == k)
        .map_or_else(|| k.to_string(), |(_, camel)| camel.to_string())
}

/// A struct column: names restored, nulls dropped (map values such as `webidfederationdata`'s
/// `attributes` are kept as written).
fn renamed(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let keep = k == "attributes" && v.get("mfaauthenticated").is_none();
                    let v = if keep { v } else { renamed(v) };
                    (name(&k), v)
                })
                .collect(),
        ),
        other => other,
    }
}

/// `resources` elements are `{"ARN", "accountId", "type"}` in records.
fn resources(v: Value) -> Value {
    match v {
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|r| match renamed(r) {
                    Value::Object(mut m) => {
                        if let Some(arn) = m.remove("arn") {
                            m.insert("ARN".to_string(), arn);
                        }
                        Value::Object(m)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_becomes_its_record() {
        let row = br#"{"eventversion":"1.08","useridentity":{"type":"AssumedRole","principalid":"AROA:x","arn":"arn:aws:sts::1:assumed-role/R/x","accountid":"1","invokedby":null,"accesskeyid":"ASIA","username":null,"onbehalfof":null,"sessioncontext":{"attributes":{"mfaauthenticated":"false","creationdate":"2024-01-01T00:00:00Z"},"sessionissuer":{"type":"Role","principalid":"AROA","arn":"arn:aws:iam::1:role/R","accountid":"1","username":"R"},"ec2roledelivery":null,"webidfederationdata":null}},"eventtime":"2024-01-01T00:01:00Z","eventsource":"ssm.amazonaws.com","eventname":"StartSession","awsregion":"us-east-1","sourceipaddress":"192.0.2.1","useragent":"aws-cli","errorcode":null,"errormessage":null,"requestparameters":"{\"target\":\"i-1\"}","responseelements":"{\"sessionId\":\"x-1\"}","additionaleventdata":null,"requestid":"r","eventid":"e","readonly":"false","resources":[{"arn":"arn:aws:ec2:us-east-1:1:instance/i-1","accountid":"1","type":"AWS::EC2::Instance"}],"eventtype":"AwsApiCall","apiversion":null,"recipientaccountid":"1","serviceeventdetails":null,"sharedeventid":null,"vpcendpointid":null,"timestamp":"2024/01/01"}"#;
        assert!(looks_like_row(row));
        let record: Value = serde_json::from_str(&to_record(row).expect("a row")).expect("JSON");
        assert_eq!(record["eventSource"], "ssm.amazonaws.com");
        assert_eq!(record["requestParameters"]["target"], "i-1");
        assert_eq!(
            record["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"],
            "arn:aws:iam::1:role/R"
        );
        assert_eq!(
            record["userIdentity"]["sessionContext"]["attributes"]["mfaAuthenticated"],
            "false"
        );
        assert_eq!(
            record["resources"][0]["ARN"],
            "arn:aws:ec2:us-east-1:1:instance/i-1"
        );
        assert_eq!(record["eventID"], "e");
        assert!(record.get("errorCode").is_none(), "nulls are absent");
        assert!(
            record.get("timestamp").is_none(),
            "the partition column is dropped"
        );
        assert!(!looks_like_row(br#"{"eventSource":"ssm.amazonaws.com"}"#));
    }
}
