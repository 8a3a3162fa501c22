"""The AWS tests' independent view of the emulator, through boto3 (not through rkit).

    emulator.py state       prints what EC2 and ELBv2 hold, as JSON
    emulator.py access-key  creates an IAM user allowed everything; prints its key as JSON
    emulator.py remove ID…  terminates instances, deletes target groups (by ARN)
    emulator.py user-data ID            prints an instance's user data (text)
    emulator.py stack-instances STACK   the stack's instances not terminated

The endpoint, region and credentials come from the usual AWS_* variables.
"""

import json
import os
import sys

import boto3


def client(service):
    return boto3.client(
        service,
        region_name=os.environ["AWS_REGION"],
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
    )


def tags(obj):
    return {t["Key"]: t["Value"] for t in obj.get("Tags", [])}


def rule(p, r):
    ports = f"{p.get('FromPort', '')}-{p.get('ToPort', '')}" if p["IpProtocol"] != "-1" else "all"
    return f"{p['IpProtocol']}:{ports}:{r}"


def rules(permissions):
    found = []
    for p in permissions:
        found += [rule(p, r["CidrIp"]) for r in p.get("IpRanges", [])]
        found += [rule(p, g["GroupId"]) for g in p.get("UserIdGroupPairs", [])]
    return sorted(found)


def state():
    ec2, elb = client("ec2"), client("elbv2")
    out = {}
    out["vpcs"] = [
        {"id": v["VpcId"], "cidr": v["CidrBlock"], "tags": tags(v)}
        for v in ec2.describe_vpcs()["Vpcs"]
        if not v.get("IsDefault")
    ]
    default_vpcs = {v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v.get("IsDefault")}
    out["subnets"] = [
        {
            "id": s["SubnetId"],
            "vpc": s["VpcId"],
            "cidr": s["CidrBlock"],
            "zone": s["AvailabilityZone"],
            "public_ip": s["MapPublicIpOnLaunch"],
            "tags": tags(s),
        }
        for s in ec2.describe_subnets()["Subnets"]
        if s["VpcId"] not in default_vpcs
    ]
    out["gateways"] = [
        {"id": g["InternetGatewayId"], "vpcs": [a["VpcId"] for a in g.get("Attachments", [])], "tags": tags(g)}
        for g in ec2.describe_internet_gateways()["InternetGateways"]
    ]
    out["route_tables"] = [
        {
            "id": t["RouteTableId"],
            "vpc": t["VpcId"],
            "routes": sorted(
                f"{r.get('DestinationCidrBlock')}->{r.get('GatewayId') or r.get('InstanceId')}"
                for r in t.get("Routes", [])
                if r.get("GatewayId") != "local"
            ),
            "subnets": sorted(a["SubnetId"] for a in t.get("Associations", []) if a.get("SubnetId")),
            "tags": tags(t),
        }
        for t in ec2.describe_route_tables()["RouteTables"]
        if not any(a.get("Main") for a in t.get("Associations", []))
    ]
    out["security_groups"] = [
        {
            "id": g["GroupId"],
            "name": g["GroupName"],
            "vpc": g.get("VpcId"),
            "ingress": rules(g.get("IpPermissions", [])),
            "egress": rules(g.get("IpPermissionsEgress", [])),
            "tags": tags(g),
        }
        for g in ec2.describe_security_groups()["SecurityGroups"]
        if g["GroupName"] != "default"
    ]
    out["volumes"] = [
        {
            "id": v["VolumeId"],
            "size": v["Size"],
            "type": v["VolumeType"],
            "zone": v["AvailabilityZone"],
            "attachments": [
                {"instance": a["InstanceId"], "device": a["Device"], "state": a["State"]}
                for a in v.get("Attachments", [])
            ],
            "tags": tags(v),
        }
        for v in ec2.describe_volumes()["Volumes"]
        if not any(a.get("DeleteOnTermination") for a in v.get("Attachments", []))
        and not v.get("SnapshotId")
    ]
    out["instances"] = [
        {
            "id": i["InstanceId"],
            "state": i["State"]["Name"],
            "subnet": i.get("SubnetId"),
            "type": i["InstanceType"],
            "groups": sorted(g["GroupId"] for g in i.get("SecurityGroups", [])),
            "tags": tags(i),
        }
        for page in ec2.get_paginator("describe_instances").paginate()
        for r in page["Reservations"]
        for i in r["Instances"]
    ]
    lbs = elb.describe_load_balancers()["LoadBalancers"]

    def elb_tags(arn):
        found = elb.describe_tags(ResourceArns=[arn])["TagDescriptions"]
        return {t["Key"]: t["Value"] for d in found for t in d.get("Tags", [])}

    out["load_balancers"] = [
        {
            "arn": lb["LoadBalancerArn"],
            "name": lb["LoadBalancerName"],
            "subnets": sorted(z["SubnetId"] for z in lb.get("AvailabilityZones", [])),
            "groups": sorted(lb.get("SecurityGroups", [])),
            "tags": elb_tags(lb["LoadBalancerArn"]),
        }
        for lb in lbs
    ]
    out["target_groups"] = [
        {
            "arn": tg["TargetGroupArn"],
            "name": tg["TargetGroupName"],
            "port": tg["Port"],
            "vpc": tg["VpcId"],
            "targets": sorted(
                d["Target"]["Id"]
                for d in elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
            ),
            "tags": elb_tags(tg["TargetGroupArn"]),
        }
        for tg in elb.describe_target_groups()["TargetGroups"]
    ]
    out["listeners"] = [
        {
            "arn": li["ListenerArn"],
            "load_balancer": li["LoadBalancerArn"],
            "port": li["Port"],
            "forward": [a.get("TargetGroupArn") for a in li["DefaultActions"]],
            "tags": elb_tags(li["ListenerArn"]),
        }
        for lb in lbs
        for li in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    ]
    return out


