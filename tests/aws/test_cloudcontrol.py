"""Tests of the Cloud Control emulator (server.py and cloudcontrol.py).

    .venv/bin/python tests/aws/test_cloudcontrol.py [-v]

Starts server.py on a free loopback port as a subprocess (CLOUDCONTROL_DELAY_MS=100) and stops it
at the end; the auth test starts a second one with INITIAL_NO_AUTH_ACTION_COUNT. Drives Cloud
Control with boto3's `cloudcontrol` client.

Invariants: every effect of a Cloud Control request is checked through the service's own API
(ec2, s3, iam, sqs, dynamodb, logs), never through Cloud Control; each test uses its own resource
names, so the tests are independent of each other's order; a test that sets a fault knob resets
the knobs when it ends.
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT = "123456789012"
TAGS = [{"Key": "rkit-test", "Value": "cloudcontrol"}]
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "ec2.amazonaws.com"}}]}
ALLOW_ALL = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
VPC, SUBNET, SG = "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup"
BUCKET, ROLE, QUEUE = "AWS::S3::Bucket", "AWS::IAM::Role", "AWS::SQS::Queue"
TABLE, LOG_GROUP = "AWS::DynamoDB::Table", "AWS::Logs::LogGroup"
TERMINAL = ("SUCCESS", "FAILED", "CANCEL_COMPLETE")


class Server:
    """server.py on a free loopback port, with extra environment; stopped by stop()."""

    def __init__(self, **env):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="cloudcontrol-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "server.py"), "-H", "127.0.0.1", "-p", str(self.port)],
            env={**os.environ, "CLOUDCONTROL_DELAY_MS": "100", **env},
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait_listening()

    def _wait_listening(self):
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server.py exited: {open(self.log.name).read()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server.py did not listen within 30 s")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.unlink(self.log.name)

    def client(self, service, key=("testing", "testing"), **config):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=key[0], aws_secret_access_key=key[1],
                            config=Config(**config) if config else None)

    def control(self, **knobs):
        """CloudApiService.TestControl: sets the fault knobs, answers their state."""
        request = urllib.request.Request(self.endpoint, data=json.dumps(knobs).encode(), headers={
            "X-Amz-Target": "CloudApiService.TestControl", "Content-Type": "application/x-amz-json-1.0"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


SERVER = None


def setUpModule():
    global SERVER
    SERVER = Server()


def tearDownModule():
    SERVER.stop()


def tags(tag_list):
    return {t["Key"]: t["Value"] for t in tag_list or []}


def error_code(context):
    return context.exception.response["Error"]["Code"]


class CloudControlCase(unittest.TestCase):
    """Cloud Control helpers: start a request, poll it, read and list through Cloud Control."""

    @classmethod
    def setUpClass(cls):
        cls.cc = SERVER.client("cloudcontrol")
        for service in ("ec2", "s3", "iam", "sqs", "dynamodb", "logs", "sts"):
            setattr(cls, service, SERVER.client(service))

    def wait(self, token, timeout=10):
        deadline = time.time() + timeout
        while True:
            event = self.cc.get_resource_request_status(RequestToken=token)["ProgressEvent"]
            if event["OperationStatus"] in TERMINAL or time.time() > deadline:
                return event
            time.sleep(0.05)

    def request(self, call, **params):
        """Runs a mutating call: it answers IN_PROGRESS at once; returns the final event."""
        event = call(**params)["ProgressEvent"]
        self.assertEqual(event["OperationStatus"], "IN_PROGRESS")
        return self.wait(event["RequestToken"])

    def succeed(self, call, **params):
        event = self.request(call, **params)
        self.assertEqual(event["OperationStatus"], "SUCCESS", event)
        return event

    def create(self, type_name, desired):
        event = self.succeed(self.cc.create_resource, TypeName=type_name, DesiredState=json.dumps(desired))
        self.assertEqual(json.loads(event["ResourceModel"])[self.primary(type_name)], event["Identifier"])
        return event["Identifier"]

    def update(self, type_name, ident, patch):
        return self.succeed(self.cc.update_resource, TypeName=type_name, Identifier=ident,
                            PatchDocument=json.dumps(patch))

    def delete(self, type_name, ident):
        return self.succeed(self.cc.delete_resource, TypeName=type_name, Identifier=ident)

    def props(self, type_name, ident):
        description = self.cc.get_resource(TypeName=type_name, Identifier=ident)["ResourceDescription"]
        self.assertEqual(description["Identifier"], ident)
        return json.loads(description["Properties"])

    def listed(self, type_name, **params):
        """Identifier -> properties of every resource ListResources gives, over all pages."""
        found, token = {}, None
        while True:
            more = {"NextToken": token} if token else {}
            page = self.cc.list_resources(TypeName=type_name, **params, **more)
            found.update({d["Identifier"]: json.loads(d["Properties"]) for d in page["ResourceDescriptions"]})
            token = page.get("NextToken")
            if not token:
                return found

    @staticmethod
    def primary(type_name):
        return {VPC: "VpcId", SUBNET: "SubnetId", SG: "Id", BUCKET: "BucketName", ROLE: "RoleName",
                QUEUE: "QueueUrl", TABLE: "TableName", LOG_GROUP: "LogGroupName"}[type_name]

    def lifecycle(self, type_name, desired, patch, created, read, updated, gone):
        """Create, check through the service, GetResource, list, update, check, delete, check."""
        ident = self.create(type_name, desired)
        created(ident)
        props = self.props(type_name, ident)
        for key, value in desired.items():
            self.assertEqual(tags(props[key]) if key == "Tags" else props[key],
                             tags(value) if key == "Tags" else value, key)
        read(props)
        self.assertIn(ident, self.listed(type_name))
        self.update(type_name, ident, patch)
        updated(ident)
        self.delete(type_name, ident)
        gone(ident)
        with self.assertRaises(ClientError) as e:
            self.cc.get_resource(TypeName=type_name, Identifier=ident)
        self.assertEqual(error_code(e), "ResourceNotFoundException")
        self.assertNotIn(ident, self.listed(type_name))


class ResourceTypes(CloudControlCase):
    """Each type's create/read/update/list/delete, seen through the service's own API."""

    def test_vpc(self):
        def vpc(vpc_id):
            return self.ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]

        def dns_hostnames(vpc_id):
            attribute = self.ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute="enableDnsHostnames")
            return attribute["EnableDnsHostnames"]["Value"]

        def created(vpc_id):
            self.assertEqual(vpc(vpc_id)["CidrBlock"], "10.10.0.0/16")
            self.assertEqual(tags(vpc(vpc_id)["Tags"]), tags(TAGS))
            self.assertFalse(dns_hostnames(vpc_id))

        def read(props):
            self.assertEqual((props["EnableDnsSupport"], props["EnableDnsHostnames"]), (True, False))
            self.assertEqual(props["InstanceTenancy"], "default")
            self.assertTrue(props["DefaultSecurityGroup"].startswith("sg-"))
            self.assertTrue(props["DefaultNetworkAcl"].startswith("acl-"))

        def updated(vpc_id):
            self.assertTrue(dns_hostnames(vpc_id))
            self.assertEqual(tags(vpc(vpc_id)["Tags"]), {**tags(TAGS), "stage": "2"})

        def gone(vpc_id):
            filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
            self.assertEqual(self.ec2.describe_vpcs(Filters=filters)["Vpcs"], [])

        patch = [{"op": "replace", "path": "/EnableDnsHostnames", "value": True},
                 {"op": "add", "path": "/Tags/-", "value": {"Key": "stage", "Value": "2"}}]
        self.lifecycle(VPC, {"CidrBlock": "10.10.0.0/16", "Tags": TAGS}, patch, created, read, updated, gone)

    def test_subnet(self):
        vpc_id = self.ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
        self.addCleanup(self.ec2.delete_vpc, VpcId=vpc_id)

        def subnet(subnet_id):
            return self.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]

        def created(subnet_id):
            found = subnet(subnet_id)
            self.assertEqual((found["VpcId"], found["CidrBlock"]), (vpc_id, "10.20.1.0/24"))
            self.assertEqual(found["AvailabilityZone"], "us-east-1b")
            self.assertFalse(found["MapPublicIpOnLaunch"])
            self.assertEqual(tags(found["Tags"]), tags(TAGS))

        def read(props):
            self.assertIs(props["MapPublicIpOnLaunch"], False)
            self.assertTrue(props["AvailabilityZoneId"])
            self.assertTrue(props["NetworkAclAssociationId"].startswith("aclassoc-"))

        def gone(subnet_id):
            filters = [{"Name": "subnet-id", "Values": [subnet_id]}]
            self.assertEqual(self.ec2.describe_subnets(Filters=filters)["Subnets"], [])

        desired = {"VpcId": vpc_id, "CidrBlock": "10.20.1.0/24", "AvailabilityZone": "us-east-1b",
                   "Tags": TAGS}
        patch = [{"op": "replace", "path": "/MapPublicIpOnLaunch", "value": True}]
        self.lifecycle(SUBNET, desired, patch, created, read,
                       lambda subnet_id: self.assertTrue(subnet(subnet_id)["MapPublicIpOnLaunch"]), gone)

    def test_security_group(self):
        vpc_id = self.ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
        self.addCleanup(self.ec2.delete_vpc, VpcId=vpc_id)
        ssh = {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "CidrIp": "10.0.0.0/8",
               "Description": "ssh"}
        https = {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "CidrIp": "0.0.0.0/0"}

        def group(group_id):
            return self.ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]

        def rules(permissions):
            return sorted((p["IpProtocol"], p.get("FromPort"), r["CidrIp"], r.get("Description"))
                          for p in permissions for r in p["IpRanges"])

        def created(group_id):
            found = group(group_id)
            self.assertEqual((found["GroupName"], found["VpcId"]), ("cc-test-sg", vpc_id))
            self.assertEqual(rules(found["IpPermissions"]), [("tcp", 22, "10.0.0.0/8", "ssh")])
            self.assertEqual(rules(found["IpPermissionsEgress"]), [("-1", None, "0.0.0.0/0", None)])
            self.assertEqual(tags(found["Tags"]), tags(TAGS))

        def read(props):
            self.assertEqual(props["GroupId"], props["Id"])
            self.assertEqual(props["SecurityGroupEgress"],
                             [{"IpProtocol": "-1", "FromPort": -1, "ToPort": -1, "CidrIp": "0.0.0.0/0"}])

        def updated(group_id):
            found = group(group_id)
            self.assertEqual(rules(found["IpPermissions"]), [("tcp", 443, "0.0.0.0/0", None)])
            self.assertEqual(rules(found["IpPermissionsEgress"]), [("tcp", 443, "0.0.0.0/0", None)])

        def gone(group_id):
            filters = [{"Name": "group-id", "Values": [group_id]}]
            self.assertEqual(self.ec2.describe_security_groups(Filters=filters)["SecurityGroups"], [])

        desired = {"GroupDescription": "cloudcontrol test", "GroupName": "cc-test-sg", "VpcId": vpc_id,
                   "SecurityGroupIngress": [ssh], "Tags": TAGS}
        patch = [{"op": "replace", "path": "/SecurityGroupIngress", "value": [https]},
                 {"op": "replace", "path": "/SecurityGroupEgress", "value": [https]}]
        self.lifecycle(SG, desired, patch, created, read, updated, gone)

    def test_bucket(self):
        name = "cc-test-bucket"

        def created(ident):
            self.assertEqual(ident, name)
            self.assertEqual(self.s3.get_bucket_versioning(Bucket=name)["Status"], "Enabled")
            self.assertEqual(tags(self.s3.get_bucket_tagging(Bucket=name)["TagSet"]), tags(TAGS))
            rule = self.s3.get_bucket_encryption(Bucket=name)["ServerSideEncryptionConfiguration"]["Rules"][0]
            self.assertEqual(rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
            block = self.s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
            self.assertTrue(all(block.values()))

        def read(props):
            self.assertEqual(props["Arn"], f"arn:aws:s3:::{name}")
            self.assertEqual(props["DomainName"], f"{name}.s3.amazonaws.com")
            ownership = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
            self.assertEqual(props["OwnershipControls"], ownership)
            self.assertEqual(self.listed(BUCKET)[name], {"BucketName": name})

        def updated(_):
            self.assertEqual(self.s3.get_bucket_versioning(Bucket=name)["Status"], "Suspended")
            tag_set = self.s3.get_bucket_tagging(Bucket=name)["TagSet"]
            self.assertEqual(tags(tag_set), {"rkit-test": "updated"})

        def gone(_):
            with self.assertRaises(ClientError) as e:
                self.s3.head_bucket(Bucket=name)
            self.assertEqual(error_code(e), "404")

        desired = {"BucketName": name, "VersioningConfiguration": {"Status": "Enabled"}, "Tags": TAGS}
        patch = [{"op": "replace", "path": "/VersioningConfiguration/Status", "value": "Suspended"},
                 {"op": "replace", "path": "/Tags", "value": [{"Key": "rkit-test", "Value": "updated"}]}]
        self.lifecycle(BUCKET, desired, patch, created, read, updated, gone)

    def test_role(self):
        name = "cc-test-role"
        policy = {"Version": "2012-10-17",
                  "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}

        def created(ident):
            role = self.iam.get_role(RoleName=name)["Role"]
            self.assertEqual((role["Description"], role["MaxSessionDuration"]), ("first", 3600))
            self.assertEqual(tags(self.iam.list_role_tags(RoleName=name)["Tags"]), tags(TAGS))
            document = self.iam.get_role_policy(RoleName=name, PolicyName="read")["PolicyDocument"]
            self.assertEqual(document, policy)

        def read(props):
            self.assertEqual(props["Arn"], f"arn:aws:iam::{ACCOUNT}:role/{name}")
            self.assertTrue(props["RoleId"].startswith("AROA"))
            self.assertEqual((props["Path"], props["MaxSessionDuration"]), ("/", 3600))

        def updated(_):
            role = self.iam.get_role(RoleName=name)["Role"]
            self.assertEqual((role["Description"], role["MaxSessionDuration"]), ("second", 7200))
            self.assertEqual(self.iam.list_role_policies(RoleName=name)["PolicyNames"], [])

        def gone(_):
            with self.assertRaises(ClientError) as e:
                self.iam.get_role(RoleName=name)
            self.assertEqual(error_code(e), "NoSuchEntity")

        desired = {"RoleName": name, "AssumeRolePolicyDocument": TRUST, "Description": "first",
                   "Policies": [{"PolicyName": "read", "PolicyDocument": policy}], "Tags": TAGS}
        patch = [{"op": "replace", "path": "/Description", "value": "second"},
                 {"op": "replace", "path": "/MaxSessionDuration", "value": 7200},
                 {"op": "remove", "path": "/Policies"}]
        self.lifecycle(ROLE, desired, patch, created, read, updated, gone)

    def test_queue(self):
        name = "cc-test-queue"

        def attribute(name_, attribute_name):
            url = self.sqs.get_queue_url(QueueName=name_)["QueueUrl"]
            found = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[attribute_name])
            return found["Attributes"][attribute_name]

        def created(ident):
            self.assertEqual(ident, f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/{name}")
            self.assertEqual(attribute(name, "VisibilityTimeout"), "45")
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            self.assertEqual(self.sqs.list_queue_tags(QueueUrl=url)["Tags"], tags(TAGS))

        def read(props):
            self.assertEqual(props["Arn"], f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}")
            self.assertEqual((props["MessageRetentionPeriod"], props["DelaySeconds"]), (345600, 0))

        def gone(_):
            with self.assertRaises(ClientError) as e:
                self.sqs.get_queue_url(QueueName=name)
            self.assertIn("NonExistentQueue", error_code(e))

        patch = [{"op": "replace", "path": "/VisibilityTimeout", "value": 90}]
        self.lifecycle(QUEUE, {"QueueName": name, "VisibilityTimeout": 45, "Tags": TAGS}, patch, created,
                       read, lambda _: self.assertEqual(attribute(name, "VisibilityTimeout"), "90"), gone)

    def test_table(self):
        name = "cc-test-table"

        def table():
            return self.dynamodb.describe_table(TableName=name)["Table"]

        def created(_):
            self.assertEqual(table()["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
            listed = self.dynamodb.list_tags_of_resource(ResourceArn=table()["TableArn"])["Tags"]
            self.assertEqual(tags(listed), tags(TAGS))

        def read(props):
            self.assertEqual(props["Arn"], f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}")
            self.assertIs(props["DeletionProtectionEnabled"], False)

        def updated(_):
            self.assertEqual(table()["BillingModeSummary"]["BillingMode"], "PROVISIONED")
            self.assertEqual(table()["ProvisionedThroughput"]["ReadCapacityUnits"], 5)

        def gone(_):
            with self.assertRaises(ClientError) as e:
                table()
            self.assertEqual(error_code(e), "ResourceNotFoundException")

        desired = {"TableName": name, "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                   "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                   "BillingMode": "PAY_PER_REQUEST", "Tags": TAGS}
        patch = [{"op": "replace", "path": "/BillingMode", "value": "PROVISIONED"},
                 {"op": "add", "path": "/ProvisionedThroughput",
                  "value": {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}}]
        self.lifecycle(TABLE, desired, patch, created, read, updated, gone)

    def test_log_group(self):
        name = "/rkit/cc-test"

        def groups():
            return self.logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]

        def created(_):
            self.assertEqual([g["retentionInDays"] for g in groups()], [7])
            self.assertEqual(self.logs.list_tags_log_group(logGroupName=name)["tags"], tags(TAGS))

        def read(props):
            self.assertEqual(props["Arn"], f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:{name}:*")
            self.assertEqual(props["LogGroupClass"], "STANDARD")

        def updated(_):
            self.assertEqual([g["retentionInDays"] for g in groups()], [30])

        patch = [{"op": "replace", "path": "/RetentionInDays", "value": 30}]
        self.lifecycle(LOG_GROUP, {"LogGroupName": name, "RetentionInDays": 7, "Tags": TAGS}, patch,
                       created, read, updated, lambda _: self.assertEqual(groups(), []))


class Requests(CloudControlCase):
    """Idempotency, faults, cancellation, errors and paging, as the real service behaves."""

    def tearDown(self):
        SERVER.control(Reset=True)

    def groups(self, prefix):
        found = self.logs.describe_log_groups(logGroupNamePrefix=prefix)["logGroups"]
        return [g["logGroupName"] for g in found]

    def test_same_client_token_makes_one_object(self):
        params = dict(TypeName=LOG_GROUP, DesiredState=json.dumps({"LogGroupName": "/rkit/once"}),
                      ClientToken="rkit-once-1")
        first = self.cc.create_resource(**params)["ProgressEvent"]
        again = self.cc.create_resource(**params)["ProgressEvent"]
        self.assertEqual(again["RequestToken"], first["RequestToken"])
        self.assertEqual(self.wait(first["RequestToken"])["OperationStatus"], "SUCCESS")
        after = self.cc.create_resource(**params)["ProgressEvent"]
        self.assertEqual((after["RequestToken"], after["OperationStatus"]),
                         (first["RequestToken"], "SUCCESS"))
        self.assertEqual(self.groups("/rkit/once"), ["/rkit/once"])

    def test_conflicting_client_token_is_refused(self):
        self.cc.create_resource(TypeName=LOG_GROUP, DesiredState=json.dumps({"LogGroupName": "/rkit/c1"}),
                                ClientToken="rkit-conflict")
        with self.assertRaises(ClientError) as e:
            self.cc.create_resource(TypeName=LOG_GROUP, DesiredState=json.dumps({"LogGroupName": "/rkit/c2"}),
                                    ClientToken="rkit-conflict")
        self.assertEqual(error_code(e), "ClientTokenConflictException")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_stuck_request_is_cancelled(self):
        SERVER.control(StuckTypes=[QUEUE])
        event = self.cc.create_resource(TypeName=QUEUE, DesiredState=json.dumps({"QueueName": "cc-stuck"}))
        token = event["ProgressEvent"]["RequestToken"]
        time.sleep(0.5)
        self.assertEqual(self.wait(token, timeout=0)["OperationStatus"], "IN_PROGRESS")
        self.assertNotIn("QueueUrls", self.sqs.list_queues(QueueNamePrefix="cc-stuck"))
        cancelled = self.cc.cancel_resource_request(RequestToken=token)["ProgressEvent"]
        self.assertEqual(cancelled["OperationStatus"], "CANCEL_IN_PROGRESS")
        self.assertEqual(self.wait(token)["OperationStatus"], "CANCEL_COMPLETE")
        with self.assertRaises(ClientError) as e:
            self.cc.cancel_resource_request(RequestToken=token)
        self.assertEqual(error_code(e), "ConcurrentModificationException")
        cancelled_only = {"OperationStatuses": ["CANCEL_COMPLETE"]}
        summaries = self.cc.list_resource_requests(
            ResourceRequestStatusFilter=cancelled_only)["ResourceRequestStatusSummaries"]
        self.assertIn(token, [s["RequestToken"] for s in summaries])
        SERVER.control(Reset=True)
        time.sleep(0.3)
        self.assertNotIn("QueueUrls", self.sqs.list_queues(QueueNamePrefix="cc-stuck"))

    def test_unfinished_request_blocks_the_resource(self):
        self.logs.create_log_group(logGroupName="/rkit/busy")
        SERVER.control(StuckTypes=[LOG_GROUP])
        first = self.cc.delete_resource(TypeName=LOG_GROUP, Identifier="/rkit/busy")["ProgressEvent"]
        with self.assertRaises(ClientError) as e:
            self.cc.delete_resource(TypeName=LOG_GROUP, Identifier="/rkit/busy")
        self.assertEqual(error_code(e), "ConcurrentOperationException")
        self.cc.cancel_resource_request(RequestToken=first["RequestToken"])
        SERVER.control(Reset=True)
        self.delete(LOG_GROUP, "/rkit/busy")
        self.assertEqual(self.groups("/rkit/busy"), [])

    def test_throttling_answers_as_aws(self):
        SERVER.control(ThrottleNext=2)
        once = SERVER.client("cloudcontrol", retries={"total_max_attempts": 1, "mode": "standard"})
        with self.assertRaises(ClientError) as e:
            once.list_resources(TypeName=LOG_GROUP)
        self.assertEqual(error_code(e), "ThrottlingException")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        retrying = SERVER.client("cloudcontrol", retries={"total_max_attempts": 3, "mode": "standard"})
        response = retrying.list_resources(TypeName=LOG_GROUP)  # one more throttle, then served
        self.assertEqual(response["ResponseMetadata"]["RetryAttempts"], 1)

    def test_handler_throttling_fails_the_request(self):
        SERVER.control(HandlerThrottleNext=1)
        desired = json.dumps({"LogGroupName": "/rkit/throttled"})
        event = self.request(self.cc.create_resource, TypeName=LOG_GROUP, DesiredState=desired)
        self.assertEqual((event["OperationStatus"], event["ErrorCode"]), ("FAILED", "Throttling"))
        self.assertEqual(self.groups("/rkit/throttled"), [])
        ident = self.create(LOG_GROUP, {"LogGroupName": "/rkit/throttled"})
        self.delete(LOG_GROUP, ident)

    def test_injected_failure(self):
        SERVER.control(FailTypes={VPC: "NotStabilized"})
        desired = json.dumps({"CidrBlock": "10.99.0.0/16"})
        event = self.request(self.cc.create_resource, TypeName=VPC, DesiredState=desired)
        self.assertEqual((event["OperationStatus"], event["ErrorCode"]), ("FAILED", "NotStabilized"))
        filters = [{"Name": "cidr", "Values": ["10.99.0.0/16"]}]
        self.assertEqual(self.ec2.describe_vpcs(Filters=filters)["Vpcs"], [])

    def test_type_errors(self):
        for type_name, code in (("AWS::Nope::Thing", "TypeNotFoundException"),
                                ("AWS::SNS::Topic", "UnsupportedActionException")):
            with self.assertRaises(ClientError) as e:
                self.cc.create_resource(TypeName=type_name, DesiredState="{}")
            self.assertEqual(error_code(e), code)

    def test_missing_resources(self):
        with self.assertRaises(ClientError) as e:
            self.cc.get_resource(TypeName=VPC, Identifier="vpc-00000000")
        self.assertEqual(error_code(e), "ResourceNotFoundException")
        with self.assertRaises(ClientError) as e:
            self.cc.update_resource(TypeName=VPC, Identifier="vpc-00000000", PatchDocument="[]")
        self.assertEqual(error_code(e), "ResourceNotFoundException")
        with self.assertRaises(ClientError) as e:
            self.cc.get_resource_request_status(RequestToken="no-such-token")
        self.assertEqual(error_code(e), "RequestTokenNotFoundException")
        event = self.request(self.cc.delete_resource, TypeName=VPC, Identifier="vpc-00000000")
        self.assertEqual((event["OperationStatus"], event["ErrorCode"]), ("FAILED", "NotFound"))

    def test_model_validation_and_existing_names(self):
        desired = json.dumps({"LogGroupName": "/rkit/bad", "Colour": "blue"})
        event = self.request(self.cc.create_resource, TypeName=LOG_GROUP, DesiredState=desired)
        self.assertEqual((event["OperationStatus"], event["ErrorCode"]), ("FAILED", "InvalidRequest"))
        self.assertIn("extraneous key [Colour]", event["StatusMessage"])
        self.s3.create_bucket(Bucket="cc-existing")
        desired = json.dumps({"BucketName": "cc-existing"})
        event = self.request(self.cc.create_resource, TypeName=BUCKET, DesiredState=desired)
        self.assertEqual((event["OperationStatus"], event["ErrorCode"]), ("FAILED", "AlreadyExists"))
        self.s3.delete_bucket(Bucket="cc-existing")

    def test_create_only_property_is_not_updatable(self):
        ident = self.create(QUEUE, {"QueueName": "cc-create-only"})
        with self.assertRaises(ClientError) as e:
            self.cc.update_resource(TypeName=QUEUE, Identifier=ident, PatchDocument=json.dumps(
                [{"op": "replace", "path": "/QueueName", "value": "cc-renamed"}]))
        self.assertEqual(error_code(e), "NotUpdatableException")
        self.delete(QUEUE, ident)

    def test_list_pages(self):
        names = [f"/rkit/page-{i}" for i in range(5)]
        for name in names:
            self.logs.create_log_group(logGroupName=name)
        first = self.cc.list_resources(TypeName=LOG_GROUP, MaxResults=2)
        self.assertEqual(len(first["ResourceDescriptions"]), 2)
        self.assertIn("NextToken", first)
        self.assertTrue(set(names) <= set(self.listed(LOG_GROUP, MaxResults=2)))
        for name in names:
            self.logs.delete_log_group(logGroupName=name)


class Passthrough(CloudControlCase):
    def test_moto_apis_still_work(self):
        self.assertTrue(self.ec2.describe_vpcs()["Vpcs"])
        self.assertEqual(self.sts.get_caller_identity()["Account"], ACCOUNT)
        self.assertIn("Buckets", self.s3.list_buckets())
        self.assertIn("TableNames", self.dynamodb.list_tables())


class Auth(unittest.TestCase):
    """INITIAL_NO_AUTH_ACTION_COUNT: past the count, Cloud Control checks keys and permissions."""

    def test_keys_and_permissions_are_checked(self):
        server = Server(INITIAL_NO_AUTH_ACTION_COUNT="5")
        try:
            iam = server.client("iam")  # the 5 calls below are the unauthenticated ones
            keys = {}
            for user in ("cc-admin", "cc-nobody"):
                iam.create_user(UserName=user)
                key = iam.create_access_key(UserName=user)["AccessKey"]
                keys[user] = (key["AccessKeyId"], key["SecretAccessKey"])
            iam.put_user_policy(UserName="cc-admin", PolicyName="all", PolicyDocument=json.dumps(ALLOW_ALL))
            listed = server.client("cloudcontrol", key=keys["cc-admin"]).list_resources(TypeName=LOG_GROUP)
            self.assertEqual(listed["ResourceDescriptions"], [])
            for key, code in ((keys["cc-nobody"], "AccessDeniedException"),
                              (("AKIAUNKNOWNKEY000000", "x"), "UnrecognizedClientException")):
                with self.assertRaises(ClientError) as e:
                    server.client("cloudcontrol", key=key).list_resources(TypeName=LOG_GROUP)
                self.assertEqual(error_code(e), code)
        finally:
            server.stop()


if __name__ == "__main__":
    unittest.main()
