"""Signature V4 against AWS's published S3 examples, and against botocore's canonical form."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from opsync.blobs import _sigv4

CREDS = _sigv4.Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
HOST = "examplebucket.s3.amazonaws.com"
STAMP = "20130524T000000Z"
EMPTY = _sigv4.EMPTY_SHA256


def _signature(header: str) -> str:
    return header.rsplit("Signature=", 1)[1]


# From "Examples: Signature Calculations in AWS Signature Version 4" (Amazon S3 API reference).
S3_EXAMPLES = [
    pytest.param(
        "GET",
        "/test.txt",
        [],
        {"range": "bytes=0-9"},
        EMPTY,
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        id="get-object",
    ),
    pytest.param(
        "PUT",
        "/test%24file.text",
        [],
        {"date": "Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class": "REDUCED_REDUNDANCY"},
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        id="put-object",
    ),
    pytest.param(
        "GET",
        "/",
        [("lifecycle", "")],
        {},
        EMPTY,
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        id="get-bucket-lifecycle",
    ),
    pytest.param(
        "GET",
        "/",
        [("prefix", "J"), ("max-keys", "2")],
        {},
        EMPTY,
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        id="list-objects",
    ),
]


@pytest.mark.parametrize(("method", "path", "params", "extra", "payload", "expected"), S3_EXAMPLES)
def test_aws_published_s3_examples(
    method: str,
    path: str,
    params: list[tuple[str, str]],
    extra: dict[str, str],
    payload: str,
    expected: str,
) -> None:
    headers = {"host": HOST, "x-amz-date": STAMP, "x-amz-content-sha256": payload, **extra}
    header = _sigv4.authorization(
        CREDS,
        method=method,
        path=path,
        query=_sigv4.canonical_query(params),
        headers=headers,
        payload_hash=payload,
        timestamp=STAMP,
        region="us-east-1",
    )
    assert _signature(header) == expected
    assert header.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
    )


def test_published_signing_key() -> None:
    # "Derive a signing key for SigV4" example (IAM, 2015-08-30).
    key = _sigv4.signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam"
    )
    assert key.hex() == "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"


def test_canonical_query_sorts_and_encodes() -> None:
    query = _sigv4.canonical_query([("uploadId", "a b/c+"), ("partNumber", "2"), ("uploads", "")])
    assert query == "partNumber=2&uploadId=a%20b%2Fc%2B&uploads="


def test_matches_botocore_for_an_awkward_key() -> None:
    auth = pytest.importorskip("botocore.auth")
    awsrequest = pytest.importorskip("botocore.awsrequest")
    credentials = pytest.importorskip("botocore.credentials")
    path = "/bucket/" + _sigv4.uri_encode("recordings/2026/a b+c~(1).mp3", keep_slash=True)
    url = f"http://127.0.0.1:9000{path}?partNumber=1&uploadId=x%2By"
    request = awsrequest.AWSRequest(
        method="PUT", url=url, data=b"", headers={"content-type": "audio/mpeg"}
    )
    request.context["timestamp"] = STAMP
    request.headers["X-Amz-Date"] = STAMP
    request.headers["X-Amz-Content-SHA256"] = EMPTY
    signer = auth.S3SigV4Auth(
        credentials.Credentials(CREDS.access_key_id, CREDS.secret_access_key), "s3", "auto"
    )
    ours, signed = _sigv4.canonical_request(
        "PUT",
        path,
        _sigv4.canonical_query([("partNumber", "1"), ("uploadId", "x+y")]),
        {
            "host": "127.0.0.1:9000",
            "content-type": "audio/mpeg",
            "x-amz-date": STAMP,
            "x-amz-content-sha256": EMPTY,
        },
        EMPTY,
    )
    # botocore stamps add_auth() with the current time, so compare the canonical requests.
    assert ours == signer.canonical_request(request)
    assert signed == "content-type;host;x-amz-content-sha256;x-amz-date"


def test_amz_date_is_utc() -> None:
    assert _sigv4.amz_date(datetime(2013, 5, 24, tzinfo=UTC)) == STAMP
