//! Facts about the IAM vocabulary used by lints: the actions of the `ssm` service and which
//! global condition keys are multivalued.
//!
//! Sources: Service Authorization Reference, "Actions, resources, and condition keys for AWS
//! Systems Manager" (action names, which are the API operation names of the SSM API Reference),
//! and IAM User Guide, "AWS global condition context keys" (multivalued keys).

/// Actions of the `ssm` IAM service prefix (API operations plus the permission-only actions).
pub const SSM_ACTIONS: &[&str] = &[
    "AddTagsToResource",
    "AssociateOpsItemRelatedItem",
    "CancelCommand",
    "CancelMaintenanceWindowExecution",
    "CreateActivation",
    "CreateAssociation",
    "CreateAssociationBatch",
    "CreateDocument",
    "CreateMaintenanceWindow",
    "CreateOpsItem",
    "CreateOpsMetadata",
    "CreatePatchBaseline",
    "CreateResourceDataSync",
    "DeleteActivation",
    "DeleteAssociation",
    "DeleteDocument",
    "DeleteInventory",
    "DeleteMaintenanceWindow",
    "DeleteOpsItem",
    "DeleteOpsMetadata",
    "DeleteParameter",
    "DeleteParameters",
    "DeletePatchBaseline",
    "DeleteResourceDataSync",
    "DeleteResourcePolicy",
    "DeregisterManagedInstance",
    "DeregisterPatchBaselineForPatchGroup",
    "DeregisterTargetFromMaintenanceWindow",
    "DeregisterTaskFromMaintenanceWindow",
    "DescribeActivations",
    "DescribeAssociation",
    "DescribeAssociationExecutionTargets",
    "DescribeAssociationExecutions",
    "DescribeAutomationExecutions",
    "DescribeAutomationStepExecutions",
    "DescribeAvailablePatches",
    "DescribeDocument",
    "DescribeDocumentParameters",
    "DescribeDocumentPermission",
    "DescribeEffectiveInstanceAssociations",
    "DescribeEffectivePatchesForPatchBaseline",
    "DescribeInstanceAssociationsStatus",
    "DescribeInstanceInformation",
    "DescribeInstancePatchStates",
    "DescribeInstancePatchStatesForPatchGroup",
    "DescribeInstancePatches",
    "DescribeInstanceProperties",
    "DescribeInventoryDeletions",
    "DescribeMaintenanceWindowExecutionTaskInvocations",
    "DescribeMaintenanceWindowExecutionTasks",
    "DescribeMaintenanceWindowExecutions",
    "DescribeMaintenanceWindowSchedule",
    "DescribeMaintenanceWindowTargets",
    "DescribeMaintenanceWindowTasks",
    "DescribeMaintenanceWindows",
    "DescribeMaintenanceWindowsForTarget",
    "DescribeOpsItems",
    "DescribeParameters",
    "DescribePatchBaselines",
    "DescribePatchGroupState",
    "DescribePatchGroups",
    "DescribePatchProperties",
    "DescribeSessions",
    "DisassociateOpsItemRelatedItem",
    "GetAccessToken",
    "GetAutomationExecution",
    "GetCalendar",
    "GetCalendarState",
    "GetCommandInvocation",
    "GetConnectionStatus",
    "GetDefaultPatchBaseline",
    "GetDeployablePatchSnapshotForInstance",
    "GetDocument",
    "GetExecutionPreview",
    "GetInventory",
    "GetInventorySchema",
    "GetMaintenanceWindow",
    "GetMaintenanceWindowExecution",
    "GetMaintenanceWindowExecutionTask",
    "GetMaintenanceWindowExecutionTaskInvocation",
    "GetMaintenanceWindowTask",
    "GetManifest",
    "GetOpsItem",
    "GetOpsMetadata",
    "GetOpsSummary",
    "GetParameter",
    "GetParameterHistory",
    "GetParameters",
    "GetParametersByPath",
    "GetPatchBaseline",
    "GetPatchBaselineForPatchGroup",
    "GetResourcePolicies",
    "GetServiceSetting",
    "LabelParameterVersion",
    "ListAssociationVersions",
    "ListAssociations",
    "ListCommandInvocations",
    "ListCommands",
    "ListComplianceItems",
    "ListComplianceSummaries",
    "ListDocumentMetadataHistory",
    "ListDocumentVersions",
    "ListDocuments",
    "ListInstanceAssociations",
    "ListInventoryEntries",
    "ListNodes",
    "ListNodesSummary",
    "ListOpsItemEvents",
    "ListOpsItemRelatedItems",
    "ListOpsMetadata",
    "ListResourceComplianceSummaries",
    "ListResourceDataSync",
    "ListTagsForResource",
    "ModifyDocumentPermission",
    "PutCalendar",
    "PutComplianceItems",
    "PutConfigurePackageResult",
    "PutInventory",
    "PutParameter",
    "PutResourcePolicy",
    "RegisterDefaultPatchBaseline",
    "RegisterPatchBaselineForPatchGroup",
    "RegisterTargetWithMaintenanceWindow",
    "RegisterTaskWithMaintenanceWindow",
    "RemoveTagsFromResource",
    "ResetServiceSetting",
    "ResumeSession",
    "SendAutomationSignal",
    "SendCommand",
    "StartAccessRequest",
    "StartAssociationsOnce",
    "StartAutomationExecution",
    "StartChangeRequestExecution",
    "StartExecutionPreview",
    "StartSession",
    "StopAutomationExecution",
    "TerminateSession",
    "UnlabelParameterVersion",
    "UpdateAssociation",
    "UpdateAssociationStatus",
    "UpdateDocument",
    "UpdateDocumentDefaultVersion",
    "UpdateDocumentMetadata",
    "UpdateInstanceAssociationStatus",
    "UpdateInstanceInformation",
    "UpdateMaintenanceWindow",
    "UpdateMaintenanceWindowTarget",
    "UpdateMaintenanceWindowTask",
    "UpdateManagedInstanceRole",
    "UpdateOpsItem",
    "UpdateOpsMetadata",
    "UpdatePatchBaseline",
    "UpdateResourceDataSync",
    "UpdateServiceSetting",
];

