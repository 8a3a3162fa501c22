"""The AWS Cloud Control API for the AWS tests, carried out on moto's own models.

moto implements the services behind Cloud Control but not Cloud Control itself. This module is
that API (service `cloudcontrolapi`, AWS JSON 1.0, `X-Amz-Target: CloudApiService.<Operation>`),
served by `server.py` on moto's port and in moto's process: every request is carried out on the
backends moto's own APIs serve, so what Cloud Control creates is then seen, and must be checked,
through EC2, IAM, S3, SQS, DynamoDB and CloudWatch Logs themselves.

Operations (as botocore's cloudcontrol 2021-09-30 model defines them):
  CreateResource, UpdateResource (RFC 6902 JSON Patch on the current model), DeleteResource,
  GetResourceRequestStatus, CancelResourceRequest, ListResourceRequests, GetResource,
  ListResources (paged: MaxResults, default 20; NextToken).
Types: AWS::EC2::VPC, AWS::EC2::Subnet, AWS::EC2::SecurityGroup, AWS::S3::Bucket, AWS::IAM::Role,
  AWS::SQS::Queue, AWS::DynamoDB::Table, AWS::Logs::LogGroup.

Semantics, as the real service:
- Create/Update/DeleteResource answer at once with a ProgressEvent IN_PROGRESS and a
  RequestToken. The work runs on a timer after `CLOUDCONTROL_DELAY_MS` (default 300, read per
  request); until then GetResourceRequestStatus says IN_PROGRESS, then SUCCESS (Identifier;
  ResourceModel, the full read model, for CREATE and UPDATE) or FAILED (ErrorCode, StatusMessage).
- Schema checks follow the CloudFormation registry schema of the type (the copy cfn-lint bundles):
  read-only properties in a desired state are ignored; a model that fails the schema is FAILED
  InvalidRequest "Model validation failed (...)"; a patch that changes a create-only or read-only
  property is refused at once with NotUpdatableException; UpdateResource of a missing resource
  is ResourceNotFoundException at once, DeleteResource of one is FAILED NotFound.
- Identifiers are the schema's primaryIdentifier (compound ones joined with `|`; a JSON object of
  the identifier properties is accepted too). Note: AWS::EC2::SecurityGroup's is `Id` (its value
  is the GroupId); AWS::SQS::Queue's is the URL as AWS writes it,
  https://sqs.REGION.amazonaws.com/ACCOUNT/NAME (any URL ending in /NAME is accepted).
- The same ClientToken with the same request returns the same request (the work is done once);
  with a different request it is ClientTokenConflictException. An update or delete while another
  request on the same resource is unfinished is ConcurrentOperationException.
- Only PENDING/IN_PROGRESS requests can be cancelled (else ConcurrentModificationException); a
  cancel answers CANCEL_IN_PROGRESS and the request is CANCEL_COMPLETE from then on, undone.
- Errors are AWS JSON errors: HTTP 400 (403 for signature errors), {"__type", "message",
  "Message"}. Unknown TypeName: TypeNotFoundException; a registry type this emulator does not
  implement: UnsupportedActionException.
- Account: MOTO_ACCOUNT_ID, else the x-moto-account-id header, else the owner of the SigV4 access
  key (moto's default 123456789012). Region: the SigV4 credential scope (default us-east-1).
- With moto's INITIAL_NO_AUTH_ACTION_COUNT, Cloud Control calls count as moto's actions and, once
  past the count, are signature-checked and authorized as `cloudformation:<Operation>`.
- Read models name properties as the schema does, include read-only ones (Arn, ...) and the
  defaults the service fills in (schema defaults, S3's default encryption/public access
  block/ownership, SQS's attribute defaults, ...). ListResources gives each resource's full read
  model, except AWS::S3::Bucket's, which gives only BucketName (as the real list handler does).
- A name property left out (BucketName, RoleName, QueueName, ...) is generated: "<Kind>-<12
  random characters>" (lower case for buckets, ".fifo" appended for FIFO queues).

Test knobs. Environment (read per request):
  CLOUDCONTROL_DELAY_MS=300          delay before a request's work is carried out
  CLOUDCONTROL_STUCK_TYPES=T1,T2     requests of these types stay IN_PROGRESS forever
  CLOUDCONTROL_THROTTLE_FIRST=N      the first N Cloud Control calls (TestControl aside) answer
                                     ThrottlingException
  CLOUDCONTROL_FAIL_TYPES=T=Code,... requests of type T end FAILED with ErrorCode Code, undone
And `X-Amz-Target: CloudApiService.TestControl`, unsigned, JSON body, any of:
  {"DelayMs": 50, "StuckTypes": ["AWS::SQS::Queue"], "ThrottleNext": 2,
   "HandlerThrottleNext": 1, "FailTypes": {"AWS::EC2::VPC": "NotStabilized"}, "Reset": true}
  ThrottleNext: the next N calls answer ThrottlingException (HTTP 400, retryable by the SDKs);
  HandlerThrottleNext: the next N requests' work ends FAILED with ErrorCode Throttling, undone.
  Lists/maps replace the previous ones; Reset clears every knob. It answers the knobs' state.
POST /moto-api/reset (moto's reset) also forgets all Cloud Control requests.

Not emulated: properties outside each handler's `writable`/`updatable` sets below (e.g. S3
lifecycle/website/CORS/logging/notifications, DynamoDB attribute/index/stream/TTL/PITR changes
after create, VPC/Subnet IPv6 and IPAM, SQS RedriveAllowPolicy, LogGroup data protection and
classes other than STANDARD) end FAILED InvalidRequest; Hooks (HooksProgressEvent) do not exist;
TypeVersionId and RoleArn are accepted (and part of a request's identity) but not used;
ListResources' ResourceModel filter is ignored; dependencies are only those moto checks (e.g. a
security group in use can be deleted).

Invariants: resources live only in moto's backends (no copy here: reads go to moto every time);
this module keeps only request records. All work on moto's models and on the records runs under
one lock, and a request's outcome is decided exactly once. A SUCCESS request did all it was asked;
a FAILED create leaves nothing behind (a FAILED update may have applied part of its changes, as on
AWS); properties this emulator cannot carry out are FAILED InvalidRequest with a message saying
so, never silently dropped. The schemas come from the installed cfn-lint (pulled in, unpinned, by
moto[server]), so they follow its version.
"""

import base64
import copy
import importlib.util
import json
import os
import random
import string
import threading
import time
import traceback
import uuid
from http import HTTPStatus
from pathlib import Path

import jsonpatch
import jsonschema
import regex
from werkzeug.datastructures import EnvironHeaders

TARGET_PREFIX = "CloudApiService."
DEFAULT_DELAY_MS = 300
UNFINISHED = ("PENDING", "IN_PROGRESS", "CANCEL_IN_PROGRESS")


# --------------------------------------------------------------------------- errors


class ApiError(Exception):
    """An error answer of the API itself: {"__type": kind, "message": ...}."""

    def __init__(self, kind, message, status=400):
        super().__init__(message)
        self.kind, self.message, self.status = kind, message, status


class HandlerError(Exception):
    """A request's work failed: the request ends FAILED with this HandlerErrorCode."""

    def __init__(self, code, message=None):
        super().__init__(message or code)
        self.code, self.message = code, message


def not_found():
    return HandlerError("NotFound")


def already_exists():
    return HandlerError("AlreadyExists")


_CODE_HINTS = [  # (substring of a service error code, HandlerErrorCode), first match wins
    ("AlreadyExists", "AlreadyExists"), ("AlreadyOwnedByYou", "AlreadyExists"),
    ("ResourceInUse", "AlreadyExists"), ("Duplicate", "AlreadyExists"),
    ("QueueNameExists", "AlreadyExists"),
    ("NotFound", "NotFound"), ("NoSuch", "NotFound"), ("NonExistent", "NotFound"),
    ("DoesNotExist", "NotFound"),
    ("LimitExceeded", "ServiceLimitExceeded"), ("TooManyTags", "ServiceLimitExceeded"),
    ("Throttl", "Throttling"), ("TooManyRequests", "Throttling"),
    ("AccessDenied", "AccessDenied"), ("Unauthorized", "AccessDenied"),
    ("Invalid", "InvalidRequest"), ("Malformed", "InvalidRequest"),
    ("Validation", "InvalidRequest"), ("MissingParameter", "InvalidRequest"),
]


def service_error(exc, service):
    """A moto service error as a HandlerError, or None if it is not one."""
    kind = getattr(exc, "error_type", None)
    if kind is None and type(exc).__module__.startswith("moto."):
        kind = exc.code if isinstance(getattr(exc, "code", None), str) else type(exc).__name__
    if kind is None:
        return None
    kind = kind.split("#")[-1]
    status = exc.code if isinstance(getattr(exc, "code", None), int) else 400
    message = getattr(exc, "message", None) or str(exc)
    code = next((c for hint, c in _CODE_HINTS if hint in kind), "GeneralServiceException")
    detail = f"Service: {service}, Status Code: {status}, Request ID: {uuid.uuid4()}"
    return HandlerError(code, f"{message} ({detail})")


