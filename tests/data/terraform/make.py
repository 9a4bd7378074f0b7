#!/usr/bin/env python3
"""Writes the Terraform plan fixtures in this folder.

No Terraform binary is available where these were made, so the plans are written by hand (by
this script) in the shape `terraform show -json PLANFILE` prints, following Terraform's JSON
output format documentation (https://developer.hashicorp.com/terraform/internals/json-format,
format_version 1.2): `prior_state` and `planned_values` hold `root_module` with `resources` and
`child_modules`; each `resource_changes` entry has `address`, `module_address`, `mode`, `type`,
`name`, `index`, `provider_name` and `change` with `actions`, `before`, `after`,
`after_unknown`, `before_sensitive`, `after_sensitive`. The AWS provider stores every policy
document as a JSON string (aws_iam_policy.policy, aws_iam_role_policy.policy,
aws_iam_role.inline_policy[].policy), minified. Attribute sets follow the AWS provider's
documentation for each resource. Account and names match samples/policies/authorization-details.json.

Run from the repository root: python3 tests/data/terraform/make.py
"""
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "987654321098"
PROVIDER = "registry.terraform.io/hashicorp/aws"


def doc(statements):
    return json.dumps({"Version": "2012-10-17", "Statement": statements}, separators=(",", ":"))


OPS_OLD = doc([
    {"Sid": "PortForwarding", "Effect": "Allow", "Action": "ssm:StartSession",
     "Resource": [f"arn:aws:ec2:us-east-2:{ACCOUNT}:instance/*",
                  "arn:aws:ssm:us-east-2::document/AWS-StartPortForwardingSession"]},
    {"Sid": "OwnSessions", "Effect": "Allow", "Action": ["ssm:ResumeSession", "ssm:TerminateSession"],
     "Resource": "*",
     "Condition": {"StringLike": {"ssm:resourceTag/aws:ssmmessages:session-id": ["${aws:userid}"]}}},
])
# The proposed change drops OwnSessions: Ops can no longer resume or end its own sessions.
OPS_NEW = doc([
    {"Sid": "PortForwarding", "Effect": "Allow", "Action": "ssm:StartSession",
     "Resource": [f"arn:aws:ec2:us-east-2:{ACCOUNT}:instance/*",
                  "arn:aws:ssm:us-east-2::document/AWS-StartPortForwardingSession"]},
])
ENG_OLD = doc([
    {"Sid": "StartOnWebServers", "Effect": "Allow", "Action": "ssm:StartSession",
     "Resource": [f"arn:aws:ec2:us-east-2:{ACCOUNT}:instance/*",
                  f"arn:aws:ssm:us-east-2:{ACCOUNT}:managed-instance/*"],
     "Condition": {"StringLikeIfExists": {"ssm:resourceTag/Finance": "WebServers"}}},
    {"Sid": "EndAnySession", "Effect": "Allow", "Action": ["ssm:TerminateSession", "ssm:ResumeSession"],
     "Resource": f"arn:aws:ssm:*:{ACCOUNT}:session/*"},
    {"Sid": "ConnectionStatus", "Effect": "Allow", "Action": "ssm:GetConnectionStatus", "Resource": "*"},
])
with open(os.path.join(HERE, "..", "..", "..", "samples", "policies", "seed-2a-instance-tag.json")) as f:
    ENG_NEW = json.dumps(json.load(f), separators=(",", ":"))
DENY_PAYROLL = doc([
    {"Effect": "Deny", "Action": "ssm:StartSession", "Resource": "*",
     "Condition": {"StringEquals": {"ssm:resourceTag/Finance": "Payroll"}}},
])


def resource(address, rtype, name, values, index=None, sensitive=None):
    r = {"address": address, "mode": "managed", "type": rtype, "name": name,
         "provider_name": PROVIDER, "schema_version": 0, "values": values,
         "sensitive_values": sensitive or {}}
    if index is not None:
        r["index"] = index
    return r


def caller():
    return {"address": "data.aws_caller_identity.current", "mode": "data",
            "type": "aws_caller_identity", "name": "current", "provider_name": PROVIDER,
            "schema_version": 0,
            "values": {"account_id": ACCOUNT, "arn": f"arn:aws:iam::{ACCOUNT}:user/terraform",
                       "id": ACCOUNT, "user_id": "AIDATERRAFORMEXAMPLE1"},
            "sensitive_values": {}}


def change(r, actions, before, after, after_unknown=None, module=None):
    c = {"address": r["address"], "mode": "managed", "type": r["type"], "name": r["name"],
         "provider_name": PROVIDER,
         "change": {"actions": actions, "before": before, "after": after,
                    "after_unknown": after_unknown or {}, "before_sensitive": {} if before is not None else False,
                    "after_sensitive": {} if after is not None else False}}
    if "index" in r:
        c["index"] = r["index"]
    if module:
        c["module_address"] = module
    return c


def plan(prior_root, planned_root, changes):
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {"root_module": planned_root},
        "resource_changes": changes,
        "prior_state": {"format_version": "1.0", "terraform_version": "1.9.8",
                        "values": {"root_module": prior_root}},
        "configuration": {"provider_config": {"aws": {"name": "aws", "full_name": PROVIDER}},
                          "root_module": {}},
        "timestamp": "2026-11-30T09:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def role_values(inline):
    return {"arn": f"arn:aws:iam::{ACCOUNT}:role/ops/Ops", "assume_role_policy": doc([
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]),
        "create_date": "2023-01-01T00:00:00Z", "description": "", "force_detach_policies": False,
        "id": "Ops", "inline_policy": [{"name": "OpsSessions", "policy": inline}],
        "managed_policy_arns": [], "max_session_duration": 3600, "name": "Ops", "name_prefix": "",
        "path": "/ops/", "permissions_boundary": "", "tags": {}, "tags_all": {},
        "unique_id": "AROAOPSROLEEXAMPLE003"}


