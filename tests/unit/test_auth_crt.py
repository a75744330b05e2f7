"""SigV4 as the AWS Common Runtime signs it (aws-c-auth, used by the CLI v2 and the CRT-based SDKs):
a second, independent signer next to botocore."""

from __future__ import annotations

import datetime
from urllib.parse import urlsplit

import pytest
from awscrt import auth, http

from gateway.auth import RequestView
from gateway.errors import S3Error
from tests.helpers.signing import AWS_KEY, AWS_SECRET, HOST, accept

TARGETS = [
    "/bucket/key.txt",
    "/bucket/%E6%97%A5%E6%9C%AC/a%20b%2Bc%21",
    "/bucket//double//slash",
    "/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F",
    "/bucket?tag=b&tag=a&uploads=",
    "/bucket/k?uploadId=abc%2Fdef%2Bg%3D%3D&partNumber=2",
]


def crt_signed(target: str, *, presign: bool, headers: list[tuple[str, str]] | None = None) -> RequestView:
    request = http.HttpRequest("PUT", target, http.HttpHeaders([("host", HOST), *(headers or [])]))
    config = auth.AwsSigningConfig(
        algorithm=auth.AwsSigningAlgorithm.V4,
        signature_type=(
            auth.AwsSignatureType.HTTP_REQUEST_QUERY_PARAMS
            if presign
            else auth.AwsSignatureType.HTTP_REQUEST_HEADERS
        ),
        credentials_provider=auth.AwsCredentialsProvider.new_static(AWS_KEY, AWS_SECRET),
        region="eu-west-3",
        service="s3",
        date=datetime.datetime.now(datetime.timezone.utc),
        use_double_uri_encode=False,
        should_normalize_uri_path=False,
        signed_body_value=auth.AwsSignedBodyValue.UNSIGNED_PAYLOAD,
        signed_body_header_type=(
            auth.AwsSignedBodyHeaderType.NONE
            if presign
            else auth.AwsSignedBodyHeaderType.X_AMZ_CONTENT_SHA_256
        ),
        expiration_in_seconds=600 if presign else None,
    )
    auth.aws_sign_request(request, config).result(timeout=10)
    parts = urlsplit(request.path)
    names = {name.lower(): value for name, value in request.headers}
    return RequestView("PUT", parts.path, parts.query, names, names.pop("host"))


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("presign", [False, True])
def test_crt_signed_requests_accepted(target: str, presign: bool) -> None:
    view = crt_signed(target, presign=presign)
    result = accept(view)
    assert result.access_key == AWS_KEY
    assert result.method == ("sigv4-presigned" if presign else "sigv4")
    with pytest.raises(S3Error) as info:
        accept(RequestView("POST", view.raw_path, view.query_string, view.headers, view.host))
    assert info.value.code == "SignatureDoesNotMatch"


def test_crt_signed_metadata_with_folded_whitespace() -> None:
    view = crt_signed("/b/k", presign=False, headers=[("x-amz-meta-a", "  x   y  "), ("content-type", "a/b")])
    assert accept(view).access_key == AWS_KEY
