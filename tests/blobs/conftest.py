"""A real S3 protocol endpoint for the S3 store tests: moto's server on a loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

BUCKET = "opsync-test"
REGION = "us-east-1"
ACCESS_KEY = "AKIAOPSYNCTEST"
SECRET_KEY = "opsync-test-secret"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip(
        "moto.server", reason="moto[server] is not installed: pip install 'moto[server]'"
    )
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def boto_s3(s3_endpoint: str) -> Iterator[Any]:
    """An independent S3 client (boto3) to set up buckets and check what the store did."""
    boto3 = pytest.importorskip("boto3")
    client = boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    client.create_bucket(Bucket=BUCKET)
    try:
        yield client
    finally:
        listing = client.list_objects_v2(Bucket=BUCKET)
        for item in listing.get("Contents", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"])
        for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        client.delete_bucket(Bucket=BUCKET)
        client.close()
