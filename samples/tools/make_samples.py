#!/usr/bin/env python3
"""Writes the bundled sample archive under samples/AWSLogs (deterministic: fixed gzip mtime).

The events are invented but shaped exactly like real CloudTrail records (compare the public
samples in ../shared/data/cloudtrail/real/). Account 987654321098 and region us-east-2 match the
seed policies in samples/policies/. Run from the repository root: python3 samples/tools/make_samples.py
"""
import gzip, io, json, os

ACCOUNT = "987654321098"
REGION = "us-east-2"
ROOT = "samples/AWSLogs"

ALICE = {"type": "IAMUser", "principalId": "AIDAALICEEXAMPLE00001", "arn": f"arn:aws:iam::{ACCOUNT}:user/alice",
         "accountId": ACCOUNT, "accessKeyId": "AKIAALICEEXAMPLE0001", "userName": "alice"}
BOB = {"type": "IAMUser", "principalId": "AIDABOBEXAMPLE0000002", "arn": f"arn:aws:iam::{ACCOUNT}:user/bob",
       "accountId": ACCOUNT, "accessKeyId": "ASIABOBEXAMPLE000002", "userName": "bob",
       "sessionContext": {"attributes": {"creationDate": "2024-09-02T08:00:00Z", "mfaAuthenticated": "true"}}}
CAROL = {"type": "AssumedRole", "principalId": "AROAOPSROLEEXAMPLE003:carol",
         "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/carol", "accountId": ACCOUNT,
         "accessKeyId": "ASIACAROLEXAMPLE0003",
         "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROAOPSROLEEXAMPLE003",
                                              "arn": f"arn:aws:iam::{ACCOUNT}:role/ops/Ops", "accountId": ACCOUNT,
                                              "userName": "Ops"},
                            "attributes": {"creationDate": "2024-09-02T09:00:00Z", "mfaAuthenticated": "false"}}}
DAVE = {"type": "AssumedRole", "principalId": "AROASSOADMINEXAMPLE04:dave@example.com",
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/dave@example.com",
        "accountId": ACCOUNT, "accessKeyId": "ASIADAVEEXAMPLE00004",
        "sessionContext": {"sessionIssuer": {"type": "Role", "principalId": "AROASSOADMINEXAMPLE04",
                                             "arn": f"arn:aws:iam::{ACCOUNT}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
                                             "accountId": ACCOUNT, "userName": "AWSReservedSSO_Admin_0123456789abcdef"},
                           "attributes": {"creationDate": "2024-09-03T07:55:00Z", "mfaAuthenticated": "false"}}}

