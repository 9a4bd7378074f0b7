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
