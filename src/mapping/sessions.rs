//! Session replay: successful StartSession events create sessions with the system tags Session
//! Manager puts on them, `aws:ssmmessages:target-id` (the target) and
//! `aws:ssmmessages:session-id` (the starter's `principalId`: the user ID for IAM users,
//! `role-id:session-name` for roles). Terminate/ResumeSession find their session by ID, across
//! files and days (Systems Manager User Guide, "Allow a user to end only sessions they started").

use std::collections::HashMap;
use std::sync::Arc;

use crate::decode::{SsmAction, SsmEvent};

/// What a session's start tells: its target and the starter's principal ID.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionInfo {
    pub target: Arc<str>,
    pub starter_principal_id: Arc<str>,
}

/// Sessions by ID.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: HashMap<Box<str>, SessionInfo>,
}

impl Sessions {
    /// The session a successful StartSession creates, if it creates one.
    pub fn started_by(ev: &SsmEvent) -> Option<(String, SessionInfo)> {
        if ev.action != SsmAction::StartSession || ev.error_code.is_some() {
            return None;
        }
        let (Some(id), Some(target), Some(pid)) = (
            ev.response_session_id.as_deref(),
            ev.target.as_deref(),
            ev.identity.principal_id.as_deref(),
        ) else {
            return None;
        };
        Some((
            id.to_string(),
            SessionInfo {
                target: Arc::from(target),
                starter_principal_id: Arc::from(pid),
            },
        ))
    }

    /// Builds the index from sessions already chosen, one per ID.
    pub fn from_map(by_id: HashMap<Box<str>, SessionInfo>) -> Sessions {
        Sessions { by_id }
    }

    /// The session with this ID, if its start was seen.
    pub fn get(&self, id: &str) -> Option<&SessionInfo> {
        self.by_id.get(id)
    }
}
