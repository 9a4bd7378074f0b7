//! AWS's own words for a denied call: the `errorMessage` of an access-denied record.
//!
//! IAM User Guide, "Troubleshoot access denied error messages": `User: PRINCIPAL is not authorized
//! to perform: ACTION on resource: RESOURCE because no identity-based policy allows the ACTION
//! action`, or `... with an explicit deny in a service control policy`, and the same for
//! resource control policies, permissions boundaries, session policies, resource-based policies
//! and VPC endpoint policies. Older messages stop after the resource. CloudTrail logs a denied
//! `StartSession` with `requestParameters: null`, so the message is the only place that names
//! the resource IAM refused: the target or the session document.

use std::fmt;

/// The kind of policy that denied, as the message names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layer {
    Identity,
    ServiceControl,
    ResourceControl,
    Boundary,
    Session,
    ResourceBased,
    VpcEndpoint,
}

impl Layer {
    const WORDS: [(Layer, &'static str); 7] = [
        (Layer::Identity, "identity-based policy"),
        (Layer::ServiceControl, "service control policy"),
        (Layer::ResourceControl, "resource control policy"),
        (Layer::Boundary, "permissions boundary"),
        (Layer::Session, "session policy"),
        (Layer::ResourceBased, "resource-based policy"),
        (Layer::VpcEndpoint, "VPC endpoint policy"),
    ];

    pub fn words(self) -> &'static str {
        Layer::WORDS
            .iter()
            .find(|(l, _)| *l == self)
            .map(|(_, w)| *w)
            .unwrap_or("policy")
    }

    fn after_article(text: &str) -> Option<Layer> {
        let t = text
            .strip_prefix("an ")
            .or_else(|| text.strip_prefix("a "))
            .unwrap_or(text);
        Layer::WORDS
            .iter()
            .find(|(_, w)| t.starts_with(w))
            .map(|(l, _)| *l)
    }
}

/// Why AWS denied: an explicit deny, or no policy of that kind allowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reason {
    pub explicit: bool,
    pub layer: Layer,
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.explicit {
            let article = if self.layer == Layer::Identity {
                "an"
            } else {
                "a"
            };
            write!(f, "explicit deny in {article} {}", self.layer.words())
        } else {
            write!(f, "no {} allows", self.layer.words())
        }
    }
}

/// What an access-denied message states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub principal: String,
    pub action: String,
    /// The resource IAM refused (absent in messages that name none).
    pub resource: Option<String>,
    pub reason: Option<Reason>,
}

/// Reads an access-denied message; `None` when it is not in the documented form.
pub fn parse(message: &str) -> Option<Denial> {
    let rest = message.trim().strip_prefix("User: ")?;
    let (principal, rest) = rest.split_once(" is not authorized to perform: ")?;
    let (action, rest) = match rest.find(' ') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let mut resource = None;
    let mut tail = rest;
    if let Some(r) = rest.strip_prefix(" on resource: ") {
        let end = [" because ", " with an explicit deny"]
            .iter()
            .filter_map(|m| r.find(m))
            .min()
            .unwrap_or(r.len());
        resource = Some(r[..end].trim().to_string());
        tail = &r[end..];
    }
    let reason = if let Some(t) = tail.strip_prefix(" with an explicit deny in ") {
        Layer::after_article(t).map(|layer| Reason {
            explicit: true,
            layer,
        })
    } else if let Some(t) = tail.strip_prefix(" because no ") {
        Layer::after_article(t).map(|layer| Reason {
            explicit: false,
            layer,
        })
    } else {
        None
    };
    if principal.is_empty() || !action.contains(':') {
        return None;
    }
    Some(Denial {
        principal: principal.to_string(),
        action: action.to_string(),
        resource: resource.filter(|r| !r.is_empty()),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wording_of_the_iam_user_guide() {
        let p = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Ops_2b03e7d876722882/jane";
        let i = "arn:aws:ec2:us-east-1:123456789012:instance/i-072084d1cf0b2f1c9";
        let cases = [
            (
                "because no identity-based policy allows the ssm:StartSession action",
                false,
                Layer::Identity,
            ),
            (
                "with an explicit deny in an identity-based policy",
                true,
                Layer::Identity,
            ),
            (
                "with an explicit deny in a service control policy",
                true,
                Layer::ServiceControl,
            ),
            (
                "because no service control policy allows the ssm:StartSession action",
                false,
                Layer::ServiceControl,
            ),
            (
                "with an explicit deny in a resource control policy",
                true,
                Layer::ResourceControl,
            ),
            (
                "because no permissions boundary allows the ssm:StartSession action",
                false,
                Layer::Boundary,
            ),
            (
                "with an explicit deny in a permissions boundary",
                true,
                Layer::Boundary,
            ),
            (
                "because no session policy allows the ssm:StartSession action",
                false,
                Layer::Session,
            ),
            (
                "with an explicit deny in a session policy",
                true,
                Layer::Session,
            ),
            (
                "with an explicit deny in a VPC endpoint policy",
                true,
                Layer::VpcEndpoint,
            ),
        ];
        for (why, explicit, layer) in cases {
            let m = format!(
                "User: {p} is not authorized to perform: ssm:StartSession on resource: {i} {why}"
            );
            let d = parse(&m).expect(why);
            assert_eq!(d.principal, p);
            assert_eq!(d.action, "ssm:StartSession");
            assert_eq!(d.resource.as_deref(), Some(i));
            assert_eq!(d.reason, Some(Reason { explicit, layer }), "{why}");
        }
        // The older form names no reason.
        let d = parse(&format!(
            "User: {p} is not authorized to perform: ssm:TerminateSession on resource: arn:aws:ssm:us-east-1:123456789012:session/jane-0abc"
        ))
        .expect("old form");
        assert_eq!(d.reason, None);
        assert_eq!(
            d.resource.as_deref(),
            Some("arn:aws:ssm:us-east-1:123456789012:session/jane-0abc")
        );
        // No resource at all.
        let d = parse(&format!(
            "User: {p} is not authorized to perform: ssm:DescribeSessions because no identity-based policy allows the ssm:DescribeSessions action"
        ))
        .expect("no resource");
        assert_eq!(d.resource, None);
        assert!(parse("Access Denied").is_none());
        assert!(parse("User: x is not authorized").is_none());
    }
}