def role_policy_values(text):
    return {"id": "Ops:OpsSessions", "name": "OpsSessions", "name_prefix": "", "policy": text, "role": "Ops"}


def ops_plan():
    """The Ops role's inline policy, in a module instance (`for_each` by region), loses
    OwnSessions. The role's computed `inline_policy` still shows the old text in the plan: the
    explicit aws_iam_role_policy resource wins."""
    mod = 'module.ops["us-east-2"]'
    role = resource(f"{mod}.aws_iam_role.ops", "aws_iam_role", "ops", role_values(OPS_OLD))
    pol_old = resource(f"{mod}.aws_iam_role_policy.sessions", "aws_iam_role_policy", "sessions",
                       role_policy_values(OPS_OLD))
    pol_new = dict(pol_old, values=role_policy_values(OPS_NEW))
    prior = {"resources": [caller()],
             "child_modules": [{"address": mod, "resources": [role, pol_old]}]}
    planned = {"child_modules": [{"address": mod, "resources": [role, pol_new]}]}
    changes = [
        change(role, ["no-op"], role["values"], role["values"], module=mod),
        change(pol_old, ["update"], pol_old["values"], pol_new["values"], module=mod),
    ]
    return plan(prior, planned, changes)


def engineers_plan():
    """The Engineers group's managed policy gets the seed's tag-based document; the group, its
    users, the attachment and bob's inline deny are in the configuration, unchanged."""
    pol = lambda text: {"arn": f"arn:aws:iam::{ACCOUNT}:policy/SessionManagerEngineers",
                        "attachment_count": 1, "description": "", "id": f"arn:aws:iam::{ACCOUNT}:policy/SessionManagerEngineers",
                        "name": "SessionManagerEngineers", "name_prefix": "", "path": "/", "policy": text,
                        "policy_id": "ANPAENGEXAMPLE000001", "tags": {}, "tags_all": {}}
    policy_old = resource("aws_iam_policy.engineers", "aws_iam_policy", "engineers", pol(ENG_OLD))
    policy_new = dict(policy_old, values=pol(ENG_NEW))
    group = resource("aws_iam_group.engineers", "aws_iam_group", "engineers",
                     {"arn": f"arn:aws:iam::{ACCOUNT}:group/Engineers", "id": "Engineers",
                      "name": "Engineers", "path": "/", "unique_id": "AGPAENGEXAMPLE0000001"})
    attach = resource("aws_iam_group_policy_attachment.engineers", "aws_iam_group_policy_attachment", "engineers",
                      {"group": "Engineers", "id": "Engineers-20240101000000000000000001",
                       "policy_arn": f"arn:aws:iam::{ACCOUNT}:policy/SessionManagerEngineers"})
    users = [resource(f'aws_iam_user.engineer["{u}"]', "aws_iam_user", "engineer",
                      {"arn": f"arn:aws:iam::{ACCOUNT}:user/{u}", "force_destroy": False, "id": u,
                       "name": u, "path": "/", "permissions_boundary": "", "tags": {}, "tags_all": {},
                       "unique_id": uid}, index=u)
             for u, uid in [("alice", "AIDAALICEEXAMPLE00001"), ("bob", "AIDABOBEXAMPLE0000002")]]
    members = resource("aws_iam_group_membership.engineers", "aws_iam_group_membership", "engineers",
                       {"group": "Engineers", "id": "engineers", "name": "engineers", "users": ["alice", "bob"]})
    deny = resource("aws_iam_user_policy.bob_deny_payroll", "aws_iam_user_policy", "bob_deny_payroll",
                    {"id": "bob:DenyPayroll", "name": "DenyPayroll", "name_prefix": "", "policy": DENY_PAYROLL,
                     "user": "bob"})
    unchanged = [group, attach, *users, members, deny]
    prior = {"resources": [caller(), policy_old, *unchanged]}
    planned = {"resources": [policy_new, *unchanged]}
    changes = [change(policy_old, ["update"], policy_old["values"], policy_new["values"])]
    changes += [change(r, ["no-op"], r["values"], r["values"]) for r in unchanged]
    return plan(prior, planned, changes)


def unknown_plan():
    """A new inline policy for Ops whose text comes from a data source read only at apply:
    `policy` is unknown in the plan. No caller identity: the account comes from the role's ARN."""
    role = resource("aws_iam_role.ops", "aws_iam_role", "ops", role_values(OPS_OLD))
    extra = resource("aws_iam_role_policy.extra", "aws_iam_role_policy", "extra",
                     {"name": "Extra", "name_prefix": "", "role": "Ops"})
    prior = {"resources": [role]}
    planned = {"resources": [role, extra]}
    changes = [
        change(role, ["no-op"], role["values"], role["values"]),
        change(extra, ["create"], None, extra["values"], after_unknown={"id": True, "policy": True}),
    ]
    return plan(prior, planned, changes)


for name, p in [("ops-role", ops_plan()), ("engineers-policy", engineers_plan()),
                ("unknown-policy", unknown_plan())]:
    with open(os.path.join(HERE, f"{name}.plan.json"), "w") as f:
        json.dump(p, f, indent=2)
        f.write("\n")
