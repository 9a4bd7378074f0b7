//! Amazon Resource Names, split once.
//!
//! `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`: the resource part may itself contain colons
//! (IAM User Guide, "IAM identifiers", ARN format), so an ARN splits into at most six parts.
//! Parts may be empty (`arn:aws:iam::123456789012:role/x` has no region, an AWS-owned SSM
//! document `arn:aws:ssm:us-east-1::document/AWS-StartSSHSession` no account).

/// An ARN's six parts, borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`.
    pub partition: &'a str,
    /// `ec2`, `ssm`, `iam`, `sts`, ….
    pub service: &'a str,
    /// Empty for global services.
    pub region: &'a str,
    /// Empty for resources no account owns.
    pub account: &'a str,
    /// Everything after the fifth colon (`instance/i-0abc`, `role/path/name`).
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits `text`; `None` when it does not start with `arn:` or has fewer than six parts.
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        let mut it = text.splitn(6, ':');
        if it.next()? != "arn" {
            return None;
        }
        Some(Arn {
            partition: it.next()?,
            service: it.next()?,
            region: it.next()?,
            account: it.next()?,
            resource: it.next()?,
        })
    }

    /// The last `/`-separated segment of the resource (`instance/i-0abc` → `i-0abc`).
    pub fn resource_id(&self) -> &'a str {
        self.resource.rsplit('/').next().unwrap_or(self.resource)
    }
}

/// The account of `text` when it is an ARN, else empty.
pub fn account_of(text: &str) -> &str {
    Arn::parse(text).map_or("", |a| a.account)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts() {
        let cases: &[(&str, Option<[&str; 5]>)] = &[
            (
                "arn:aws:ec2:us-east-1:111122223333:instance/i-0abc",
                Some(["aws", "ec2", "us-east-1", "111122223333", "instance/i-0abc"]),
            ),
            // The resource keeps its own colons.
            (
                "arn:aws:ssm:us-east-1:111122223333:session/a:b",
                Some(["aws", "ssm", "us-east-1", "111122223333", "session/a:b"]),
            ),
            (
                "arn:aws:iam::111122223333:role/x",
                Some(["aws", "iam", "", "111122223333", "role/x"]),
            ),
            (
                "arn:aws-cn:ssm:cn-north-1::document/AWS-StartSSHSession",
                Some([
                    "aws-cn",
                    "ssm",
                    "cn-north-1",
                    "",
                    "document/AWS-StartSSHSession",
                ]),
            ),
            ("*", None),
            ("arn:aws:ec2", None),
            ("urn:aws:ec2:r:a:x", None),
        ];
        for (text, want) in cases {
            let got =
                Arn::parse(text).map(|a| [a.partition, a.service, a.region, a.account, a.resource]);
            assert_eq!(got, *want, "{text}");
        }
        assert_eq!(
            account_of("arn:aws:iam::111122223333:user/x"),
            "111122223333"
        );
        assert_eq!(account_of("not an arn"), "");
        assert_eq!(
            Arn::parse("arn:aws:ecs:r:a:task/c/t").map(|a| a.resource_id()),
            Some("t")
        );
    }
}
