//! One record's bytes → a typed CloudTrail record with borrowed fields, lenient about the types
//! of fields it does not need and strict about reporting the ones it does.
//!
//! CloudTrail User Guide, "CloudTrail record contents": unknown fields are ignored; `readOnly`
//! and `managementEvent` are sometimes strings; `mfaAuthenticated` is a string. A field of the
//! wrong type (`userIdentity` a string, `eventTime` a number) does not fail the record: it is
//! kept as [`Loose::Wrong`] so the event can be reported as skipped with the reason.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

/// A scalar field read leniently.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Loose<'a> {
    #[default]
    Missing,
    Str(Cow<'a, str>),
    /// A number or boolean, as text.
    Scalar(String),
    /// An object or array where a scalar was expected.
    Wrong(&'static str),
}

impl<'a> Loose<'a> {
    /// The text of a string or scalar.
    pub fn text(&self) -> Option<&str> {
        match self {
            Loose::Str(s) => Some(s),
            Loose::Scalar(s) => Some(s),
            _ => None,
        }
    }
    /// The text of a string only.
    pub fn str(&self) -> Option<&str> {
        match self {
            Loose::Str(s) => Some(s),
            _ => None,
        }
    }
    pub fn owned(&self) -> Option<String> {
        self.text().map(str::to_string)
    }
    /// Describes a value of the wrong type, for skip reasons.
    pub fn wrong_type(&self) -> Option<&'static str> {
        match self {
            Loose::Wrong(k) => Some(k),
            Loose::Scalar(_) => Some("a number or boolean"),
            _ => None,
        }
    }
}

struct LooseVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for LooseVisitor<'a> {
    type Value = Loose<'a>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Loose::Str(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Loose::Scalar(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Loose::Scalar(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Loose::Scalar(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Loose::Scalar(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Missing)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Loose::Missing)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Wrong("an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Wrong("an array"))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LooseVisitor(std::marker::PhantomData))
    }
}

/// An object field read leniently: the object, or the kind of value found instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Obj<T> {
    #[default]
    Missing,
    Ok(T),
    Wrong(&'static str),
}

#[cfg(test)]
impl<T> Obj<T> {
    fn get(&self) -> Option<&T> {
        match self {
            Obj::Ok(t) => Some(t),
            _ => None,
        }
    }
}

struct ObjVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj::Ok)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Obj::Missing)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Obj::Missing)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Obj::Wrong("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Obj::Wrong("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Obj::Wrong("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Obj::Wrong("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Obj::Wrong("a string"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Obj::Wrong("an array"))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(std::marker::PhantomData))
    }
}

/// The fields of a CloudTrail record trailreplay reads. Everything else is ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawRecord<'a> {
    #[serde(borrow)]
    pub event_version: Loose<'a>,
    #[serde(borrow)]
    pub event_source: Loose<'a>,
    #[serde(borrow)]
    pub event_name: Loose<'a>,
    #[serde(borrow)]
    pub event_time: Loose<'a>,
    #[serde(borrow, rename = "eventID")]
    pub event_id: Loose<'a>,
    #[serde(borrow)]
    pub aws_region: Loose<'a>,
    #[serde(borrow, rename = "sourceIPAddress")]
    pub source_ip_address: Loose<'a>,
    #[serde(borrow)]
    pub user_agent: Loose<'a>,
    #[serde(borrow)]
    pub error_code: Loose<'a>,
    #[serde(borrow)]
    pub error_message: Loose<'a>,
    #[serde(borrow)]
    pub recipient_account_id: Loose<'a>,
    #[serde(borrow)]
    pub vpc_endpoint_id: Loose<'a>,
    #[serde(borrow)]
    pub user_identity: Obj<RawIdentity<'a>>,
    #[serde(borrow)]
    pub request_parameters: Obj<RawParams<'a>>,
    #[serde(borrow)]
    pub response_elements: Obj<RawResponse<'a>>,
    /// EventBridge envelope: the record sits under `detail`.
    #[serde(borrow)]
    pub detail: Option<&'a RawValue>,
    #[serde(borrow, rename = "detail-type")]
    pub detail_type: Loose<'a>,
    /// `lookup-events` output: the record as a JSON string.
    #[serde(borrow, rename = "CloudTrailEvent")]
    pub cloud_trail_event: Loose<'a>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawIdentity<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Loose<'a>,
    #[serde(borrow)]
    pub principal_id: Loose<'a>,
    #[serde(borrow)]
    pub arn: Loose<'a>,
    #[serde(borrow)]
    pub account_id: Loose<'a>,
    #[serde(borrow)]
    pub access_key_id: Loose<'a>,
    #[serde(borrow)]
    pub user_name: Loose<'a>,
    #[serde(borrow)]
    pub invoked_by: Loose<'a>,
    #[serde(borrow)]
    pub session_context: Obj<RawSessionContext<'a>>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawSessionContext<'a> {
    #[serde(borrow)]
    pub session_issuer: Obj<RawIssuer<'a>>,
    #[serde(borrow)]
    pub attributes: Obj<RawAttributes<'a>>,
    #[serde(borrow)]
    pub source_identity: Loose<'a>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawIssuer<'a> {
    #[serde(borrow, rename = "type")]
    pub kind: Loose<'a>,
    #[serde(borrow)]
    pub principal_id: Loose<'a>,
    #[serde(borrow)]
    pub arn: Loose<'a>,
    #[serde(borrow)]
    pub account_id: Loose<'a>,
    #[serde(borrow)]
    pub user_name: Loose<'a>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawAttributes<'a> {
    #[serde(borrow)]
    pub mfa_authenticated: Loose<'a>,
    #[serde(borrow)]
    pub creation_date: Loose<'a>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawParams<'a> {
    #[serde(borrow)]
    pub target: Loose<'a>,
    #[serde(borrow)]
    pub document_name: Loose<'a>,
    #[serde(borrow)]
    pub session_id: Loose<'a>,
    #[serde(borrow)]
    pub reason: Loose<'a>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct RawResponse<'a> {
    #[serde(borrow)]
    pub session_id: Loose<'a>,
}

/// Parses a record. Invalid UTF-8 inside strings is replaced (U+FFFD) rather than failing the
/// record: the caller retries with a lossy copy.
pub fn parse(bytes: &[u8]) -> Result<RawRecord<'_>, serde_json::Error> {
    serde_json::from_slice(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_types() {
        let r = parse(br#"{"eventSource":"ssm.amazonaws.com","eventTime":12,"userIdentity":"x","readOnly":"true","extra":{"a":[1]}}"#)
            .expect("parse");
        assert_eq!(r.event_source.str(), Some("ssm.amazonaws.com"));
        assert_eq!(r.event_time.wrong_type(), Some("a number or boolean"));
        assert_eq!(r.user_identity, Obj::Wrong("a string"));
    }

    #[test]
    fn nested() {
        let r = parse(br#"{"userIdentity":{"type":"AssumedRole","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::1:role/x"},"attributes":{"mfaAuthenticated":"false"}}}}"#)
            .expect("parse");
        let id = r.user_identity.get().expect("identity");
        let sc = id.session_context.get().expect("session context");
        assert_eq!(
            sc.session_issuer.get().and_then(|i| i.arn.str()),
            Some("arn:aws:iam::1:role/x")
        );
    }
}
