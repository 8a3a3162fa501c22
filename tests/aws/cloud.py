"""What the services behind Cloud Control hold, read with boto3 (never through Cloud Control):
the independent view the awscc tests check rkit against (SQS, IAM, DynamoDB, EC2, S3).

    python tests/aws/cloud.py state
    python tests/aws/cloud.py set-queue NAME ATTRIBUTE VALUE

Run with AWS_ENDPOINT_URL pointing at the emulator (tests/aws/server.py). Prints JSON.
"""

import json
import os
import sys

import boto3


def client(service):
    return boto3.client(service, region_name=os.environ.get("AWS_REGION", "us-east-1"),
                        endpoint_url=os.environ["AWS_ENDPOINT_URL"])


def queues():
    sqs = client("sqs")
    out = {}
    for url in sqs.list_queues().get("QueueUrls", []):
        name = url.rsplit("/", 1)[1]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        tags = sqs.list_queue_tags(QueueUrl=url).get("Tags", {})
        out[name] = {"VisibilityTimeout": int(attrs["VisibilityTimeout"]),
                     "Arn": attrs["QueueArn"], "Tags": tags}
    return out


def roles():
    iam = client("iam")
    out = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        tags = iam.list_role_tags(RoleName=name).get("Tags", [])
        out[name] = {"Description": role.get("Description"),
                     "Tags": {t["Key"]: t["Value"] for t in tags}}
    return out


def tables():
    ddb = client("dynamodb")
    out = {}
    for name in ddb.list_tables()["TableNames"]:
        table = ddb.describe_table(TableName=name)["Table"]
        tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"]).get("Tags", [])
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        out[name] = {"BillingMode": billing, "Tags": {t["Key"]: t["Value"] for t in tags}}
    return out


def vpcs():
    ec2 = client("ec2")
    return {v["VpcId"]: v["CidrBlock"] for v in ec2.describe_vpcs()["Vpcs"] if not v["IsDefault"]}


def buckets():
    s3 = client("s3")
    out = {}
    for b in s3.list_buckets().get("Buckets", []):
        grants = s3.get_bucket_acl(Bucket=b["Name"])["Grants"]
        groups = sorted(g["Grantee"]["URI"].rsplit("/", 1)[1] for g in grants
                        if g["Grantee"].get("Type") == "Group")
        out[b["Name"]] = {"Groups": groups}
    return out


def state():
    return {"Queues": queues(), "Roles": roles(), "Tables": tables(), "Vpcs": vpcs(),
            "Buckets": buckets()}


def set_queue(name, attribute, value):
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={attribute: value})
    return {"QueueUrl": url}


if __name__ == "__main__":
    commands = {"state": state, "set-queue": set_queue}
    print(json.dumps(commands[sys.argv[1]](*sys.argv[2:])))