def access_key():
    iam = client("iam")
    iam.create_user(UserName="rkit-test")
    iam.put_user_policy(
        UserName="rkit-test",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    key = iam.create_access_key(UserName="rkit-test")["AccessKey"]
    return {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}


def named(objects, key, name):
    return next(o[key] for o in objects if tags(o).get("rkit:name") == name)


def role_session():
    """A role allowed everything and a session of it, as a machine's instance profile or an
    ECS task holds: temporary credentials with a session token that moto recognises."""
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    arn = iam.create_role(RoleName="rkit-manager", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="rkit-manager",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        ),
    )
    c = client("sts").assume_role(RoleArn=arn, RoleSessionName="machine")["Credentials"]
    return {"AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
            "SessionToken": c["SessionToken"]}


def drift():
    """Changes the example stack behind rkit's back: terminates WebA, revokes the SSH rule
    of WebSecurityGroup, turns off PublicA's public IPs."""
    ec2 = client("ec2")
    instances = [
        i
        for r in ec2.describe_instances()["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] == "running"
    ]
    web_a = named(instances, "InstanceId", "WebA")
    ec2.terminate_instances(InstanceIds=[web_a])
    group = named(ec2.describe_security_groups()["SecurityGroups"], "GroupId", "WebSecurityGroup")
    ec2.revoke_security_group_ingress(
        GroupId=group,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
                        "IpRanges": [{"CidrIp": "203.0.113.0/24"}]}],
    )
    subnet = named(ec2.describe_subnets()["Subnets"], "SubnetId", "PublicA")
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": False})
    return {"terminated": web_a, "group": group, "subnet": subnet}


def group_members(ec2, group):
    return [
        i
        for r in ec2.describe_instances(
            Filters=[{"Name": "tag:rkit:group", "Values": [group]}]
        )["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] == "running"
    ]


def seed(stack, group, subnet):
    """Starts an instance by hand as a group's seed: the stack's and the group's tags and
    rkit:config-hash=bootstrap (what a bootstrap script does before rkit takes over)."""
    ec2 = client("ec2")
    tags = [
        {"Key": "rkit:stack", "Value": stack},
        {"Key": "rkit:group", "Value": group},
        {"Key": "rkit:config-hash", "Value": "bootstrap"},
        {"Key": "Name", "Value": "seed"},
    ]
    run = ec2.run_instances(
        ImageId="ami-0c02fb55956c7d316", InstanceType="t3.micro", MinCount=1, MaxCount=1,
        SubnetId=subnet, TagSpecifications=[{"ResourceType": "instance", "Tags": tags}],
    )
    return {"id": run["Instances"][0]["InstanceId"]}


def watch(group, stop_file):
    """Counts the group's running members (and the healthy targets of each target group) every
    50 ms until stop_file exists: the fewest and most seen, and how many samples."""
    import os
    import time

    ec2, elb = client("ec2"), client("elbv2")
    arns = [tg["TargetGroupArn"] for tg in elb.describe_target_groups()["TargetGroups"]]
    counts, healthy = [], []
    while not os.path.exists(stop_file):
        counts.append(len(group_members(ec2, group)))
        for arn in arns:
            found = elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]
            healthy.append(sum(1 for d in found if d["TargetHealth"]["State"] == "healthy"))
        time.sleep(0.05)
    return {"min": min(counts), "max": max(counts), "samples": len(counts),
            "min_healthy_targets": min(healthy) if healthy else None}