/// Global condition keys that are multivalued (lowercased).
pub const MULTIVALUED_KEYS: &[&str] = &[
    "aws:tagkeys",
    "aws:principalorgpaths",
    "aws:principalservicenameslist",
    "aws:calledvia",
    "aws:resourceorgpaths",
    "aws:sourceorgpaths",
];

/// Is the lowercased key one AWS documents as multivalued?
pub fn is_multivalued(key: &str) -> bool {
    MULTIVALUED_KEYS.contains(&key)
}

/// Is the lowercased key one AWS documents as single-valued (a global `aws:` key that is not
/// in the multivalued list, or a tag key)?
pub fn is_single_valued(key: &str) -> bool {
    key.starts_with("aws:") && !is_multivalued(key)
        || key.starts_with("ssm:resourcetag/")
        || key.starts_with("ssm:sessiondocumentaccesscheck")
}

/// Global condition keys, from the IAM User Guide, "AWS global condition context
/// keys". The tag keys (`aws:PrincipalTag/…`, `aws:ResourceTag/…`, `aws:RequestTag/…`) are
/// prefixes, in [`GLOBAL_KEY_PREFIXES`].
pub const GLOBAL_KEYS: &[&str] = &[
    "aws:PrincipalArn",
    "aws:PrincipalAccount",
    "aws:PrincipalOrgPaths",
    "aws:PrincipalOrgID",
    "aws:PrincipalIsAWSService",
    "aws:PrincipalServiceName",
    "aws:PrincipalServiceNamesList",
    "aws:PrincipalType",
    "aws:userid",
    "aws:username",
    "aws:AssumedRoot",
    "aws:FederatedProvider",
    "aws:TokenIssueTime",
    "aws:MultiFactorAuthAge",
    "aws:MultiFactorAuthPresent",
    "aws:ChatbotSourceArn",
    "aws:Ec2InstanceSourceVpc",
    "aws:Ec2InstanceSourcePrivateIPv4",
    "aws:SourceIdentity",
    "aws:SourceIp",
    "aws:SourceVpc",
    "aws:SourceVpcArn",
    "aws:SourceVpce",
    "aws:VpcSourceIp",
    "aws:VpceAccount",
    "aws:VpceOrgID",
    "aws:VpceOrgPaths",
    "aws:SourceAccount",
    "aws:SourceArn",
    "aws:SourceOrgID",
    "aws:SourceOrgPaths",
    "aws:ResourceAccount",
    "aws:ResourceOrgID",
    "aws:ResourceOrgPaths",
    "aws:CalledVia",
    "aws:CalledViaFirst",
    "aws:CalledViaLast",
    "aws:ViaAWSService",
    "aws:CurrentTime",
    "aws:EpochTime",
    "aws:referer",
    "aws:RequestedRegion",
    "aws:TagKeys",
    "aws:SecureTransport",
    "aws:UserAgent",
];