# --------------------------------------------------------------------------- schemas


def _pattern(validator, pattern, instance, schema):
    """JSON Schema `pattern` with the `regex` module: the schemas use Java classes (\\p{L})."""
    if not validator.is_type(instance, "string"):
        return
    try:
        matched = regex.search(pattern, instance)
    except regex.error:
        return
    if not matched:
        yield jsonschema.ValidationError(f"string [{instance}] does not match pattern {pattern}")


_Validator = jsonschema.validators.extend(jsonschema.Draft7Validator, {"pattern": _pattern})
_JSON_TYPES = {"integer": "Integer", "string": "String", "boolean": "Boolean",
               "object": "JSONObject", "array": "JSONArray", "number": "Number"}


def _type_of(value):
    kinds = [(bool, "Boolean"), (int, "Integer"), (float, "Number"), (str, "String"),
             (dict, "JSONObject"), (list, "JSONArray")]
    return next((name for kind, name in kinds if isinstance(value, kind)), "Null")


def _describe_error(err):
    """A jsonschema error worded as CloudFormation's model validation words it."""
    path = "#" + "".join(f"/{p}" for p in err.absolute_path)
    if err.validator == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return f"{path}: extraneous key [{extra[0] if extra else '?'}] is not permitted"
    if err.validator == "required":
        return f"{path}: required key [{err.message.split(chr(39))[1]}] not found"
    if err.validator == "type":
        wanted = err.validator_value if isinstance(err.validator_value, list) else [err.validator_value]
        names = "/".join(_JSON_TYPES.get(w, w) for w in wanted)
        return f"{path}: expected type: {names}, found: {_type_of(err.instance)}"
    return f"{path}: {err.message}"


def _top_level(pointers):
    return {p.split("/")[2] for p in pointers or [] if p.count("/") == 2}


class Schema:
    """One type's registry schema: identifiers, property classes, defaults, validation."""

    def __init__(self, raw):
        self.type_name = raw["typeName"]
        self.primary = [p.split("/")[-1] for p in raw["primaryIdentifier"]]
        self.read_only = _top_level(raw.get("readOnlyProperties"))
        self.create_only = _top_level(raw.get("createOnlyProperties"))
        self.write_only = _top_level(raw.get("writeOnlyProperties"))
        self.defaults = {k: v["default"] for k, v in raw["properties"].items() if "default" in v}
        self._validator = _Validator(raw)

    def validate(self, model):
        """Raises HandlerError InvalidRequest if the model breaks the schema."""
        errors = sorted(self._validator.iter_errors(model), key=lambda e: [str(p) for p in e.absolute_path])
        if errors:
            found = ", ".join(_describe_error(e) for e in errors[:3])
            raise HandlerError("InvalidRequest", f"Model validation failed ({found})")

    def writable(self, model):
        return {k: v for k, v in model.items() if k not in self.read_only}

    def identifier(self, model):
        return "|".join(str(model[p]) for p in self.primary)


class Schemas:
    """The registry schemas cfn-lint bundles (the us-east-1 list of types)."""

    def __init__(self):
        spec = importlib.util.find_spec("cfnlint")
        base = Path(list(spec.submodule_search_locations)[0]) / "data" / "schemas"
        self._index = json.loads((base / "providers" / "us-east-1.json").read_text())
        self._dir = base / "resources"
        self._loaded = {}

    def exists(self, type_name):
        return type_name in self._index

    def get(self, type_name):
        if type_name not in self._loaded:
            raw = json.loads((self._dir / f"{self._index[type_name]}.json").read_text())
            self._loaded[type_name] = Schema(raw)
        return self._loaded[type_name]


# --------------------------------------------------------------------------- helpers


def generated_name(prefix, lower=False):
    """A name for a resource created without one (the real service generates one too)."""
    chars = string.ascii_lowercase + string.digits if lower else string.ascii_uppercase + string.digits
    return f"{prefix}-{''.join(random.choices(chars, k=12))}"


def as_bool(value):
    return value is True or str(value).lower() == "true"


def as_obj(doc):
    """A policy document as a JSON object (stored as text by moto, given either way)."""
    return json.loads(doc) if isinstance(doc, str) else doc


def as_text(doc):
    return doc if isinstance(doc, str) else json.dumps(doc)


def drop_empty(model):
    return {k: v for k, v in model.items() if v is not None and v != [] and v != {}}


def tag_list(tags):
    return [{"Key": k, "Value": v} for k, v in tags.items()]


def tag_dict(tags):
    return {t["Key"]: t["Value"] for t in tags or []}


def with_tags(model, tags):
    if tags:
        model["Tags"] = tag_list(tags)
    return model


def tag_changes(prev, new):
    """(tags to set, keys to remove) taking prev's Tags to new's."""
    old, want = tag_dict(prev.get("Tags")), tag_dict(new.get("Tags"))
    return {k: v for k, v in want.items() if old.get(k) != v}, [k for k in old if k not in want]


class Ctx:
    """The account and region a request acts in, and moto's backends for them."""

    def __init__(self, account, region):
        from moto.utilities.utils import get_partition

        self.account, self.region, self.partition = account, region, get_partition(region)

    @property
    def ec2(self):
        from moto.ec2.models import ec2_backends

        return ec2_backends[self.account][self.region]

    @property
    def s3(self):
        from moto.s3.models import s3_backends

        return s3_backends[self.account][self.partition]

    @property
    def iam(self):
        from moto.iam.models import iam_backends

        return iam_backends[self.account][self.partition]

    @property
    def sqs(self):
        from moto.sqs.models import sqs_backends

        return sqs_backends[self.account][self.region]

    @property
    def ddb(self):
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.account][self.region]

    @property
    def logs(self):
        from moto.logs.models import logs_backends

        return logs_backends[self.account][self.region]


# --------------------------------------------------------------------------- resource types


class ResourceType:
    """One type's handlers. `writable`: the properties create carries out; `updatable`: the ones
    update carries out in place. read() returns the model as the schema names it."""

    type_name = service = ""
    writable = updatable = frozenset()
    list_full = True  # ListResources gives the full model (else only the identifier)

    def create(self, ctx, model):
        raise NotImplementedError

    def read(self, ctx, ident):
        raise NotImplementedError

    def update(self, ctx, ident, prev, new):
        raise NotImplementedError

    def delete(self, ctx, ident):
        raise NotImplementedError

    def list(self, ctx):
        raise NotImplementedError

    def finish_create(self, ctx, ident, step):
        """Runs the rest of a create; if it fails, deletes what was made, so that a FAILED
        create leaves nothing behind."""
        try:
            step()
        except Exception:
            try:
                self.delete(ctx, ident)
            except Exception:
                pass
            raise
        return ident


def ec2_tags(ctx, resource_id):
    return dict(ctx.ec2.tags.get(resource_id, {}))


def ec2_retag(ctx, resource_id, prev, new):
    put, drop = tag_changes(prev, new)
    if drop:
        ctx.ec2.delete_tags([resource_id], {k: None for k in drop})
    if put:
        ctx.ec2.create_tags([resource_id], put)


class VpcType(ResourceType):
    type_name, service = "AWS::EC2::VPC", "Ec2"
    writable = {"CidrBlock", "EnableDnsHostnames", "EnableDnsSupport", "InstanceTenancy", "Tags"}
    updatable = {"EnableDnsHostnames", "EnableDnsSupport", "InstanceTenancy", "Tags"}

    def create(self, ctx, m):
        from moto.ec2.models.vpcs import VPC

        if "CidrBlock" not in m:
            raise HandlerError("InvalidRequest", "CidrBlock is required (IPAM pools are not emulated)")
        vpc = VPC.create_from_cloudformation_json("", {"Properties": m}, ctx.account, ctx.region)
        return self.finish_create(ctx, vpc.id, lambda: self._set_dns(ctx, vpc.id, m))

    def _set_dns(self, ctx, vpc_id, m):
        for prop, attr in (("EnableDnsSupport", "enable_dns_support"),
                           ("EnableDnsHostnames", "enable_dns_hostnames")):
            if prop in m:
                ctx.ec2.modify_vpc_attribute(vpc_id, attr, bool(m[prop]))

    def read(self, ctx, vpc_id):
        vpc = ctx.ec2.get_vpc(vpc_id)
        acl = next((a.id for a in ctx.ec2.network_acls.values()
                    if a.vpc_id == vpc_id and a.default), None)
        group = ctx.ec2.get_default_security_group(vpc_id)
        model = {
            "VpcId": vpc_id, "CidrBlock": vpc.cidr_block,
            "CidrBlockAssociations": [c["association_id"] for c in vpc.get_cidr_block_association_set()],
            "DefaultNetworkAcl": acl, "DefaultSecurityGroup": group.id if group else None,
            "EnableDnsHostnames": as_bool(vpc.enable_dns_hostnames),
            "EnableDnsSupport": as_bool(vpc.enable_dns_support),
            "InstanceTenancy": vpc.instance_tenancy,
            "Ipv6CidrBlocks": [c["cidr_block"] for c in vpc.get_cidr_block_association_set(ipv6=True)],
        }
        model = {k: v for k, v in model.items() if v is not None}
        return with_tags(model, ec2_tags(ctx, vpc_id))

    def update(self, ctx, vpc_id, prev, new):
        tenancy = new.get("InstanceTenancy", "default")
        if tenancy != prev.get("InstanceTenancy"):
            ctx.ec2.modify_vpc_tenancy(vpc_id, tenancy)
        self._set_dns(ctx, vpc_id, {"EnableDnsSupport": new.get("EnableDnsSupport", True),
                                    "EnableDnsHostnames": new.get("EnableDnsHostnames", False)})
        ec2_retag(ctx, vpc_id, prev, new)

    def delete(self, ctx, vpc_id):
        from moto.ec2.models.vpcs import VPC

        VPC.delete_from_cloudformation_json(vpc_id, {}, ctx.account, ctx.region)

    def list(self, ctx):
        return [v.id for v in ctx.ec2.describe_vpcs()]