def members(group):
    ec2 = client("ec2")
    return [
        {"id": i["InstanceId"], "type": i["InstanceType"], "tags": tags(i)}
        for i in group_members(ec2, group)
    ]


def user_data(instance):
    """An instance's user data, as the instance itself reads it (text)."""
    import base64

    found = client("ec2").describe_instance_attribute(InstanceId=instance, Attribute="userData")
    value = found.get("UserData", {}).get("Value", "")
    return {"user_data": base64.b64decode(value).decode("utf-8") if value else ""}


def stack_instances(stack):
    """The stack's instances that are not terminated: ID, state and tags."""
    ec2 = client("ec2")
    return [
        {"id": i["InstanceId"], "state": i["State"]["Name"], "type": i["InstanceType"],
         "tags": tags(i)}
        for r in ec2.describe_instances(
            Filters=[{"Name": "tag:rkit:stack", "Values": [stack]}]
        )["Reservations"]
        for i in r["Instances"]
        if i["State"]["Name"] not in ("terminated", "shutting-down")
    ]


def bucket(name):
    """Creates an S3 bucket (for a shared state)."""
    client("s3").create_bucket(Bucket=name)
    return {"bucket": name}


def objects(name):
    """Every object of an S3 bucket: key → body (text)."""
    s3 = client("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for o in page.get("Contents", []):
            body = s3.get_object(Bucket=name, Key=o["Key"])["Body"].read()
            out[o["Key"]] = body.decode("utf-8", "replace")
    return out


def sizes(name):
    """Every object of an S3 bucket: key → size in bytes."""
    s3 = client("s3")
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for o in page.get("Contents", []):
            out[o["Key"]] = o["Size"]
    return out


def buckets():
    """Every S3 bucket: name → versioning, tags, policy, and its objects (key → content,
    content type, tags)."""
    s3 = client("s3")
    out = {}
    for b in s3.list_buckets()["Buckets"]:
        name = b["Name"]
        try:
            tagset = s3.get_bucket_tagging(Bucket=name)["TagSet"]
        except s3.exceptions.ClientError:
            tagset = []
        try:
            policy = json.loads(s3.get_bucket_policy(Bucket=name)["Policy"])
        except s3.exceptions.ClientError:
            policy = None
        objects = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            for o in page.get("Contents", []):
                got = s3.get_object(Bucket=name, Key=o["Key"])
                otags = s3.get_object_tagging(Bucket=name, Key=o["Key"])["TagSet"]
                objects[o["Key"]] = {
                    "content": got["Body"].read().decode("utf-8", "replace"),
                    "content_type": got["ContentType"],
                    "tags": {t["Key"]: t["Value"] for t in otags},
                }
        out[name] = {
            "versioning": s3.get_bucket_versioning(Bucket=name).get("Status"),
            "tags": {t["Key"]: t["Value"] for t in tagset},
            "policy": policy,
            "objects": objects,
        }
    return out


def put_object(bucket_name, key, content):
    """Changes an object behind rkit's back (drift)."""
    client("s3").put_object(Bucket=bucket_name, Key=key, Body=content.encode())
    return {"put": key}


def delete_object(bucket_name, key):
    """Deletes an object behind rkit's back (tampering)."""
    client("s3").delete_object(Bucket=bucket_name, Key=key)
    return {"deleted": key}


def security_group(vpc, name):
    """Makes a security group by hand (for import): AWS gives it its default egress rule."""
    made = client("ec2").create_security_group(VpcId=vpc, GroupName=name, Description="by hand")
    return {"id": made["GroupId"]}


def remove(*ids):
    """Deletes objects behind rkit's back, by EC2 instance ID or ELBv2 target group ARN."""
    instances = [i for i in ids if i.startswith("i-")]
    if instances:
        client("ec2").terminate_instances(InstanceIds=instances)
    for arn in ids:
        if ":targetgroup/" in arn:
            client("elbv2").delete_target_group(TargetGroupArn=arn)
    return {"removed": list(ids)}


if __name__ == "__main__":
    commands = {"state": state, "access-key": access_key, "role-session": role_session, "drift": drift, "seed": seed,
                "watch": watch, "members": members, "bucket": bucket, "objects": objects,
                "buckets": buckets, "sizes": sizes, "put-object": put_object, "delete-object": delete_object,
                "remove": remove, "user-data": user_data, "stack-instances": stack_instances,
                "security-group": security_group}
    print(json.dumps(commands[sys.argv[1]](*sys.argv[2:])))
