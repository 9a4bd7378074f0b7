"""Writes `unload-samples.json`: the records of samples/AWSLogs as rows of Athena's CloudTrail
table (Amazon Athena User Guide, "Create the table for CloudTrail logs in Athena using partition
projection"), the way `UNLOAD (SELECT * ...) WITH (format = 'JSON')` writes them: one object per
line, the table's lower-case names, every column present (null when the record lacks it), the
JSON-text columns as strings, `readonly` as a string, the partition column `timestamp` added.

This is written from the table's definition, not captured from Athena (no Athena account here):
see contrib/athena/README.md. Run from the repository root: python3 tests/data/athena/make.py
"""
import glob
import gzip
import json

USER_IDENTITY = ["type", "principalid", "arn", "accountid", "invokedby", "accesskeyid",
                 "username", "onbehalfof", "sessioncontext"]
COLUMNS = ["eventversion", "useridentity", "eventtime", "eventsource", "eventname", "awsregion",
           "sourceipaddress", "useragent", "errorcode", "errormessage", "requestparameters",
           "responseelements", "additionaleventdata", "requestid", "eventid", "readonly",
           "resources", "eventtype", "apiversion", "recipientaccountid", "serviceeventdetails",
           "sharedeventid", "vpcendpointid", "vpcendpointaccountid", "eventcategory",
           "addendum", "sessioncredentialfromconsole", "edgedevicedetails", "tlsdetails"]
JSON_TEXT = {"requestparameters", "responseelements", "additionaleventdata",
             "serviceeventdetails", "edgedevicedetails"}


def lower(v):
    if isinstance(v, dict):
        return {k.lower(): lower(x) for k, x in v.items()}
    if isinstance(v, list):
        return [lower(x) for x in v]
    return v


def row(rec, partition):
    low = {k.lower(): v for k, v in rec.items()}
    out = {}
    for c in COLUMNS:
        v = low.get(c)
        if c in JSON_TEXT:
            out[c] = None if v is None else json.dumps(v)
        elif c == "readonly":
            out[c] = None if v is None else str(v).lower()
        elif c == "useridentity":
            ui = lower(v or {})
            sc = ui.get("sessioncontext")
            if sc is not None:
                sc = {"attributes": sc.get("attributes"),
                      "sessionissuer": sc.get("sessionissuer"),
                      "ec2roledelivery": sc.get("ec2roledelivery"),
                      "webidfederationdata": sc.get("webidfederationdata")}
            ui["sessioncontext"] = sc
            out[c] = {k: ui.get(k) for k in USER_IDENTITY}
        else:
            out[c] = lower(v) if isinstance(v, (dict, list)) else v
    out["timestamp"] = partition
    return out


with open("tests/data/athena/unload-samples.json", "w") as f:
    for path in sorted(glob.glob("samples/AWSLogs/**/CloudTrail/**/*.json.gz", recursive=True)):
        partition = "/".join(path.split("/")[-4:-1])
        for rec in json.loads(gzip.decompress(open(path, "rb").read()))["Records"]:
            # contrib/athena/select_sessions.sql: session calls, and successful calls that
            # change tags.
            tagging = (rec.get("eventSource"), rec.get("eventName")) in {
                ("ec2.amazonaws.com", "CreateTags"), ("ec2.amazonaws.com", "DeleteTags"),
                ("ec2.amazonaws.com", "RunInstances"), ("ssm.amazonaws.com", "AddTagsToResource"),
                ("ssm.amazonaws.com", "RemoveTagsFromResource")}
            if (tagging and not rec.get("errorCode")) or (
                    rec.get("eventSource") == "ssm.amazonaws.com" and rec.get("eventName") in {
                        "StartSession", "TerminateSession", "ResumeSession", "DescribeSessions",
                        "GetConnectionStatus"}):
                f.write(json.dumps(row(rec, partition), separators=(",", ":")) + "\n")