class SubnetType(ResourceType):
    type_name, service = "AWS::EC2::Subnet", "Ec2"
    writable = {"VpcId", "CidrBlock", "AvailabilityZone", "AvailabilityZoneId", "MapPublicIpOnLaunch",
                "AssignIpv6AddressOnCreation", "PrivateDnsNameOptionsOnLaunch", "Tags"}
    updatable = {"MapPublicIpOnLaunch", "AssignIpv6AddressOnCreation",
                 "PrivateDnsNameOptionsOnLaunch", "Tags"}
    DNS_OPTIONS = {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                   "EnableResourceNameDnsAAAARecord": False}

    def create(self, ctx, m):
        # Not Subnet.create_from_cloudformation_json: it ignores AvailabilityZoneId and puts
        # subnets of any region in us-east-1a.
        if "CidrBlock" not in m:
            raise HandlerError("InvalidRequest",
                               "CidrBlock is required (IPv6-only and IPAM subnets are not emulated)")
        zone = m.get("AvailabilityZone") or (None if "AvailabilityZoneId" in m else f"{ctx.region}a")
        subnet = ctx.ec2.create_subnet(vpc_id=m["VpcId"], cidr_block=m["CidrBlock"],
                                       availability_zone=zone,
                                       availability_zone_id=m.get("AvailabilityZoneId"))
        return self.finish_create(ctx, subnet.id, lambda: (
            self._set_attributes(ctx, subnet, m), ec2_retag(ctx, subnet.id, {}, m)))

    def _set_attributes(self, ctx, subnet, m):
        for prop, attr in (("MapPublicIpOnLaunch", "map_public_ip_on_launch"),
                           ("AssignIpv6AddressOnCreation", "assign_ipv6_address_on_creation")):
            ctx.ec2.modify_subnet_attribute(subnet.id, attr, bool(m.get(prop, False)))
        subnet.private_dns_name_options_on_launch = {
            **self.DNS_OPTIONS, **m.get("PrivateDnsNameOptionsOnLaunch", {})}

    def read(self, ctx, subnet_id):
        s = ctx.ec2.get_subnet(subnet_id)
        association = next((a.id for acl in ctx.ec2.network_acls.values()
                            for a in acl.associations if a.subnet_id == subnet_id), None)
        model = {
            "SubnetId": s.id, "VpcId": s.vpc_id, "CidrBlock": s.cidr_block,
            "AvailabilityZone": s.availability_zone, "AvailabilityZoneId": s.availability_zone_id,
            "MapPublicIpOnLaunch": as_bool(s.map_public_ip_on_launch),
            "AssignIpv6AddressOnCreation": as_bool(s.assign_ipv6_address_on_creation),
            "EnableDns64": False, "Ipv6Native": as_bool(s.ipv6_native),
            "Ipv6CidrBlocks": [a["ipv6CidrBlock"] for a in s.ipv6_cidr_block_association_set],
            "NetworkAclAssociationId": association,
            "PrivateDnsNameOptionsOnLaunch": dict(s.private_dns_name_options_on_launch),
        }
        model = {k: v for k, v in model.items() if v is not None}
        return with_tags(model, ec2_tags(ctx, subnet_id))

    def update(self, ctx, subnet_id, prev, new):
        self._set_attributes(ctx, ctx.ec2.get_subnet(subnet_id), new)
        ec2_retag(ctx, subnet_id, prev, new)

    def delete(self, ctx, subnet_id):
        from moto.ec2.models.subnets import Subnet

        Subnet.delete_from_cloudformation_json(subnet_id, {}, ctx.account, ctx.region)

    def list(self, ctx):
        return [s.id for s in ctx.ec2.describe_subnets()]


_PROTOCOLS = {"6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6", "all": "-1"}
_ALLOW_ALL_EGRESS = {"IpProtocol": "-1", "CidrIp": "0.0.0.0/0"}
_RULE_TARGETS = [  # (property, kind) of a rule's one target
    ("CidrIp", "CidrIp"), ("CidrIpv6", "CidrIpv6"),
    ("SourceSecurityGroupId", "Group"), ("DestinationSecurityGroupId", "Group"),
    ("SourcePrefixListId", "PrefixList"), ("DestinationPrefixListId", "PrefixList"),
]


class SecurityGroupType(ResourceType):
    """Rules are compared as (protocol, from, to, target kind, target, description) keys and
    reconciled rule by rule; no SecurityGroupEgress means AWS's default allow-all egress rule."""

    type_name, service = "AWS::EC2::SecurityGroup", "Ec2"
    writable = {"GroupDescription", "GroupName", "VpcId", "SecurityGroupIngress",
                "SecurityGroupEgress", "Tags"}
    updatable = {"SecurityGroupIngress", "SecurityGroupEgress", "Tags"}

    def create(self, ctx, m):
        # Not SecurityGroup.create_from_cloudformation_json: it drops CidrIpv6, descriptions
        # and prefix lists, and never replaces the default egress rule.
        group = ctx.ec2.create_security_group(
            name=m.get("GroupName") or generated_name("SecurityGroup"),
            description=m["GroupDescription"], vpc_id=m.get("VpcId"))
        return self.finish_create(ctx, group.id, lambda: (
            ec2_retag(ctx, group.id, {}, m), self._sync_rules(ctx, group, m)))

    def _sync_rules(self, ctx, group, m):
        self._sync(ctx, group, False, m.get("SecurityGroupIngress") or [])
        self._sync(ctx, group, True, m.get("SecurityGroupEgress") or [_ALLOW_ALL_EGRESS])

    def _sync(self, ctx, group, egress, wanted):
        have = {self._moto_key(r): r.id for r in (group.egress_rules if egress else group.ingress_rules)}
        want = list(dict.fromkeys(self._key(ctx, group, r) for r in wanted))
        stale = [rule_id for key, rule_id in have.items() if key not in want]
        revoke = ctx.ec2.revoke_security_group_egress if egress else ctx.ec2.revoke_security_group_ingress
        if stale:
            revoke(group.id, None, None, None, [], security_rule_ids=stale, vpc_id=group.vpc_id)
        for key in want:
            if key not in have:
                self._authorize(ctx, group, egress, key)

    def _key(self, ctx, group, rule):
        proto = str(rule["IpProtocol"]).lower()
        proto = _PROTOCOLS.get(proto, proto)
        ports = (-1, -1) if proto == "-1" else (int(rule.get("FromPort", -1)), int(rule.get("ToPort", -1)))
        target = next(((kind, rule[prop]) for prop, kind in _RULE_TARGETS if prop in rule), None)
        if target is None and "SourceSecurityGroupName" in rule:
            source = ctx.ec2.get_security_group_from_name(rule["SourceSecurityGroupName"], group.vpc_id)
            if source is None:
                raise HandlerError("NotFound", f"Security group {rule['SourceSecurityGroupName']} not found")
            target = ("Group", source.id)
        if target is None:
            raise HandlerError("InvalidRequest", f"Rule {json.dumps(rule)} has no CIDR, group or prefix list")
        description = None if target[0] == "PrefixList" else rule.get("Description") or None
        return (proto, *ports, *target, description)

    @staticmethod
    def _moto_key(rule):
        ports = (-1, -1) if rule.ip_protocol == "-1" else (rule.from_port, rule.to_port)
        if rule.ip_range:
            kind = "CidrIp" if "CidrIp" in rule.ip_range else "CidrIpv6"
            target, description = (kind, rule.ip_range[kind]), rule.ip_range.get("Description")
        elif rule.source_group:
            source = rule.source_group
            target, description = ("Group", source["GroupId"]), source.get("Description")
        else:
            target, description = ("PrefixList", rule.prefix_list_id), None
        return (rule.ip_protocol, *ports, *target, description or None)

    def _authorize(self, ctx, group, egress, key):
        proto, low, high, kind, value, description = key
        extra = {"Description": description} if description else {}
        ec2 = ctx.ec2
        authorize = ec2.authorize_security_group_egress if egress else ec2.authorize_security_group_ingress
        authorize(group_name_or_id=group.id, ip_protocol=proto,
                  from_port=None if proto == "-1" else low, to_port=None if proto == "-1" else high,
                  ip_ranges=[{kind: value, **extra}] if kind.startswith("Cidr") else [],
                  source_groups=[{"GroupId": value, **extra}] if kind == "Group" else [],
                  prefix_list_ids=[{"PrefixListId": value}] if kind == "PrefixList" else [],
                  vpc_id=group.vpc_id)

    @staticmethod
    def _rule_model(rule, egress):
        proto, low, high, kind, value, description = SecurityGroupType._moto_key(rule)
        side = "Destination" if egress else "Source"
        prop = {"Group": f"{side}SecurityGroupId", "PrefixList": f"{side}PrefixListId"}.get(kind, kind)
        model = {"IpProtocol": proto, "FromPort": low, "ToPort": high, prop: value}
        return {**model, "Description": description} if description else model

    def read(self, ctx, group_id):
        group = ctx.ec2.get_security_group_from_id(group_id)
        if group is None:
            raise not_found()
        model = {
            "Id": group.id, "GroupId": group.id, "GroupName": group.name,
            "GroupDescription": group.description, "VpcId": group.vpc_id,
            "SecurityGroupIngress": [self._rule_model(r, False) for r in group.ingress_rules],
            "SecurityGroupEgress": [self._rule_model(r, True) for r in group.egress_rules],
        }
        return with_tags(drop_empty(model), ec2_tags(ctx, group_id))

    def update(self, ctx, group_id, prev, new):
        self._sync_rules(ctx, ctx.ec2.get_security_group_from_id(group_id), new)
        ec2_retag(ctx, group_id, prev, new)

    def delete(self, ctx, group_id):
        ctx.ec2.delete_security_group(group_id=group_id)

    def list(self, ctx):
        return [g.id for g in ctx.ec2.describe_security_groups()]


