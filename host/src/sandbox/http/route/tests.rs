//! The routing model, class by class: what a service routes on decides, and every extra or
//! conflicting signal is refused.

use super::super::aws_api::service;
use super::super::needs::needs;
use super::*;

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

const FORM: (&str, &str) = (
    "content-type",
    "application/x-www-form-urlencoded; charset=utf-8",
);
const EC2: &str = "https://ec2.us-east-1.amazonaws.com/";

/// `route` of a request to an origin serving `services`.
fn routed(
    services: &[&str],
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<Routed, String> {
    let candidates: Vec<_> = services.iter().map(|s| service(s).unwrap()).collect();
    route(&request(method, uri, headers), body.as_bytes(), &candidates)
}

/// The operation `route` reads, or its refusal.
fn op(
    services: &[&str],
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Result<String, String> {
    routed(services, method, uri, headers, body)
        .map(|r| format!("{}:{}", r.service.signing_name, r.operation.name))
}

/// Every action the request needs, `action@resource` (`@?` when the resource is unknown).
fn actions(
    services: &[&str],
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Vec<String> {
    let routed = routed(services, method, uri, headers, body).unwrap();
    needs(&routed, body.as_bytes(), "us-east-1")
        .unwrap()
        .into_iter()
        .map(|n| match n.resources.as_slice() {
            [] => format!("{}@?", n.action),
            rs => format!("{}@{}", n.action, rs.join("+")),
        })
        .collect()
}

fn refused(result: Result<String, String>, why: &str) {
    let err = result.expect_err("refused");
    assert!(err.contains(why), "{err:?} does not say {why:?}");
}

#[test]
fn query_requests_are_routed_by_their_one_action() {
    let ok = "Action=DescribeVpcs&Version=2016-11-15&VpcId.1=vpc-1";
    assert_eq!(
        op(&["ec2"], "POST", EC2, &[FORM], ok).unwrap(),
        "ec2:DescribeVpcs"
    );
    let ec2 =
        |uri: &str, headers: &[(&str, &str)], body: &str| op(&["ec2"], "POST", uri, headers, body);
    refused(
        ec2(
            EC2,
            &[FORM, ("x-amz-target", "AmazonEC2.DescribeVpcs")],
            "Action=DeleteVpc&Version=2016-11-15",
        ),
        "carries X-Amz-Target",
    );
    refused(
        ec2(
            EC2,
            &[FORM],
            "Action=DescribeVpcs&Version=2016-11-15&Action=DeleteVpc",
        ),
        "form field Action is given twice",
    );
    refused(
        ec2(
            &format!("{EC2}?Action=DeleteVpc"),
            &[FORM],
            "Action=DescribeVpcs&Version=2016-11-15",
        ),
        "no query string",
    );
    refused(
        ec2(EC2, &[("content-type", "application/json")], ok),
        "content type",
    );
    refused(
        ec2(
            EC2,
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=latin1",
            )],
            ok,
        ),
        "parameter",
    );
    refused(ec2(EC2, &[], ok), "no content type");
    refused(
        ec2(
            EC2,
            &[FORM],
            "Action=DescribeVpcs&Version=2016-11-15&Smuggled=1",
        ),
        "form field Smuggled",
    );
    refused(
        ec2(EC2, &[FORM], "Action=DescribeVpcs&Version=2015-12-01"),
        "names API version 2015-12-01",
    );
    refused(
        ec2(EC2, &[FORM], "Action=StealEverything&Version=2016-11-15"),
        "an operation rkit does not know",
    );
    refused(
        ec2(EC2, &[FORM], "Version=2016-11-15"),
        "names no API action",
    );
    refused(ec2(&format!("{EC2}x"), &[FORM], ok), "requests go to /");
    refused(
        op(
            &["ec2"],
            "GET",
            &format!("{EC2}?Action=DescribeVpcs&Version=2016-11-15"),
            &[],
            "",
        ),
        "POSTs",
    );
    refused(
        ec2(EC2, &[FORM, ("content-encoding", "gzip")], ok),
        "encoded",
    );
    refused(
        ec2(EC2, &[FORM, ("host", "iam.amazonaws.com")], ok),
        "Host header",
    );
}

#[test]
fn query_requests_need_what_their_fields_imply() {
    let body = "Action=RunInstances&Version=2016-11-15&ImageId=ami-12&SubnetId=subnet-0a\
                &TagSpecification.1.ResourceType=instance&TagSpecification.1.Tag.1.Key=k\
                &IamInstanceProfile.Name=p&MinCount=1&MaxCount=1";
    assert_eq!(
        actions(&["ec2"], "POST", EC2, &[FORM], body),
        [
            "ec2:RunInstances@arn:aws:ec2:us-east-1::image/ami-12+arn:aws:ec2:us-east-1::subnet/subnet-0a",
            "ec2:CreateTags@arn:aws:ec2:us-east-1::image/ami-12+arn:aws:ec2:us-east-1::subnet/subnet-0a",
            "iam:PassRole@arn:aws:ec2:us-east-1::image/ami-12+arn:aws:ec2:us-east-1::subnet/subnet-0a",
        ]
    );
    let elb = "Action=CreateTargetGroup&Version=2015-12-01&Name=t&Tags.member.1.Key=k";
    assert_eq!(
        actions(
            &["elasticloadbalancing"],
            "POST",
            "https://elasticloadbalancing.us-east-1.amazonaws.com/",
            &[FORM],
            elb
        ),
        [
            "elasticloadbalancing:CreateTargetGroup@?",
            "elasticloadbalancing:AddTags@?"
        ]
    );
}

#[test]
fn json_requests_are_routed_by_their_target() {
    let cc = "https://cloudcontrolapi.us-east-1.amazonaws.com/";
    let json = ("content-type", "application/x-amz-json-1.0");
    let target = ("x-amz-target", "CloudApiService.GetResource");
    let body = r#"{"TypeName":"AWS::S3::Bucket","Identifier":"b"}"#;
    let call =
        |headers: &[(&str, &str)], body: &str| op(&["cloudcontrolapi"], "POST", cc, headers, body);
    assert_eq!(
        call(&[json, target], body).unwrap(),
        "cloudcontrolapi:GetResource"
    );
    refused(call(&[json], body), "no X-Amz-Target");
    refused(
        call(&[json, ("x-amz-target", "Other.GetResource")], body),
        "is not CloudApiService.Operation",
    );
    refused(call(&[FORM, target], body), "content type");
    refused(
        call(
            &[("content-type", "application/x-amz-json-1.1"), target],
            body,
        ),
        "content type",
    );
    refused(
        call(&[json, target], r#"{"TypeName":"a","TypeName":"b"}"#),
        "repeated",
    );
    refused(
        call(
            &[json, target],
            r#"{"TypeName":"a","Action":"DeleteResource"}"#,
        ),
        "JSON key Action",
    );
    refused(call(&[json, target], "Action=DeleteResource"), "JSON");
    refused(
        op(
            &["cloudcontrolapi"],
            "POST",
            &format!("{cc}?Action=DeleteResource"),
            &[json, target],
            body,
        ),
        "no query string",
    );
}

#[test]
fn s3_requests_are_routed_by_method_path_query_and_required_headers() {
    let s3 = |method: &str, path: &str, headers: &[(&str, &str)]| {
        op(
            &["s3"],
            method,
            &format!("https://s3.us-east-1.amazonaws.com{path}"),
            headers,
            "",
        )
    };
    for (method, path, headers, expected) in [
        ("GET", "/", &[][..], "ListBuckets"),
        ("PUT", "/b-1", &[], "CreateBucket"),
        ("PUT", "/b-1/", &[], "CreateBucket"),
        ("DELETE", "/b-1", &[], "DeleteBucket"),
        ("HEAD", "/b-1", &[], "HeadBucket"),
        ("GET", "/b-1?list-type=2&prefix=x", &[], "ListObjectsV2"),
        ("GET", "/b-1?prefix=x", &[], "ListObjects"),
        ("PUT", "/b-1?tagging", &[], "PutBucketTagging"),
        ("PUT", "/b-1?replication", &[], "PutBucketReplication"),
        ("PUT", "/b-1/dir/k.txt", &[], "PutObject"),
        (
            "PUT",
            "/b-1/k",
            &[("x-amz-copy-source", "/src/k")],
            "CopyObject",
        ),
        ("PUT", "/b-1/k?partNumber=1&uploadId=u", &[], "UploadPart"),
        (
            "PUT",
            "/b-1/k?partNumber=1&uploadId=u",
            &[("x-amz-copy-source", "/src/k")],
            "UploadPartCopy",
        ),
        ("HEAD", "/b-1/k", &[], "HeadObject"),
        ("GET", "/b-1/k?x-id=GetObject", &[], "GetObject"),
        ("POST", "/b-1?delete", &[], "DeleteObjects"),
    ] {
        assert_eq!(
            s3(method, path, headers).unwrap(),
            format!("s3:{expected}"),
            "{method} {path}"
        );
    }
    refused(
        s3("DELETE", "/b-1", &[("x-amz-target", "AmazonS3.PutObject")]),
        "carries X-Amz-Target",
    );
    refused(s3("GET", "/b-1/k?x-id=PutObject", &[]), "no s3 operation");
    refused(
        s3("PUT", "/b-1?tagging&tagging", &[]),
        "query key tagging is given twice",
    );
    refused(s3("PUT", "/b-1?tagging&versioning", &[]), "no s3 operation");
    refused(
        s3("GET", "/b-1/k?Action=DeleteBucket", &[]),
        "no s3 operation",
    );
    refused(s3("PUT", "/b-1%2Fk", &[]), "encoded separator");
    refused(s3("PUT", "/b-1/a/%2e%2e/k", &[]), "dot segment");
    refused(s3("PUT", "/b-1/a%5Cb", &[]), "encoded separator");
    refused(s3("PUT", "/b-1/%ZZ", &[]), "percent-encoded");
    refused(s3("PUT", "/b-1/%0a", &[]), "control character");
    refused(s3("PATCH", "/b-1", &[]), "no s3 operation");
    refused(
        s3("PUT", "/b-1/k", &[("x-amz-grant-write", "id=1")]),
        "header x-amz-grant-write is not one PutObject takes",
    );
    refused(s3("PUT", "/b-1/k", &[FORM]), "form of parameters");
    refused(
        s3(
            "POST",
            "/b-1/k",
            &[("content-type", "multipart/form-data; boundary=x")],
        ),
        "form of parameters",
    );
}

#[test]
fn s3_requests_need_what_their_headers_imply() {
    let url = |path: &str| format!("https://s3.us-east-1.amazonaws.com{path}");
    assert_eq!(
        actions(
            &["s3"],
            "PUT",
            &url("/dst/k"),
            &[("x-amz-copy-source", "/src/a%20b?versionId=7")],
            ""
        ),
        [
            "s3:PutObject@arn:aws:s3:::dst/k",
            "s3:GetObjectVersion@arn:aws:s3:::src/a b"
        ]
    );
    assert_eq!(
        actions(
            &["s3"],
            "PUT",
            &url("/dst/k"),
            &[
                ("x-amz-acl", "public-read"),
                ("x-amz-tagging", "a=b"),
                ("x-amz-object-lock-legal-hold", "ON")
            ],
            ""
        ),
        [
            "s3:PutObject@arn:aws:s3:::dst/k",
            "s3:PutObjectAcl@arn:aws:s3:::dst/k",
            "s3:PutObjectTagging@arn:aws:s3:::dst/k",
            "s3:PutObjectLegalHold@arn:aws:s3:::dst/k",
        ]
    );
    assert_eq!(
        actions(&["s3"], "GET", &url("/b-1/k?versionId=3"), &[], ""),
        ["s3:GetObjectVersion@arn:aws:s3:::b-1/k"]
    );
    assert_eq!(
        actions(
            &["s3"],
            "PUT",
            &url("/b-1"),
            &[("x-amz-bucket-object-lock-enabled", "true")],
            ""
        ),
        [
            "s3:CreateBucket@arn:aws:s3:::b-1",
            "s3:PutBucketObjectLockConfiguration@arn:aws:s3:::b-1",
            "s3:PutBucketVersioning@arn:aws:s3:::b-1",
        ]
    );
    let body = "<Delete><Object><Key>a</Key><VersionId>1</VersionId></Object><Object><Key>c/d</Key></Object></Delete>";
    assert_eq!(
        actions(&["s3"], "POST", &url("/b-1?delete"), &[], body),
        [
            "s3:DeleteObject@arn:aws:s3:::b-1/a+arn:aws:s3:::b-1/c/d",
            "s3:DeleteObjectVersion@arn:aws:s3:::b-1/a+arn:aws:s3:::b-1/c/d",
        ]
    );
    assert_eq!(
        actions(&["s3"], "GET", &url("/"), &[], ""),
        ["s3:ListAllMyBuckets@?"]
    );
}

#[test]
fn a_shared_origin_is_told_apart_by_each_protocols_own_signals() {
    let all = ["ec2", "elasticloadbalancing", "s3"];
    let at = "http://127.0.0.1:5000/";
    assert_eq!(
        op(
            &all,
            "POST",
            at,
            &[FORM],
            "Action=DescribeVpcs&Version=2016-11-15"
        )
        .unwrap(),
        "ec2:DescribeVpcs"
    );
    assert_eq!(
        op(
            &all,
            "POST",
            at,
            &[FORM],
            "Action=DescribeLoadBalancers&Version=2015-12-01"
        )
        .unwrap(),
        "elasticloadbalancing:DescribeLoadBalancers"
    );
    assert_eq!(
        op(&all, "PUT", "http://127.0.0.1:5000/b-1", &[], "").unwrap(),
        "s3:CreateBucket"
    );
    refused(
        op(
            &all,
            "POST",
            at,
            &[FORM],
            "Action=ListUsers&Version=2010-05-08",
        ),
        // IAM is not resolved here: read as the one REST service there is, which refuses it.
        "form of parameters",
    );
    // An S3 request posing as a Query one is read as S3 reads it: a form is refused there.
    refused(
        op(
            &all,
            "POST",
            "http://127.0.0.1:5000/b-1?delete",
            &[FORM],
            "Version=2016-11-15",
        ),
        "Query requests go to /",
    );
}