n = 0
def rec(when, name, who, params=None, response=None, error=None, source="ssm.amazonaws.com", ip="203.0.113.10"):
    global n
    n += 1
    r = {"eventVersion": "1.09", "userIdentity": who, "eventTime": when, "eventSource": source,
         "eventName": name, "awsRegion": REGION, "sourceIPAddress": ip,
         "userAgent": "aws-cli/2.17.0 md/command#ssm.start-session", "requestParameters": params,
         "responseElements": response, "requestID": f"00000000-0000-4000-8000-{n:012d}",
         "eventID": f"e0000000-0000-4000-8000-{n:012d}", "readOnly": False, "eventType": "AwsApiCall",
         "managementEvent": True, "recipientAccountId": ACCOUNT, "eventCategory": "Management",
         "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                        "clientProvidedHostHeader": f"ssm.{REGION}.amazonaws.com"}}
    if error:
        r["errorCode"], r["errorMessage"] = error
    return r

def start(when, who, target, sid, doc=None, error=None):
    params = {"target": target}
    if doc:
        params["documentName"] = doc
        params["parameters"] = {"portNumber": ["5432"], "localPortNumber": ["15432"]}
    if error and error[0].startswith("AccessDenied"):
        # CloudTrail logs a StartSession refused by IAM with null request parameters; the
        # refused resource is named only in the error message.
        params = None
    resp = None if error else {"sessionId": sid, "tokenValue": "Value hidden due to security reasons.",
                               "streamUrl": f"wss://ssmmessages.{REGION}.amazonaws.com/v1/data-channel/{sid}?role=publish_subscribe"}
    return rec(when, "StartSession", who, params, resp, error)

def end(when, who, sid, name="TerminateSession", error=None):
    return rec(when, name, who, {"sessionId": sid}, None if error else {"sessionId": sid}, error)

def denied(who, action, resource, why=None):
    # IAM User Guide, "Troubleshoot access denied error messages": the message names the kind of
    # policy that denied.
    why = why or f"because no identity-based policy allows the ssm:{action} action"
    return ("AccessDenied" if action != "DescribeSessions" else "AccessDeniedException",
            f"User: {who['arn']} is not authorized to perform: ssm:{action} on resource: {resource} {why}")

I1, I2, I3, I9 = "i-0a1b2c3d4e5f60001", "i-0a1b2c3d4e5f60002", "i-0a1b2c3d4e5f60003", "i-0a1b2c3d4e5f60099"
MI = "mi-0123456789abcdef0"
S_ALICE, S_BOB, S_CAROL, S_DAVE = ("alice-0a1b2c3d4e5f6a7b8", "bob-09f8e7d6c5b4a3921", "carol-7c6b5a4d3e2f1a0b9",
                                    "dave@example.com-5e4d3c2b1a0f9e8d7")
noise = lambda when, src, name, who: rec(when, name, who, {"maxResults": 50}, None, None, src)

def ec2(when, name, who, params, response, event_id, error=None):
    # EC2 calls that change tags, shaped as CloudTrail writes them (lowercased members; see
    # src/decode/tagging.rs). Their IDs are their own so that the session events keep theirs.
    r = {"eventVersion": "1.09", "userIdentity": who, "eventTime": when, "eventSource": "ec2.amazonaws.com",
         "eventName": name, "awsRegion": REGION, "sourceIPAddress": "203.0.113.10",
         "userAgent": "aws-cli/2.17.0 md/command#ec2", "requestParameters": params,
         "responseElements": response, "requestID": f"10000000-0000-4000-8000-{event_id[-12:]}",
         "eventID": event_id, "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True,
         "recipientAccountId": ACCOUNT, "eventCategory": "Management"}
    if error:
        r["errorCode"], r["errorMessage"] = error
    return r

def tag_items(pairs):
    return {"items": [{"key": k, "value": v} if v is not None else {"key": k} for k, v in pairs]}

# The re-tagging story (README, "Tags as they were"): bob fails to tag the Payroll instance as a
# web server; i-...0099 is launched tagged Finance=WebServers minutes before alice's session on
# it (it was terminated since: today's inventory does not list it); i-...0003 loses a Finance
# tag after carol's session, so its value at her session is not known.
TAG_FAILED = ec2("2024-09-02T10:02:00Z", "CreateTags", BOB,
                 {"resourcesSet": {"items": [{"resourceId": I2}]}, "tagSet": tag_items([("Finance", "WebServers")])},
                 None, "t0000000-0000-4000-8000-000000000001",
                 ("Client.UnauthorizedOperation", "You are not authorized to perform this operation."))
LAUNCH_I9 = ec2("2024-09-03T09:10:00Z", "RunInstances", ALICE,
                {"instancesSet": {"items": [{"imageId": "ami-0example0000000001", "minCount": 1, "maxCount": 1}]},
                 "instanceType": "t3.micro",
                 "tagSpecificationSet": {"items": [{"resourceType": "instance", "tags": [{"key": "Finance", "value": "WebServers"}]}]}},
                {"requestId": "10000000-0000-4000-8000-000000000002", "reservationId": "r-0example000000009",
                 "ownerId": ACCOUNT, "groupSet": {},
                 "instancesSet": {"items": [{"instanceId": I9, "imageId": "ami-0example0000000001",
                                             "instanceState": {"code": 0, "name": "pending"},
                                             "instanceType": "t3.micro",
                                             "tagSet": {"items": [{"key": "Finance", "value": "WebServers"}]}}]}},
                "t0000000-0000-4000-8000-000000000002")
UNTAG_I3 = ec2("2024-09-03T09:45:00Z", "DeleteTags", DAVE,
               {"resourcesSet": {"items": [{"resourceId": I3}]}, "tagSet": tag_items([("Finance", None)])},
               {"requestId": "10000000-0000-4000-8000-000000000003", "_return": True},
               "t0000000-0000-4000-8000-000000000003")

day1 = [
    start("2024-09-02T09:05:11Z", ALICE, I1, S_ALICE),
    noise("2024-09-02T09:05:30Z", "ec2.amazonaws.com", "DescribeInstances", ALICE),
    noise("2024-09-02T09:06:00Z", "ssm.amazonaws.com", "DescribeInstanceInformation", ALICE),
    end("2024-09-02T09:20:42Z", ALICE, S_ALICE),
    start("2024-09-02T10:00:03Z", BOB, I2, "", error=denied(BOB, "StartSession", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{I2}",
                                                     "with an explicit deny in an identity-based policy")),
    start("2024-09-02T10:01:15Z", BOB, I1, S_BOB),
    end("2024-09-02T10:30:00Z", ALICE, S_BOB),
    rec("2024-09-02T10:31:00Z", "StartSession", ALICE, {"sessionId": "athena-1"}, None, None, "athena.amazonaws.com"),
]
day2 = [
    start("2024-09-03T08:00:00Z", CAROL, I3, S_CAROL, doc="AWS-StartPortForwardingSession"),
    end("2024-09-03T08:10:00Z", CAROL, S_CAROL, name="ResumeSession"),
    end("2024-09-03T08:40:00Z", CAROL, S_CAROL),
    rec("2024-09-03T08:41:00Z", "DescribeSessions", DAVE, {"state": "Active"}, None),
    rec("2024-09-03T08:42:00Z", "GetConnectionStatus", DAVE, {"target": I1}, {"target": I1, "status": "connected"}),
    start("2024-09-03T08:43:00Z", DAVE, MI, S_DAVE),
    rec("2024-09-03T09:00:00Z", "DescribeSessions", BOB, {"state": "History"}, None,
        denied(BOB, "DescribeSessions", "*")),
    start("2024-09-03T09:15:00Z", ALICE, I9, "alice-1f2e3d4c5b6a79880"),
    start("2024-09-03T09:16:00Z", BOB, I1, "", error=("TargetNotConnected", f"{I1} is not connected.")),
    end("2024-09-03T09:30:00Z", BOB, "bob-started-before-this-archive-0001"),
]
dup = day2[3]

def write(day, stamp, suffix, records, pretty=False):
    d = f"{ROOT}/{ACCOUNT}/CloudTrail/{REGION}/2024/09/{day}"
    os.makedirs(d, exist_ok=True)
    path = f"{d}/{ACCOUNT}_CloudTrail_{REGION}_{stamp}_{suffix}.json.gz"
    body = json.dumps({"Records": records}, indent=2 if pretty else None, separators=None if pretty else (",", ":"))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
        g.write(body.encode())
    open(path, "wb").write(buf.getvalue())

write("02", "20240902T0905Z", "Q1w2E3r4T5y6U7i8", day1[:4])
write("02", "20240902T1000Z", "A1s2D3f4G5h6J7k8", day1[4:6] + [TAG_FAILED] + day1[6:])
write("03", "20240903T0800Z", "Z1x2C3v4B5n6M7q8", day2[:6], pretty=True)
write("03", "20240903T0900Z", "P0o9I8u7Y6t5R4e3", day2[6:7] + [LAUNCH_I9] + day2[7:] + [UNTAG_I3, dup])
dig = f"{ROOT}/{ACCOUNT}/CloudTrail-Digest/{REGION}/2024/09/03"
os.makedirs(dig, exist_ok=True)
buf = io.BytesIO()
with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
    g.write(json.dumps({"awsAccountId": ACCOUNT, "digestStartTime": "2024-09-03T08:00:00Z",
                        "digestEndTime": "2024-09-03T09:00:00Z", "logFiles": []}).encode())
open(f"{dig}/{ACCOUNT}_CloudTrail-Digest_{REGION}_trail_{REGION}_20240903T090000Z.json.gz", "wb").write(buf.getvalue())
print("wrote", n, "records")
