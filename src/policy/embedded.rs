//! Policy documents as users have them: a document object, `aws iam get-policy-version` output
//! (`PolicyVersion.Document`), a JSON string holding a document, or a URL-encoded JSON string
//! (the raw IAM API form). The form is told by the first characters, never by decoding blindly
//! (AWS-NOTES, "Inputs users already have").

use percent_encoding::percent_decode_str;
use serde_json::Value;

/// Turns an embedded document (object, JSON string, or URL-encoded JSON string) into a JSON
/// value.
pub fn decode_embedded(v: &Value) -> Result<Value, String> {
    match v {
        Value::Object(_) => Ok(v.clone()),
        Value::String(s) => decode_text(s),
        other => Err(format!(
            "expected a policy document (object or string), found {}",
            super::compile::kind(other)
        )),
    }
}

/// Decodes document text: JSON (`{`), a JSON string (`"`), or URL-encoded JSON (`%7B`).
pub fn decode_text(s: &str) -> Result<Value, String> {
    let t = s.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('{') || t.starts_with('"') {
        let v: Value = serde_json::from_str(t).map_err(|e| format!("invalid JSON: {e}"))?;
        refuse_duplicate_keys(t)?;
        return match v {
            Value::String(inner) => decode_text(&inner),
            other => Ok(other),
        };
    }
    if t.as_bytes()
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"%7B"))
    {
        let decoded = percent_decode_str(t)
            .decode_utf8()
            .map_err(|e| format!("URL-encoded document is not UTF-8: {e}"))?;
        let v = serde_json::from_str(&decoded)
            .map_err(|e| format!("invalid JSON after URL decoding: {e}"))?;
        refuse_duplicate_keys(&decoded)?;
        return Ok(v);
    }
    Err(
        "not a policy document: expected `{`, a JSON string, or URL-encoded JSON (`%7B...`)"
            .to_string(),
    )
}

/// Refuses an object that names a key twice. The policy grammar gives each element once (IAM User
/// Guide, "IAM JSON policy grammar"); a JSON parser keeps the last duplicate silently, so a
/// document with two `Effect` keys would be evaluated as a different policy than its reader sees.
fn refuse_duplicate_keys(text: &str) -> Result<(), String> {
    let mut found: Option<String> = None;
    let mut de = serde_json::Deserializer::from_str(text);
    let walk = Walk {
        path: String::new(),
        found: &mut found,
    };
    // The text was parsed once already; an error here can only repeat that parse's verdict.
    let _ = serde::de::DeserializeSeed::deserialize(walk, &mut de);
    match found {
        Some(at) => Err(format!(
            "duplicate key {at}: each element may appear once in a policy (IAM JSON policy grammar), and which one AWS would keep is not documented"
        )),
        None => Ok(()),
    }
}

/// Walks a JSON value and records the first duplicate key with its path.
struct Walk<'a> {
    path: String,
    found: &'a mut Option<String>,
}

impl<'de> serde::de::DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Walk<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}.{key}", self.path)
            };
            if seen.contains(&key) && self.found.is_none() {
                *self.found = Some(format!("`{key}` at `{path}`"));
            }
            map.next_value_seed(Walk {
                path,
                found: &mut *self.found,
            })?;
            seen.push(key);
        }
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0usize;
        while seq
            .next_element_seed(Walk {
                path: format!("{}[{i}]", self.path),
                found: &mut *self.found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Unwraps `aws iam get-policy-version` output to its document; other values pass through.
pub fn unwrap_policy_version(v: Value) -> Result<Value, String> {
    if let Some(doc) = v.get("PolicyVersion").and_then(|pv| pv.get("Document")) {
        return decode_embedded(doc);
    }
    if let Some(doc) = v.get("PolicyDocument") {
        // `aws iam get-role-policy` / `get-user-policy` output.
        return decode_embedded(doc);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_forms() {
        let obj = decode_text(r#"{"Version":"2012-10-17","Statement":[]}"#).expect("object");
        let string =
            decode_text(r#""{\"Version\":\"2012-10-17\",\"Statement\":[]}""#).expect("string");
        let url = decode_text("%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D")
            .expect("url");
        assert_eq!(obj, string);
        assert_eq!(obj, url);
        assert!(decode_text("Version: 1").is_err());
    }

    #[test]
    fn duplicate_keys_are_refused_with_their_path() {
        let e = decode_text(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Effect":"Allow","Action":"*","Resource":"*"}]}"#,
        )
        .expect_err("duplicate");
        assert!(e.contains("`Effect` at `Statement[0].Effect`"), "{e}");
        let url = "%7B%22Statement%22%3A%5B%5D%2C%22Statement%22%3A%5B%5D%7D";
        assert!(decode_text(url).is_err());
        // Keys differing in case are different JSON keys.
        assert!(decode_text(r#"{"Statement":[],"statement":1}"#).is_ok());
    }

    #[test]
    fn policy_version_output() {
        let v: Value = serde_json::from_str(
            r#"{"PolicyVersion":{"Document":"%7B%22Statement%22%3A%5B%5D%7D","VersionId":"v1","IsDefaultVersion":true}}"#,
        )
        .expect("json");
        let doc = unwrap_policy_version(v).expect("doc");
        assert!(doc.get("Statement").is_some());
    }
}