/// Global keys that take a tag key after the slash.
pub const GLOBAL_KEY_PREFIXES: &[&str] =
    &["aws:PrincipalTag/", "aws:ResourceTag/", "aws:RequestTag/"];

/// The `ssm:` condition keys of the Session Manager actions (Service Authorization Reference,
/// "Actions, resources, and condition keys for AWS Systems Manager": `StartSession`,
/// `TerminateSession`, `ResumeSession`, `DescribeSessions`, `GetConnectionStatus`), plus the
/// cross-service `ssm:SourceInstanceArn` of the global keys page. No other `ssm:` key is ever in
/// the request context of these calls.
pub const SSM_SESSION_KEYS: &[&str] = &["ssm:SessionDocumentAccessCheck", "ssm:SourceInstanceArn"];

/// `ssm:` keys of other Systems Manager actions (same source): defined, but never in a session
/// call's context. Listed so that `validate` does not call them misspelt.
pub const SSM_OTHER_KEYS: &[&str] = &[
    "ssm:AutoApprove",
    "ssm:DocumentCategories",
    "ssm:Overwrite",
    "ssm:Policies",
    "ssm:Recursive",
    "ssm:SyncType",
];

/// Can this lowercased key be in the request context of a Session Manager call? `aws:` keys
/// that AWS does not define and `ssm:` keys other than the session actions' are never there:
/// a condition sees them absent, as in AWS. Keys of other services may be cross-service global
/// keys (`ec2:SourceInstanceArn`, `lambda:SourceFunctionArn`, …) and are not ruled out.
pub fn may_be_in_session_request(key: &str) -> bool {
    if key.starts_with("aws:") {
        is_global_key(key)
    } else if key.starts_with("ssm:") {
        key.starts_with("ssm:resourcetag/") || one_of(SSM_SESSION_KEYS, key)
    } else {
        true
    }
}

/// For an `aws:` or `ssm:` key that AWS does not define, the closest defined key (or an empty
/// string when none is close); `None` for a defined key or another service's key.
pub fn undefined_key(key: &str) -> Option<&'static str> {
    let lower = key.to_lowercase();
    let defined = if lower.starts_with("aws:") {
        is_global_key(&lower)
    } else if lower.starts_with("ssm:") {
        lower.starts_with("ssm:resourcetag/")
            || one_of(SSM_SESSION_KEYS, &lower)
            || one_of(SSM_OTHER_KEYS, &lower)
    } else {
        return None;
    };
    if defined {
        return None;
    }
    let candidates = GLOBAL_KEYS
        .iter()
        .chain(SSM_SESSION_KEYS)
        .chain(SSM_OTHER_KEYS)
        .copied()
        .chain([
            "aws:PrincipalTag/",
            "aws:ResourceTag/",
            "aws:RequestTag/",
            "ssm:resourceTag/",
        ]);
    Some(suggest(&lower, candidates).unwrap_or(""))
}

/// Is the lowercased `key` one of `names` (any case)?
fn one_of(names: &[&str], key: &str) -> bool {
    names.iter().any(|n| n.eq_ignore_ascii_case(key))
}

/// Is the lowercased `aws:` key a global condition key?
fn is_global_key(key: &str) -> bool {
    one_of(GLOBAL_KEYS, key)
        || GLOBAL_KEY_PREFIXES.iter().any(|p| {
            key.len() > p.len() && key.as_bytes()[..p.len()].eq_ignore_ascii_case(p.as_bytes())
        })
}

/// The type of a global condition key's value (IAM User Guide, "AWS global condition context
/// keys": each key's "Data type").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    Date,
    Numeric,
    Bool,
    Ip,
}

/// The value type of a typed key (lowercased), `None` for strings, ARNs and unknown keys.
pub fn key_type(key: &str) -> Option<KeyType> {
    Some(match key {
        "aws:currenttime" | "aws:tokenissuetime" => KeyType::Date,
        "aws:epochtime" | "aws:multifactorauthage" => KeyType::Numeric,
        "aws:securetransport"
        | "aws:multifactorauthpresent"
        | "aws:viaawsservice"
        | "aws:principalisawsservice"
        | "aws:assumedroot"
        | "ssm:sessiondocumentaccesscheck" => KeyType::Bool,
        "aws:sourceip" | "aws:vpcsourceip" | "aws:ec2instancesourceprivateipv4" => KeyType::Ip,
        _ => return None,
    })
}

/// Levenshtein distance, for "did you mean" suggestions.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        cur[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// The closest candidate within a small distance.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .map(|c| (edit_distance(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= 3.max(word.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}
