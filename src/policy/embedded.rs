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
        return serde_json::from_str(&decoded)
            .map_err(|e| format!("invalid JSON after URL decoding: {e}"));
    }
    Err(
        "not a policy document: expected `{`, a JSON string, or URL-encoded JSON (`%7B...`)"
            .to_string(),
    )
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
    fn policy_version_output() {
        let v: Value = serde_json::from_str(
            r#"{"PolicyVersion":{"Document":"%7B%22Statement%22%3A%5B%5D%7D","VersionId":"v1","IsDefaultVersion":true}}"#,
        )
        .expect("json");
        let doc = unwrap_policy_version(v).expect("doc");
        assert!(doc.get("Statement").is_some());
    }
}