class BucketType(ResourceType):
    """New buckets get what S3 gives every new bucket: SSE-S3 default encryption, all four
    public access blocks, BucketOwnerEnforced ownership (moto leaves them unset)."""

    type_name, service = "AWS::S3::Bucket", "S3"
    writable = {"BucketName", "Tags", "VersioningConfiguration", "BucketEncryption",
                "PublicAccessBlockConfiguration", "OwnershipControls", "AccessControl"}
    # CloudFormation's canned ACL names (AccessControl, write-only: never read back).
    CANNED = {"Private": "private", "PublicRead": "public-read",
              "PublicReadWrite": "public-read-write", "AuthenticatedRead": "authenticated-read",
              "LogDeliveryWrite": "log-delivery-write", "BucketOwnerRead": "bucket-owner-read",
              "BucketOwnerFullControl": "bucket-owner-full-control", "AwsExecRead": "aws-exec-read"}
    updatable = writable - {"BucketName"}
    list_full = False
    DEFAULT_ENCRYPTION = {"ServerSideEncryptionConfiguration": [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}]}
    DEFAULT_PUBLIC_ACCESS_BLOCK = {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                   "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    DEFAULT_OWNERSHIP = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}

    def create(self, ctx, m):
        from moto.s3.models import FakeBucket, s3_backends

        name = m.get("BucketName") or generated_name("bucket", lower=True)
        if name in s3_backends.bucket_accounts:
            raise already_exists()
        # Its own BucketEncryption conversion drops BucketKeyEnabled: only bucket and tags here.
        FakeBucket.create_from_cloudformation_json(
            name, {"Properties": {"Tags": m.get("Tags", [])}}, ctx.account, ctx.region)
        defaults = {"BucketEncryption": self.DEFAULT_ENCRYPTION,
                    "PublicAccessBlockConfiguration": self.DEFAULT_PUBLIC_ACCESS_BLOCK,
                    "OwnershipControls": self.DEFAULT_OWNERSHIP}
        return self.finish_create(ctx, name, lambda: self._configure(ctx, name, {}, {**defaults, **m}))

    def _configure(self, ctx, name, prev, new):
        from moto.s3.models import get_canned_acl

        s3, changed = ctx.s3, (lambda prop: prev.get(prop) != new.get(prop))
        if new.get("AccessControl") and changed("AccessControl"):
            s3.put_bucket_acl(name, get_canned_acl(self.CANNED[new["AccessControl"]]))
        if changed("VersioningConfiguration"):
            status = (new.get("VersioningConfiguration") or {}).get("Status", "Suspended")
            s3.put_bucket_versioning(name, status)
        if changed("BucketEncryption"):
            s3.put_bucket_encryption(name, self._api_encryption(
                new.get("BucketEncryption") or self.DEFAULT_ENCRYPTION))
        if changed("PublicAccessBlockConfiguration"):
            block = new.get("PublicAccessBlockConfiguration")
            if block:
                s3.put_public_access_block(name, block)
            else:
                s3.get_bucket(name).public_access_block = None
        if changed("OwnershipControls"):
            rules = (new.get("OwnershipControls") or {}).get("Rules") or []
            if rules:
                s3.put_bucket_ownership_controls(name, rules[0]["ObjectOwnership"])
            else:
                s3.delete_bucket_ownership_controls(name)

    @staticmethod
    def _api_encryption(cfn):
        rule = cfn["ServerSideEncryptionConfiguration"][0]
        return {"Rule": {"ApplyServerSideEncryptionByDefault": dict(rule["ServerSideEncryptionByDefault"]),
                         "BucketKeyEnabled": str(bool(rule.get("BucketKeyEnabled", False))).lower()}}

    @staticmethod
    def _cfn_encryption(api):
        rule = api["Rule"][0] if isinstance(api["Rule"], list) else api["Rule"]
        given = rule["ApplyServerSideEncryptionByDefault"]
        default = {k: v for k, v in given.items() if not k.startswith("@")}
        return {"ServerSideEncryptionConfiguration": [{
            "ServerSideEncryptionByDefault": default,
            "BucketKeyEnabled": as_bool(rule.get("BucketKeyEnabled"))}]}

    def read(self, ctx, name):
        bucket = ctx.s3.buckets.get(name)
        if bucket is None:
            raise not_found()
        model = {"BucketName": name, "Arn": bucket.arn, "DomainName": bucket.domain_name,
                 "DualStackDomainName": bucket.dual_stack_domain_name,
                 "RegionalDomainName": bucket.regional_domain_name, "WebsiteURL": bucket.website_url}
        if bucket.versioning_status:
            model["VersioningConfiguration"] = {"Status": bucket.versioning_status}
        if bucket.encryption:
            model["BucketEncryption"] = self._cfn_encryption(bucket.encryption)
        block = bucket.public_access_block
        if block:
            model["PublicAccessBlockConfiguration"] = {
                "BlockPublicAcls": block.block_public_acls,
                "BlockPublicPolicy": block.block_public_policy,
                "IgnorePublicAcls": block.ignore_public_acls,
                "RestrictPublicBuckets": block.restrict_public_buckets}
        if bucket.ownership_rule:
            model["OwnershipControls"] = {"Rules": [{"ObjectOwnership": bucket.ownership_rule}]}
        return with_tags(model, ctx.s3.tagger.get_tag_dict_for_resource(bucket.arn))

    def update(self, ctx, name, prev, new):
        if tag_dict(prev.get("Tags")) != tag_dict(new.get("Tags")):
            if new.get("Tags"):
                ctx.s3.put_bucket_tagging(name, tag_dict(new["Tags"]))
            else:
                ctx.s3.delete_bucket_tagging(name)
        self._configure(ctx, name, prev, new)

    def delete(self, ctx, name):
        from moto.s3.models import FakeBucket

        if ctx.s3.get_bucket(name).keys:
            raise HandlerError("GeneralServiceException", "The bucket you tried to delete is not empty "
                               f"(Service: S3, Status Code: 409, Request ID: {uuid.uuid4()})")
        FakeBucket.delete_from_cloudformation_json(name, {}, ctx.account, ctx.region)

    def list(self, ctx):
        return list(ctx.s3.buckets)


class RoleType(ResourceType):
    type_name, service = "AWS::IAM::Role", "Iam"
    writable = {"AssumeRolePolicyDocument", "Description", "ManagedPolicyArns", "MaxSessionDuration",
                "Path", "PermissionsBoundary", "Policies", "RoleName", "Tags"}
    updatable = writable - {"Path", "RoleName"}

    def create(self, ctx, m):
        # Not Role.create_from_cloudformation_json: it stores inline policies unserialised.
        name = m.get("RoleName") or generated_name("Role")
        if any(r.name == name for r in ctx.iam.roles.values()):
            raise already_exists()
        ctx.iam.create_role(
            role_name=name, assume_role_policy_document=as_text(m["AssumeRolePolicyDocument"]),
            path=m.get("Path", "/"), permissions_boundary=m.get("PermissionsBoundary"),
            description=m.get("Description"), tags=m.get("Tags", []),
            max_session_duration=m.get("MaxSessionDuration", 3600))
        return self.finish_create(ctx, name, lambda: self._sync_policies(ctx, name, {}, m))

    def _sync_policies(self, ctx, name, prev, new):
        old = {p["PolicyName"]: as_obj(p["PolicyDocument"]) for p in prev.get("Policies", [])}
        want = {p["PolicyName"]: as_obj(p["PolicyDocument"]) for p in new.get("Policies", [])}
        for policy in old.keys() - want.keys():
            ctx.iam.delete_role_policy(name, policy)
        for policy, doc in want.items():
            if old.get(policy) != doc:
                ctx.iam.put_role_policy(name, policy, as_text(doc))
        old_arns, want_arns = set(prev.get("ManagedPolicyArns", [])), set(new.get("ManagedPolicyArns", []))
        for arn in old_arns - want_arns:
            ctx.iam.detach_role_policy(arn, name)
        for arn in want_arns - old_arns:
            ctx.iam.attach_role_policy(arn, name)

    def read(self, ctx, name):
        role = ctx.iam.get_role(name)
        model = {
            "RoleName": role.name, "Arn": role.arn, "RoleId": role.id, "Path": role.path,
            "AssumeRolePolicyDocument": as_obj(role.assume_role_policy_document),
            "MaxSessionDuration": int(role.max_session_duration or 3600),
            "Description": role.description or None,
            "PermissionsBoundary": role.permissions_boundary_arn or None,
            "ManagedPolicyArns": sorted(role.managed_policies),
            "Policies": [{"PolicyName": k, "PolicyDocument": as_obj(v)} for k, v in role.policies.items()],
        }
        return with_tags(drop_empty(model), tag_dict(role.tags))

    def update(self, ctx, name, prev, new):
        if as_obj(new["AssumeRolePolicyDocument"]) != prev["AssumeRolePolicyDocument"]:
            ctx.iam.update_assume_role_policy(name, as_text(new["AssumeRolePolicyDocument"]))
        if any(new.get(k) != prev.get(k) for k in ("Description", "MaxSessionDuration")):
            ctx.iam.update_role(name, new.get("Description", ""), new.get("MaxSessionDuration", 3600))
        if new.get("PermissionsBoundary") != prev.get("PermissionsBoundary"):
            if new.get("PermissionsBoundary"):
                ctx.iam.put_role_permissions_boundary(name, new["PermissionsBoundary"])
            else:
                ctx.iam.delete_role_permissions_boundary(name)
        self._sync_policies(ctx, name, prev, new)
        put, drop = tag_changes(prev, new)
        if drop:
            ctx.iam.untag_role(name, drop)
        if put:
            ctx.iam.tag_role(name, tag_list(put))

    def delete(self, ctx, name):
        from moto.iam.models import Role

        for arn in list(ctx.iam.get_role(name).managed_policies):
            ctx.iam.detach_role_policy(arn, name)
        Role.delete_from_cloudformation_json(name, {}, ctx.account, ctx.region)

    def list(self, ctx):
        return [r.name for r in ctx.iam.roles.values()]


class QueueType(ResourceType):
    """Identifier: the queue URL as AWS writes it, https://sqs.REGION.amazonaws.com/ACCOUNT/NAME
    (any URL ending in /NAME is accepted)."""

    type_name, service = "AWS::SQS::Queue", "SQS"
    INTEGERS = ("VisibilityTimeout", "DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
                "ReceiveMessageWaitTimeSeconds")
    FIFO_ONLY = ("ContentBasedDeduplication", "DeduplicationScope", "FifoThroughputLimit")
    writable = {*INTEGERS, *FIFO_ONLY, "QueueName", "FifoQueue", "KmsMasterKeyId",
                "KmsDataKeyReusePeriodSeconds", "SqsManagedSseEnabled", "RedrivePolicy", "Tags"}
    updatable = writable - {"QueueName", "FifoQueue"}

    def defaults(self):
        from moto.sqs.constants import MAXIMUM_MESSAGE_LENGTH

        return {"VisibilityTimeout": 30, "DelaySeconds": 0, "MaximumMessageSize": MAXIMUM_MESSAGE_LENGTH,
                "MessageRetentionPeriod": 345600, "ReceiveMessageWaitTimeSeconds": 0,
                "SqsManagedSseEnabled": True, "KmsMasterKeyId": "", "KmsDataKeyReusePeriodSeconds": 300,
                "RedrivePolicy": "", "ContentBasedDeduplication": False, "DeduplicationScope": "queue",
                "FifoThroughputLimit": "perQueue"}

    @staticmethod
    def url(ctx, name):
        return f"https://sqs.{ctx.region}.amazonaws.com/{ctx.account}/{name}"

    @staticmethod
    def name(ident):
        return ident.rstrip("/").split("/")[-1]

    def create(self, ctx, m):
        from moto.sqs.models import Queue

        fifo = bool(m.get("FifoQueue"))
        if not fifo and any(k in m for k in self.FIFO_ONLY):
            raise HandlerError("InvalidRequest", f"{'/'.join(self.FIFO_ONLY)} are for FIFO queues only")
        name = m.get("QueueName") or generated_name("Queue") + (".fifo" if fifo else "")
        if name in ctx.sqs.queues:
            raise already_exists()
        attributes = {k: v for k, v in m.items() if k in self.defaults() or k == "FifoQueue"}
        Queue.create_from_cloudformation_json(
            name, {"Properties": {**attributes, "Tags": m.get("Tags", [])}}, ctx.account, ctx.region)
        return self.url(ctx, name)

    def read(self, ctx, ident):
        queue = ctx.sqs.queues.get(self.name(ident))
        if queue is None:
            raise not_found()
        attributes = queue.attributes
        model = {"QueueUrl": self.url(ctx, queue.name), "Arn": queue.queue_arn, "QueueName": queue.name,
                 **{k: int(attributes[k]) for k in self.INTEGERS},
                 "SqsManagedSseEnabled": as_bool(attributes.get("SqsManagedSseEnabled"))}
        if queue.kms_master_key_id:
            model["KmsMasterKeyId"] = queue.kms_master_key_id
            model["KmsDataKeyReusePeriodSeconds"] = int(queue.kms_data_key_reuse_period_seconds)
        if queue.redrive_policy:
            model["RedrivePolicy"] = dict(queue.redrive_policy)
        if queue.fifo_queue:
            model.update(FifoQueue=True, DeduplicationScope=attributes["DeduplicationScope"],
                         ContentBasedDeduplication=as_bool(attributes["ContentBasedDeduplication"]),
                         FifoThroughputLimit=attributes["FifoThroughputLimit"])
        return with_tags(model, dict(queue.tags))

    def update(self, ctx, ident, prev, new):
        name, defaults = self.name(ident), self.defaults()
        changes = {k: new.get(k, d) for k, d in defaults.items() if new.get(k) != prev.get(k)}
        if changes:
            queue = ctx.sqs.get_queue(name)
            if queue.policy:  # moto's SetQueueAttributes drops a Policy it is not given
                changes["Policy"] = queue.policy
            ctx.sqs.set_queue_attributes(name, changes)
        put, drop = tag_changes(prev, new)
        if drop:
            ctx.sqs.untag_queue(name, drop)
        if put:
            ctx.sqs.tag_queue(name, put)

    def delete(self, ctx, ident):
        from moto.sqs.models import Queue

        Queue.delete_from_cloudformation_json(self.url(ctx, self.name(ident)), {}, ctx.account, ctx.region)

    def list(self, ctx):
        return [self.url(ctx, name) for name in ctx.sqs.queues]


class TableType(ResourceType):
    type_name, service = "AWS::DynamoDB::Table", "DynamoDb"
    writable = {"TableName", "KeySchema", "AttributeDefinitions", "BillingMode", "ProvisionedThroughput",
                "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "StreamSpecification",
                "SSESpecification", "DeletionProtectionEnabled", "Tags"}
    updatable = {"BillingMode", "ProvisionedThroughput", "DeletionProtectionEnabled", "Tags"}

    @staticmethod
    def _check_billing(m):
        mode = m.get("BillingMode", "PROVISIONED")
        if mode == "PROVISIONED" and "ProvisionedThroughput" not in m:
            raise HandlerError("InvalidRequest", "One or more parameter values were invalid: "
                               "ReadCapacityUnits and WriteCapacityUnits must both be specified "
                               "when BillingMode is PROVISIONED")
        if mode == "PAY_PER_REQUEST" and "ProvisionedThroughput" in m:
            raise HandlerError("InvalidRequest", "One or more parameter values were invalid: Neither "
                               "ReadCapacityUnits nor WriteCapacityUnits can be specified when "
                               "BillingMode is PAY_PER_REQUEST")

    def create(self, ctx, m):
        from moto.dynamodb.models.table import Table

        name = m.get("TableName") or generated_name("Table")
        if name in ctx.ddb.tables:
            raise already_exists()
        self._check_billing(m)
        props = copy.deepcopy(m)
        sse = props.pop("SSESpecification", None)
        if sse and sse.get("SSEEnabled"):  # moto keeps the API's shape, not CloudFormation's
            key = {"KMSMasterKeyId": sse["KMSMasterKeyId"]} if "KMSMasterKeyId" in sse else {}
            props["SSESpecification"] = {"Enabled": True, "SSEType": sse.get("SSEType", "KMS"), **key}
        Table.create_from_cloudformation_json(name, {"Properties": props}, ctx.account, ctx.region)
        return name

    def read(self, ctx, name):
        table = ctx.ddb.tables.get(name)
        if table is None:
            raise not_found()
        mode = table.billing_mode or "PROVISIONED"
        throughput = lambda t: {k: t[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}  # noqa: E731
        model = {
            "TableName": name, "Arn": table.table_arn, "KeySchema": table.schema,
            "AttributeDefinitions": table.attr, "BillingMode": mode,
            "DeletionProtectionEnabled": bool(table.deletion_protection_enabled),
            "LocalSecondaryIndexes": [{"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection}
                                      for i in table.indexes],
            "GlobalSecondaryIndexes": [
                {"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection,
                 **({"ProvisionedThroughput": throughput(i.throughput)} if mode == "PROVISIONED" else {})}
                for i in table.global_indexes],
        }
        if mode == "PROVISIONED":
            model["ProvisionedThroughput"] = throughput(table.throughput)
        stream = table.stream_specification or {}
        if stream.get("StreamEnabled"):
            model["StreamSpecification"] = {"StreamViewType": stream.get("StreamViewType")}
            model["StreamArn"] = table.get_cfn_attribute("StreamArn")
        sse = table.sse_specification or {}
        if sse.get("Enabled"):
            model["SSESpecification"] = {"SSEEnabled": True, "SSEType": "KMS",
                                         "KMSMasterKeyId": sse.get("KMSMasterKeyId")}
        return with_tags(drop_empty(model), tag_dict(table.tags))

    def update(self, ctx, name, prev, new):
        self._check_billing(new)
        mode = new.get("BillingMode", "PROVISIONED")
        capacity = (mode, new.get("ProvisionedThroughput"))
        if capacity != (prev.get("BillingMode"), prev.get("ProvisionedThroughput")):
            given = new.get("ProvisionedThroughput") or {"ReadCapacityUnits": 0, "WriteCapacityUnits": 0}
            self._update(ctx, name, throughput={**given, "NumberOfDecreasesToday": 0}, billing_mode=mode)
        protection = bool(new.get("DeletionProtectionEnabled", False))
        if protection != prev.get("DeletionProtectionEnabled"):
            self._update(ctx, name, deletion_protection_enabled=protection)
        put, drop = tag_changes(prev, new)
        arn = ctx.ddb.get_table(name).table_arn
        if drop or put:  # moto's TagResource appends: untag the keys it replaces first
            ctx.ddb.untag_resource(arn, drop + list(put))
        if put:
            ctx.ddb.tag_resource(arn, tag_list(put))

    @staticmethod
    def _update(ctx, name, **changes):
        args = dict(attr_definitions=None, global_index=None, throughput=None, billing_mode=None,
                    stream_spec=None, deletion_protection_enabled=None, warm_throughput=None)
        ctx.ddb.update_table(name=name, **{**args, **changes})

    def delete(self, ctx, name):
        from moto.dynamodb.models.table import Table

        Table.delete_from_cloudformation_json(name, {}, ctx.account, ctx.region)

    def list(self, ctx):
        return list(ctx.ddb.tables)


class LogGroupType(ResourceType):
    """Arn is the log group's ARN with ":*", as CloudFormation gives it."""

    type_name, service = "AWS::Logs::LogGroup", "CloudWatchLogs"
    writable = {"LogGroupName", "RetentionInDays", "KmsKeyId", "LogGroupClass", "Tags"}
    updatable = {"RetentionInDays", "KmsKeyId", "Tags"}

    def create(self, ctx, m):
        from moto.logs.models import LogGroup

        if m.get("LogGroupClass", "STANDARD") != "STANDARD":
            raise HandlerError("InvalidRequest", "This emulator carries out only LogGroupClass STANDARD")
        name = m.get("LogGroupName") or generated_name("LogGroup")
        if name in ctx.logs.groups:
            raise already_exists()
        # moto reads Tags positionally ({Key, Value} order), so give them in that order.
        props = {"RetentionInDays": m.get("RetentionInDays"),
                 "Tags": [{"Key": t["Key"], "Value": t["Value"]} for t in m.get("Tags", [])]}
        group = LogGroup.create_from_cloudformation_json(name, {"Properties": props}, ctx.account, ctx.region)
        group.kms_key_id = m.get("KmsKeyId")
        return name

    def read(self, ctx, name):
        group = ctx.logs.groups.get(name)
        if group is None:
            raise not_found()
        model = {"LogGroupName": name, "Arn": f"{group.arn}:*", "LogGroupClass": "STANDARD"}
        if group.retention_in_days:
            model["RetentionInDays"] = int(group.retention_in_days)
        if group.kms_key_id:
            model["KmsKeyId"] = group.kms_key_id
        return with_tags(model, ctx.logs.list_tags_for_resource(group.arn))

    def update(self, ctx, name, prev, new):
        if new.get("RetentionInDays") != prev.get("RetentionInDays"):
            if new.get("RetentionInDays"):
                ctx.logs.put_retention_policy(name, new["RetentionInDays"])
            else:
                ctx.logs.delete_retention_policy(name)
        group = ctx.logs.groups[name]
        group.kms_key_id = new.get("KmsKeyId")
        put, drop = tag_changes(prev, new)
        if drop:
            ctx.logs.untag_resource(group.arn, drop)
        if put:
            ctx.logs.tag_resource(group.arn, put)

    def delete(self, ctx, name):
        ctx.logs.delete_log_group(name)

    def list(self, ctx):
        return list(ctx.logs.groups)


HANDLERS = {h.type_name: h() for h in (VpcType, SubnetType, SecurityGroupType, BucketType,
                                       RoleType, QueueType, TableType, LogGroupType)}


# --------------------------------------------------------------------------- requests & knobs


class ResourceRequest:
    """One Create/Update/Delete request and its progress."""

    def __init__(self, caller, operation, type_name, client_token, fingerprint,
                 identifier=None, desired=None):
        self.token = str(uuid.uuid4())
        self.account, self.region = caller
        self.operation, self.type_name = operation, type_name
        self.client_token, self.fingerprint = client_token, fingerprint
        self.identifier, self.desired = identifier, desired
        self.status, self.event_time = "IN_PROGRESS", time.time()
        self.model = self.error_code = self.message = self.timer = None

    def finish(self, status, error_code=None, message=None):
        self.status, self.error_code, self.message = status, error_code, message
        self.event_time = time.time()

    def event(self, status=None):
        event = {"TypeName": self.type_name, "RequestToken": self.token, "Operation": self.operation,
                 "OperationStatus": status or self.status, "EventTime": self.event_time}
        if self.identifier:
            event["Identifier"] = self.identifier
        if self.model is not None:
            event["ResourceModel"] = json.dumps(self.model)
        if self.error_code:
            event["ErrorCode"] = self.error_code
        if self.message:
            event["StatusMessage"] = self.message
        return event


def _env_list(name):
    return {t.strip() for t in os.environ.get(name, "").split(",") if t.strip()}


class Knobs:
    """The fault knobs (see the module docstring): environment plus TestControl settings."""

    def __init__(self):
        self.reset()
        self.calls = 0

    def reset(self):
        self.delay_ms, self.stuck, self.fail = None, set(), {}
        self.throttle_next = self.handler_throttle_next = 0

    def delay(self):
        delay = self.delay_ms if self.delay_ms is not None else os.environ.get("CLOUDCONTROL_DELAY_MS")
        return float(delay if delay is not None else DEFAULT_DELAY_MS) / 1000

    def is_stuck(self, type_name):
        return type_name in self.stuck | _env_list("CLOUDCONTROL_STUCK_TYPES")

    def failure(self, type_name):
        env = dict(item.split("=", 1) for item in _env_list("CLOUDCONTROL_FAIL_TYPES"))
        return {**env, **self.fail}.get(type_name)

    def throttle_call(self):
        """Counts a call; True if it is to answer ThrottlingException."""
        self.calls += 1
        if self.calls <= int(os.environ.get("CLOUDCONTROL_THROTTLE_FIRST", "0") or 0):
            return True
        if self.throttle_next > 0:
            self.throttle_next -= 1
            return True
        return False

    def throttle_handler(self):
        if self.handler_throttle_next > 0:
            self.handler_throttle_next -= 1
            return True
        return False

    def apply(self, body):
        if body.get("Reset"):
            self.reset()
        if "DelayMs" in body:
            self.delay_ms = body["DelayMs"]
        if "StuckTypes" in body:
            self.stuck = set(body["StuckTypes"])
        if "FailTypes" in body:
            self.fail = dict(body["FailTypes"])
        self.throttle_next += int(body.get("ThrottleNext", 0))
        self.handler_throttle_next += int(body.get("HandlerThrottleNext", 0))

    def state(self):
        return {"DelayMs": self.delay() * 1000, "StuckTypes": sorted(self.stuck), "FailTypes": self.fail,
                "ThrottleNext": self.throttle_next, "HandlerThrottleNext": self.handler_throttle_next}


def _page_token(offset, scope):
    return base64.b64encode(json.dumps({"o": offset, "s": scope}).encode()).decode()


def _page_offset(token, scope):
    if not token:
        return 0
    try:
        data = json.loads(base64.b64decode(token))
        assert data["s"] == scope
        return int(data["o"])
    except Exception:
        raise ApiError("InvalidRequestException", "Invalid NextToken")


# --------------------------------------------------------------------------- the service


class CloudControl:
    """The service: request records, the worker timers and the operations."""

    def __init__(self):
        self.lock = threading.RLock()
        self.requests = {}  # RequestToken -> ResourceRequest, oldest first
        self.client_tokens = {}  # (account, region, ClientToken) -> RequestToken
        self.knobs = Knobs()
        self.schemas = Schemas()

    def reset(self):
        with self.lock:
            for request in self.requests.values():
                if request.timer:
                    request.timer.cancel()
            self.requests.clear()
            self.client_tokens.clear()

    # ---- parameters

    def _type(self, body, operation):
        type_name = body.get("TypeName")
        pattern = "[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}"
        if not isinstance(type_name, str) or not regex.fullmatch(pattern, type_name):
            raise ApiError("ValidationException", f"1 validation error detected: Value '{type_name}' at "
                           "'typeName' failed to satisfy constraint: Member must satisfy regular "
                           f"expression pattern: {pattern}")
        if not self.schemas.exists(type_name):
            raise ApiError("TypeNotFoundException", f"The type '{type_name}' cannot be found.")
        if type_name not in HANDLERS:
            raise ApiError("UnsupportedActionException", f"Resource type {type_name} does not support "
                           f"{operation} action (not implemented by the rkit Cloud Control emulator)")
        return HANDLERS[type_name], self.schemas.get(type_name)

    @staticmethod
    def _json_param(body, name, kind):
        if name not in body:
            raise ApiError("ValidationException", f"1 validation error detected: Value null at '{name}' "
                           "failed to satisfy constraint: Member must not be null")
        try:
            value = json.loads(body[name])
        except (TypeError, ValueError) as e:
            raise ApiError("InvalidRequestException", f"{name} is not valid JSON: {e}")
        if not isinstance(value, kind):
            raise ApiError("InvalidRequestException", f"{name} must be a JSON {kind.__name__}")
        return value

    @staticmethod
    def _identifier(schema, body):
        ident = body.get("Identifier")
        if not isinstance(ident, str) or not ident:
            raise ApiError("ValidationException", "1 validation error detected: Value null at "
                           "'identifier' failed to satisfy constraint: Member must not be null")
        if ident.lstrip().startswith("{"):
            try:
                return schema.identifier(json.loads(ident))
            except (ValueError, KeyError, TypeError):
                raise ApiError("InvalidRequestException", f"Identifier {ident} does not give "
                               f"{', '.join(schema.primary)}")
        return ident

    @staticmethod
    def _fingerprint(operation, body, *values):
        fixed = {k: body.get(k) for k in ("TypeName", "TypeVersionId", "RoleArn")}
        return json.dumps([operation, fixed, *values], sort_keys=True)

    # ---- records

    def _replay(self, caller, body, fingerprint):
        """The request an earlier call with this ClientToken made, if any."""
        token = body.get("ClientToken")
        known = self.client_tokens.get((*caller, token)) if token else None
        if known is None:
            return None
        request = self.requests[known]
        if request.fingerprint != fingerprint:
            raise ApiError("ClientTokenConflictException", f"The ClientToken {token} has already been "
                           "used in another resource request")
        return request

    def _check_concurrent(self, caller, type_name, ident):
        for r in self.requests.values():
            target = (r.account, r.region, r.type_name, r.identifier)
            if target == (*caller, type_name, ident) and r.status in UNFINISHED:
                raise ApiError("ConcurrentOperationException", "Another resource operation is currently "
                               f"being performed on this resource: request {r.token}")

    def _start(self, caller, body, operation, type_name, fingerprint, **fields):
        token = body.get("ClientToken")
        request = ResourceRequest(caller, operation, type_name, token, fingerprint, **fields)
        self.requests[request.token] = request
        if request.client_token:
            self.client_tokens[(*caller, request.client_token)] = request.token
        if not self.knobs.is_stuck(type_name):
            request.timer = threading.Timer(self.knobs.delay(), self._run, (request,))
            request.timer.daemon = True
            request.timer.start()
        return {"ProgressEvent": request.event()}

    # ---- the work

    def _read(self, ctx, handler, schema, ident):
        """The current model, or HandlerError NotFound."""
        try:
            model = handler.read(ctx, ident)
        except HandlerError:
            raise
        except Exception as e:
            error = service_error(e, handler.service)
            raise not_found() if error and error.code == "NotFound" else (error or e)
        model = {k: v for k, v in model.items() if k not in schema.write_only}
        return {**model, **{k: v for k, v in schema.defaults.items() if k not in model}}

    def _run(self, request):
        with self.lock:
            if request.status != "IN_PROGRESS":
                return
            handler, schema = HANDLERS[request.type_name], self.schemas.get(request.type_name)
            ctx = Ctx(request.account, request.region)
            try:
                self._fault(request)
                getattr(self, f"_do_{request.operation.lower()}")(ctx, handler, schema, request)
                request.finish("SUCCESS")
            except Exception as e:
                error = e if isinstance(e, HandlerError) else service_error(e, handler.service)
                error = error or HandlerError("InternalFailure", f"{type(e).__name__}: {e}")
                request.finish("FAILED", error.code, error.message or self._message(request, error.code))

    def _fault(self, request):
        code = self.knobs.failure(request.type_name)
        if code:
            raise HandlerError(code, f"Injected {code} (CLOUDCONTROL fault knob)")
        if self.knobs.throttle_handler():
            service = HANDLERS[request.type_name].service
            raise HandlerError("Throttling", f"Rate exceeded (Service: {service}, Status Code: 400, "
                               f"Request ID: {uuid.uuid4()})")

    @staticmethod
    def _message(request, code):
        what = f"Resource of type '{request.type_name}' with identifier '{request.identifier}'"
        messages = {"NotFound": f"{what} was not found.", "AlreadyExists": f"{what} already exists."}
        return messages.get(code, code)

    @staticmethod
    def _check_supported(handler, schema, model, allowed):
        unsupported = sorted(k for k in model
                             if k not in allowed and schema.defaults.get(k, object()) != model[k])
        if unsupported:
            raise HandlerError("InvalidRequest", f"Properties [{', '.join(unsupported)}] of "
                               f"{handler.type_name} are not carried out by the rkit Cloud Control emulator")

    def _do_create(self, ctx, handler, schema, request):
        model = schema.writable(request.desired)
        schema.validate(model)
        self._check_supported(handler, schema, model, handler.writable)
        request.identifier = handler.create(ctx, model)
        request.model = self._read(ctx, handler, schema, request.identifier)

    def _do_update(self, ctx, handler, schema, request):
        prev = schema.writable(self._read(ctx, handler, schema, request.identifier))
        new = {**schema.defaults, **request.desired}  # a property removed is back to its default
        schema.validate(new)
        changed = {k: new.get(k) for k in set(prev) | set(new) if prev.get(k) != new.get(k)}
        self._check_supported(handler, schema, changed, handler.updatable)
        handler.update(ctx, request.identifier, prev, new)
        request.model = self._read(ctx, handler, schema, request.identifier)

    def _do_delete(self, ctx, handler, schema, request):
        self._read(ctx, handler, schema, request.identifier)
        handler.delete(ctx, request.identifier)

    # ---- operations

    def create_resource(self, caller, body):
        handler, schema = self._type(body, "CREATE")
        desired = self._json_param(body, "DesiredState", dict)
        fingerprint = self._fingerprint("CREATE", body, desired)
        with self.lock:
            earlier = self._replay(caller, body, fingerprint)
            if earlier:
                return {"ProgressEvent": earlier.event()}
            return self._start(caller, body, "CREATE", handler.type_name, fingerprint, desired=desired)

    def update_resource(self, caller, body):
        handler, schema = self._type(body, "UPDATE")
        ident = self._identifier(schema, body)
        patch = self._json_param(body, "PatchDocument", list)
        fingerprint = self._fingerprint("UPDATE", body, ident, patch)
        with self.lock:
            earlier = self._replay(caller, body, fingerprint)
            if earlier:
                return {"ProgressEvent": earlier.event()}
            current = self._get_model(caller, handler, schema, ident)
            ident = schema.identifier(current)
            self._check_concurrent(caller, handler.type_name, ident)
            desired = self._patched(schema, current, patch)
            return self._start(caller, body, "UPDATE", handler.type_name, fingerprint,
                               identifier=ident, desired=desired)

    @staticmethod
    def _patched(schema, current, patch):
        try:
            patched = jsonpatch.JsonPatch(patch).apply(current)
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as e:
            raise ApiError("InvalidRequestException", f"Invalid patch document: {e}")
        for kind, props in (("createOnlyProperties", schema.create_only),
                            ("readOnlyProperties", schema.read_only)):
            touched = sorted(f"/properties/{p}" for p in props if current.get(p) != patched.get(p))
            if touched:
                raise ApiError("NotUpdatableException",
                               f"Invalid patch update: {kind} [{', '.join(touched)}] cannot be updated")
        return schema.writable(patched)

    def delete_resource(self, caller, body):
        handler, schema = self._type(body, "DELETE")
        ident = self._identifier(schema, body)
        fingerprint = self._fingerprint("DELETE", body, ident)
        with self.lock:
            earlier = self._replay(caller, body, fingerprint)
            if earlier:
                return {"ProgressEvent": earlier.event()}
            self._check_concurrent(caller, handler.type_name, ident)
            return self._start(caller, body, "DELETE", handler.type_name, fingerprint, identifier=ident)

    def _get_model(self, caller, handler, schema, ident):
        try:
            return self._read(Ctx(*caller), handler, schema, ident)
        except HandlerError as e:
            if e.code == "NotFound":
                raise ApiError("ResourceNotFoundException", f"Resource of type '{handler.type_name}' with "
                               f"identifier '{ident}' was not found.")
            raise ApiError(_API_ERRORS.get(e.code, f"{e.code}Exception"), e.message or e.code)

    def get_resource(self, caller, body):
        handler, schema = self._type(body, "READ")
        ident = self._identifier(schema, body)
        with self.lock:
            model = self._get_model(caller, handler, schema, ident)
        return {"TypeName": handler.type_name, "ResourceDescription": {
            "Identifier": schema.identifier(model), "Properties": json.dumps(model)}}

    def list_resources(self, caller, body):
        handler, schema = self._type(body, "LIST")
        size = self._page_size(body)
        scope = f"{handler.type_name}/{caller}"
        offset = _page_offset(body.get("NextToken"), scope)
        with self.lock:
            idents = handler.list(Ctx(*caller))
            page = []
            for ident in idents[offset:offset + size]:
                model = self._read(Ctx(*caller), handler, schema, ident)
                props = model if handler.list_full else {p: model[p] for p in schema.primary}
                page.append({"Identifier": schema.identifier(model), "Properties": json.dumps(props)})
        out = {"TypeName": handler.type_name, "ResourceDescriptions": page}
        if offset + size < len(idents):
            out["NextToken"] = _page_token(offset + size, scope)
        return out

    @staticmethod
    def _page_size(body):
        size = body.get("MaxResults", 20)
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise ApiError("ValidationException", "1 validation error detected: Value at 'maxResults' "
                           "failed to satisfy constraint: Member must have value between 1 and 100")
        return size

    def _request(self, caller, body):
        request = self.requests.get(body.get("RequestToken"))
        if request is None or (request.account, request.region) != tuple(caller):
            raise ApiError("RequestTokenNotFoundException", f"Request with token {body.get('RequestToken')} "
                           "was not found")
        return request

    def get_resource_request_status(self, caller, body):
        with self.lock:
            return {"ProgressEvent": self._request(caller, body).event()}

    def cancel_resource_request(self, caller, body):
        with self.lock:
            request = self._request(caller, body)
            if request.status not in ("PENDING", "IN_PROGRESS"):
                raise ApiError("ConcurrentModificationException", f"Request {request.token} is in status "
                               f"{request.status} and cannot be canceled")
            if request.timer:
                request.timer.cancel()
            request.finish("CANCEL_COMPLETE")
            return {"ProgressEvent": request.event("CANCEL_IN_PROGRESS")}

    def list_resource_requests(self, caller, body):
        size = self._page_size(body)
        wanted = body.get("ResourceRequestStatusFilter") or {}
        operations, statuses = wanted.get("Operations"), wanted.get("OperationStatuses")
        scope = f"requests/{caller}"
        offset = _page_offset(body.get("NextToken"), scope)
        with self.lock:
            found = [r.event() for r in reversed(list(self.requests.values()))
                     if (r.account, r.region) == tuple(caller)
                     and (not operations or r.operation in operations)
                     and (not statuses or r.status in statuses)]
        out = {"ResourceRequestStatusSummaries": found[offset:offset + size]}
        if offset + size < len(found):
            out["NextToken"] = _page_token(offset + size, scope)
        return out

    def test_control(self, body):
        with self.lock:
            self.knobs.apply(body)
            return self.knobs.state()

    OPERATIONS = {
        "CreateResource": create_resource, "UpdateResource": update_resource,
        "DeleteResource": delete_resource, "GetResource": get_resource,
        "ListResources": list_resources, "GetResourceRequestStatus": get_resource_request_status,
        "CancelResourceRequest": cancel_resource_request, "ListResourceRequests": list_resource_requests,
    }

    # ---- HTTP

    def __call__(self, environ, start_response):
        headers = EnvironHeaders(environ)
        operation = headers.get("X-Amz-Target", "")[len(TARGET_PREFIX):]
        body = _read_body(environ)
        try:
            status, payload = 200, self._handle(environ, headers, operation, body)
        except ApiError as e:
            status, payload = e.status, {"__type": e.kind, "message": e.message, "Message": e.message}
        except Exception as e:  # an emulator bug: say so, and keep serving
            traceback.print_exc()
            message = f"{type(e).__name__}: {e}"
            status, payload = 500, {"__type": "ServiceInternalErrorException",
                                    "message": message, "Message": message}
        data = json.dumps(payload).encode()
        start_response(f"{status} {HTTPStatus(status).phrase}", [
            ("Content-Type", "application/x-amz-json-1.0"), ("Content-Length", str(len(data))),
            ("x-amzn-RequestId", str(uuid.uuid4()))])
        return [data]

    def _handle(self, environ, headers, operation, body):
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            raise ApiError("SerializationException", "The request body is not valid JSON")
        if operation == "TestControl":
            return self.test_control(params)
        caller = _caller(headers)
        _authorize(environ, headers, body, operation, caller[0])
        with self.lock:
            throttled = self.knobs.throttle_call()
        if throttled:
            raise ApiError("ThrottlingException", "Rate exceeded")
        method = self.OPERATIONS.get(operation)
        if method is None:
            raise ApiError("UnknownOperationException", f"Unknown operation {operation}")
        return method(self, caller, params)


_API_ERRORS = {"GeneralServiceException": "GeneralServiceException", "InternalFailure":
               "HandlerInternalFailureException", "ServiceInternalError": "ServiceInternalErrorException"}


def _read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    return environ["wsgi.input"].read(length) if length else b""


def _caller(headers):
    """(account, region) of a request, as moto decides them."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import get_account_id_from

    auth = headers.get("Authorization", "")
    scope = auth.partition("Credential=")[2].partition(",")[0].split("/")
    region = scope[2] if len(scope) >= 4 else "us-east-1"
    if "MOTO_ACCOUNT_ID" in os.environ:
        return os.environ["MOTO_ACCOUNT_ID"], region
    if headers.get("x-moto-account-id"):
        return headers["x-moto-account-id"], region
    return (get_account_id_from(scope[0]) if scope[0] else DEFAULT_ACCOUNT_ID), region


_AUTH_ERRORS = {  # moto's error -> (this JSON service's error, HTTP status)
    "SignatureDoesNotMatch": ("InvalidSignatureException", 403),
    "InvalidClientTokenId": ("UnrecognizedClientException", 403),
    "AuthFailure": ("UnrecognizedClientException", 403),
    "AccessDenied": ("AccessDeniedException", 400),
}


def _authorize(environ, headers, body, operation, account):
    """moto's INITIAL_NO_AUTH_ACTION_COUNT: count the call, or check it as moto checks its own."""
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.iam.access_control import IAMRequest

    if ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT:
        ActionAuthenticatorMixin.request_count += 1
        return
    if "Authorization" not in headers:
        raise ApiError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
    query = environ.get("QUERY_STRING")
    path = environ.get("PATH_INFO", "/") + (f"?{query}" if query else "")
    try:
        request = IAMRequest(account_id=account, method=environ["REQUEST_METHOD"], path=path, data={},
                             body=body, headers=headers, action=operation)
        request._action = f"cloudformation:{operation}"
        request.check_signature()
        request.check_action_permitted("*")
    except Exception as e:
        kind = getattr(e, "error_type", None)
        if kind not in _AUTH_ERRORS:
            raise
        name, status = _AUTH_ERRORS[kind]
        raise ApiError(name, getattr(e, "message", str(e)), status)


def middleware(app):
    """moto's WSGI app with Cloud Control in front: requests whose X-Amz-Target starts with
    CloudApiService. are Cloud Control's, everything else is moto's."""
    service = CloudControl()

    def dispatch(environ, start_response):
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(TARGET_PREFIX):
            return service(environ, start_response)
        if environ.get("PATH_INFO") == "/moto-api/reset" and environ.get("REQUEST_METHOD") == "POST":
            service.reset()
        return app(environ, start_response)

    dispatch.cloudcontrol = service
    return dispatch
