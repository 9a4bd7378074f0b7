#!/usr/bin/env python3
"""Writes the encoding fixtures: one StartSession record saved the ways people save exports.

Run from this directory: python3 make.py (deterministic)."""
import gzip, io, json

rec = {"eventVersion": "1.09",
       "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLEUSER00001", "arn": "arn:aws:iam::123456789012:user/alice",
                        "accountId": "123456789012", "accessKeyId": "AKIAEXAMPLE000000001", "userName": "alice"},
       "eventTime": "2024-10-02T10:00:00Z", "eventSource": "ssm.amazonaws.com", "eventName": "StartSession",
       "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.10", "userAgent": "aws-cli/2.17.0",
       "requestParameters": {"target": "i-0123456789abcdef0"},
       "responseElements": {"sessionId": "alice-0123456789abcdef0", "tokenValue": "Value hidden due to security reasons.",
                            "streamUrl": "wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/alice-0123456789abcdef0?role=publish_subscribe"},
       "requestID": "11111111-2222-4333-8444-555555555555", "eventID": "f0000000-0000-4000-8000-000000000001",
       "readOnly": False, "eventType": "AwsApiCall", "managementEvent": True, "recipientAccountId": "123456789012",
       "eventCategory": "Management"}

# `aws cloudtrail lookup-events` output as Windows PowerShell 5.1 saves it: UTF-16LE, BOM, CRLF.
lookup = {"Events": [{"EventId": rec["eventID"], "EventName": "StartSession", "ReadOnly": "false",
                      "EventTime": "2024-10-02T10:00:00+00:00", "EventSource": "ssm.amazonaws.com", "Username": "alice",
                      "Resources": [], "CloudTrailEvent": json.dumps(rec)}]}
text = json.dumps(lookup, indent=4).replace("\n", "\r\n") + "\r\n"
open("lookup-events-utf16le-bom.json", "wb").write(b"\xff\xfe" + text.encode("utf-16-le"))
# The same export (another event) in UTF-16BE with a BOM, gzip-compressed.
r7 = dict(rec, eventID="f0000000-0000-4000-8000-000000000007", eventTime="2024-10-02T10:10:00Z")
lookup7 = {"Events": [dict(lookup["Events"][0], EventId=r7["eventID"], CloudTrailEvent=json.dumps(r7))]}
text7 = json.dumps(lookup7, indent=4).replace("\n", "\r\n") + "\r\n"
buf = io.BytesIO()
with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as g:
    g.write(b"\xfe\xff" + text7.encode("utf-16-be"))
open("lookup-events-utf16be-bom.json.gz", "wb").write(buf.getvalue())
# A trail file saved by an editor that adds a UTF-8 BOM.
r2 = dict(rec, eventID="f0000000-0000-4000-8000-000000000002", eventTime="2024-10-02T10:05:00Z")
open("trail-utf8-bom.json", "wb").write(b"\xef\xbb\xbf" + json.dumps({"Records": [r2]}).encode())
# UTF-16LE without a BOM.
r3 = dict(rec, eventID="f0000000-0000-4000-8000-000000000003", eventTime="2024-10-02T10:06:00Z")
open("trail-utf16le-no-bom.json", "wb").write(json.dumps({"Records": [r3]}).encode("utf-16-le"))
# A SIEM export: NDJSON named *.log, CRLF.
r4 = dict(rec, eventID="f0000000-0000-4000-8000-000000000004", eventTime="2024-10-02T10:07:00Z")
r5 = dict(rec, eventID="f0000000-0000-4000-8000-000000000005", eventTime="2024-10-02T10:08:00Z", eventName="TerminateSession",
          requestParameters={"sessionId": "alice-0123456789abcdef0"}, responseElements={"sessionId": "alice-0123456789abcdef0"})
open("siem-export.log", "wb").write((json.dumps(r4) + "\r\n" + json.dumps(r5) + "\r\n").encode())
# A role session whose record lost `sessionContext` to a jq filter.
r6 = dict(rec, eventID="f0000000-0000-4000-8000-000000000006", eventTime="2024-10-02T10:09:00Z",
          userIdentity={"type": "AssumedRole", "principalId": "AROAEXAMPLEOPSROLE01:carol",
                        "arn": "arn:aws:sts::123456789012:assumed-role/Ops/carol", "accountId": "123456789012"})
open("stripped-session-context.jsonl", "wb").write((json.dumps(r6) + "\n").encode())
# Notes that are not a log, and a UTF-32 file that cannot be read.
open("notes.txt", "w").write("not a log\n")
open("utf32.json", "wb").write(b"\xff\xfe\x00\x00" + json.dumps({"Records": []}).encode("utf-32-le"))
