//! Overlays: a candidate described as the baseline export with a few policies changed, the way
//! a reviewer sees a change (`--replace-policy`, `--attach`, `--detach`). Principals an
//! overlay does not touch keep exactly the baseline's policies.

use crate::policy::snapshot::{Doc, HolderKind, HolderRef, Snapshot};

/// One change to the baseline.
#[derive(Debug, Clone)]
pub enum Overlay {
    /// A managed policy's default version (by ARN or name), or an inline policy
    /// (`role/NAME/POLICY`, `user/…`, `group/…`: created when the principal has none of that
    /// name, as `PutRolePolicy` does), becomes this document.
    Replace {
        /// What is replaced, as the user wrote it.
        target: String,
        /// The new document.
        doc: Doc,
    },
    /// A principal gains a policy.
    Attach {
        /// The principal.
        holder: HolderRef,
        /// What it gains.
        what: Attachment,
    },
    /// A principal loses an attached managed policy (by ARN or name) or an inline policy (by
    /// name).
    Detach {
        /// The principal.
        holder: HolderRef,
        /// The policy.
        policy: String,
    },
}

/// What `--attach` adds.
#[derive(Debug, Clone)]
pub enum Attachment {
    /// A managed policy of the baseline, by ARN.
    Managed(String),
    /// A document from a file, held as an inline policy named after the file.
    Document(Doc),
}

/// An inline policy reference `KIND/NAME/POLICY`.
fn inline_target(s: &str) -> Option<(HolderRef, &str)> {
    let mut parts = s.splitn(3, '/');
    let kind = parts.next()?;
    let name = parts.next()?;
    let policy = parts.next()?;
    if policy.is_empty() || policy.contains('/') || s.starts_with("arn:") {
        return None;
    }
    let holder = HolderRef::parse(&format!("{kind}/{name}")).ok()?;
    Some((holder, policy))
}

/// Applies overlays in order. Every overlay that names something the baseline does not have is
/// an error (all of them are reported): a misspelt role must not silently change nothing.
pub fn apply(snapshot: &mut Snapshot, overlays: &[Overlay]) -> Result<(), Vec<String>> {
    let mut errors = Vec::new();
    for o in overlays {
        if let Err(e) = apply_one(snapshot, o) {
            errors.push(e);
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn apply_one(s: &mut Snapshot, o: &Overlay) -> Result<(), String> {
    match o {
        Overlay::Replace { target, doc } => {
            if let Some((holder, policy)) = inline_target(target) {
                let h = s.holder_mut(&holder)?;
                let mut doc = doc.clone();
                doc.name = format!("{}#{policy}", h.arn);
                h.inline.insert(policy.to_string(), doc);
                return Ok(());
            }
            let arn = s.managed_arn(target)?;
            let mut doc = doc.clone();
            doc.name = arn.clone();
            s.managed.insert(arn, doc);
            Ok(())
        }
        Overlay::Attach { holder, what } => {
            let managed = match what {
                Attachment::Managed(key) => Some(s.managed_arn(key)?),
                Attachment::Document(_) => None,
            };
            let h = s.holder_mut(holder)?;
            match (managed, what) {
                (Some(arn), _) => {
                    if h.attached.contains(&arn) {
                        return Err(format!("{holder} already has `{arn}` attached"));
                    }
                    h.attached.push(arn);
                }
                (None, Attachment::Document(doc)) => {
                    h.inline
                        .insert(format!("attached:{}", doc.name), doc.clone());
                }
                (None, Attachment::Managed(_)) => {}
            }
            Ok(())
        }
        Overlay::Detach { holder, policy } => {
            let h = s.holder_mut(holder)?;
            if h.inline.remove(policy).is_some() {
                return Ok(());
            }
            let before = h.attached.len();
            h.attached
                .retain(|arn| arn != policy && arn.rsplit('/').next() != Some(policy.as_str()));
            if h.attached.len() < before {
                return Ok(());
            }
            if h.kind == HolderKind::User && h.groups.iter().any(|g| g == policy) {
                return Err(format!(
                    "`{policy}` is a group of {holder}, not a policy it holds; detach the policy from `group/{policy}`"
                ));
            }
            Err(format!(
                "{holder} holds no inline or attached managed policy `{policy}`"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::snapshot::Holder;
    use serde_json::json;

    fn doc(name: &str) -> Doc {
        Doc {
            name: name.to_string(),
            file: name.to_string(),
            value: json!({"Version": "2012-10-17", "Statement": []}),
            lines: Vec::new(),
        }
    }

    fn model() -> Snapshot {
        let mut s = Snapshot::default();
        s.managed.insert(
            "arn:aws:iam::1:policy/Eng".into(),
            doc("arn:aws:iam::1:policy/Eng"),
        );
        let mut ops = Holder::new(HolderKind::Role, "arn:aws:iam::1:role/ops/Ops", "Ops");
        ops.inline.insert("Sessions".into(), doc("old"));
        ops.attached.push("arn:aws:iam::1:policy/Eng".into());
        s.put_holder(ops);
        s
    }

    fn role(name: &str) -> HolderRef {
        HolderRef::parse(&format!("role/{name}")).expect("parses")
    }

    #[test]
    fn replace_a_managed_policy_by_name_or_an_inline_policy() {
        let mut s = model();
        apply(
            &mut s,
            &[
                Overlay::Replace {
                    target: "Eng".into(),
                    doc: doc("new.json"),
                },
                Overlay::Replace {
                    target: "role/Ops/Sessions".into(),
                    doc: doc("inline.json"),
                },
            ],
        )
        .expect("applies");
        assert_eq!(s.managed["arn:aws:iam::1:policy/Eng"].file, "new.json");
        let ops = &s.holders[0];
        assert_eq!(ops.inline["Sessions"].file, "inline.json");
        assert_eq!(
            ops.inline["Sessions"].name,
            "arn:aws:iam::1:role/ops/Ops#Sessions"
        );
    }

    #[test]
    fn attach_and_detach() {
        let mut s = model();
        apply(
            &mut s,
            &[
                Overlay::Detach {
                    holder: role("Ops"),
                    policy: "Eng".into(),
                },
                Overlay::Detach {
                    holder: role("Ops"),
                    policy: "Sessions".into(),
                },
                Overlay::Attach {
                    holder: role("Ops"),
                    what: Attachment::Document(doc("extra.json")),
                },
            ],
        )
        .expect("applies");
        let ops = &s.holders[0];
        assert!(ops.attached.is_empty());
        assert_eq!(
            ops.inline.keys().collect::<Vec<_>>(),
            ["attached:extra.json"]
        );
    }

    #[test]
    fn names_the_baseline_lacks_are_errors_all_reported() {
        let mut s = model();
        let errors = apply(
            &mut s,
            &[
                Overlay::Replace {
                    target: "arn:aws:iam::1:policy/Nope".into(),
                    doc: doc("x"),
                },
                Overlay::Detach {
                    holder: role("Ops"),
                    policy: "Nope".into(),
                },
                Overlay::Attach {
                    holder: role("Dev"),
                    what: Attachment::Managed("Eng".into()),
                },
                Overlay::Attach {
                    holder: role("Ops"),
                    what: Attachment::Managed("Eng".into()),
                },
            ],
        )
        .expect_err("refused");
        assert_eq!(errors.len(), 4, "{errors:?}");
        assert!(errors[0].contains("not in the baseline"));
        assert!(errors[1].contains("holds no inline or attached managed policy `Nope`"));
        assert!(errors[2].contains("role/Dev is not in the baseline"));
        assert!(errors[3].contains("already has"));
    }
}
