"""SigV4 header and presigned verification: AWS's published examples, and what botocore signs."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib

import pytest

from gateway.auth import RequestView, authenticate
from gateway.errors import S3Error
from tests.helpers.signing import (
    AWS_KEY,
    AWS_TIME,
    EMPTY_SHA256,
    accept,
    aws_auth,
    botocore_request,
    secrets,
    view_of,
)

EXAMPLE_HOST = "examplebucket.s3.amazonaws.com"


def _code(view: RequestView, when: datetime.datetime = AWS_TIME, **kwargs) -> str:
    with pytest.raises(S3Error) as info:
        authenticate(view, secrets, when, **kwargs)
    return info.value.code


def example_get_object(**override: str) -> RequestView:
    headers = {
        "range": "bytes=0-9",
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": aws_auth(
            "host;range;x-amz-content-sha256;x-amz-date",
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        ),
    }
    headers.update(override)
    return RequestView("GET", "/test.txt", "", headers, EXAMPLE_HOST)


# --- AWS's published examples (Signature Calculations for the Authorization Header, single chunk) ----


def test_aws_example_get_object() -> None:
    result = authenticate(example_get_object(), secrets, AWS_TIME)
    assert (result.access_key, result.method) == (AWS_KEY, "sigv4")
    assert result.payload.feed(b"") == b""
    result.payload.finish()


def test_aws_example_put_object() -> None:
    body = b"Welcome to Amazon S3."
    content_sha = "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    assert hashlib.sha256(body).hexdigest() == content_sha
    headers = {
        "date": "Fri, 24 May 2013 00:00:00 GMT",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": content_sha,
        "content-length": str(len(body)),
        "authorization": aws_auth(
            "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        ),
    }
    view = RequestView("PUT", "/test%24file.text", "", headers, EXAMPLE_HOST)
    result = authenticate(view, secrets, AWS_TIME)
    assert result.payload.declared_size == len(body)
    assert result.payload.feed(body[:5]) + result.payload.feed(body[5:]) == body
    result.payload.finish()
    # The same signed request with a different body fails at the end of the body.
    other = authenticate(view, secrets, AWS_TIME).payload
    other.feed(b"Welcome to Amazon S4.")
    with pytest.raises(S3Error) as info:
        other.finish()
    assert info.value.code == "XAmzContentSHA256Mismatch"


@pytest.mark.parametrize(
    ("query", "signature"),
    [
        ("lifecycle", "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        ("max-keys=2&prefix=J", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        ("prefix=J&max-keys=2", "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
    ],
)
def test_aws_example_bucket_queries(query: str, signature: str) -> None:
    headers = {
        "x-amz-content-sha256": EMPTY_SHA256,
        "x-amz-date": "20130524T000000Z",
        "authorization": aws_auth("host;x-amz-content-sha256;x-amz-date", signature),
    }
    assert authenticate(RequestView("GET", "/", query, headers, EXAMPLE_HOST), secrets, AWS_TIME).access_key


def example_presigned(query_extra: str = "", expires: str = "86400") -> RequestView:
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        f"&X-Amz-Date=20130524T000000Z&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404" + query_extra
    )
    return RequestView("GET", "/test.txt", query, {}, EXAMPLE_HOST)


def test_aws_example_presigned_get() -> None:
    result = authenticate(example_presigned(), secrets, AWS_TIME + datetime.timedelta(hours=23))
    assert (result.access_key, result.method) == (AWS_KEY, "sigv4-presigned")
    # valid up to and including its last second, then expired
    authenticate(example_presigned(), secrets, AWS_TIME + datetime.timedelta(seconds=86400))
    assert _code(example_presigned(), AWS_TIME + datetime.timedelta(seconds=86401)) == "AccessDenied"
    assert _code(example_presigned(), AWS_TIME - datetime.timedelta(hours=1)) == "AccessDenied"


def test_presigned_refusals() -> None:
    assert _code(example_presigned(expires="604801")) == "AuthorizationQueryParametersError"
    assert _code(example_presigned(expires="abc")) == "AuthorizationQueryParametersError"
    assert _code(example_presigned("&x-id=GetObject")) == "SignatureDoesNotMatch"
    missing = dataclasses.replace(example_presigned(), query_string="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    assert _code(missing) == "AuthorizationQueryParametersError"
    both = dataclasses.replace(example_presigned(), headers={"authorization": "AWS4-HMAC-SHA256 x"})
    assert _code(both) == "InvalidArgument"
    wrong_alg = example_presigned().query_string.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512")
    assert _code(dataclasses.replace(example_presigned(), query_string=wrong_alg)) == (
        "AuthorizationQueryParametersError"
    )


def test_presigned_url_used_again_is_verified_again() -> None:
    """The parsed query and canonical query are remembered per URL; the signature never is: the same
    URL passes again and again, while a method, path, host or secret it was not signed for still fails,
    after as before a success."""
    later = AWS_TIME + datetime.timedelta(hours=1)
    for _ in range(3):
        assert authenticate(example_presigned(), secrets, later).access_key == AWS_KEY
        assert _code(dataclasses.replace(example_presigned(), method="PUT"), later) == "SignatureDoesNotMatch"
        assert _code(dataclasses.replace(example_presigned(), raw_path="/other"), later) == (
            "SignatureDoesNotMatch"
        )
        assert _code(dataclasses.replace(example_presigned(), host="evil.example"), later) == (
            "SignatureDoesNotMatch"
        )
        with pytest.raises(S3Error) as info:
            authenticate(example_presigned(), lambda key: "not-the-secret", later)
        assert info.value.code == "SignatureDoesNotMatch"


def test_cached_query_parse_is_read_only() -> None:
    """One request cannot change what the next one with the same query string reads."""
    from gateway.auth.request import parse_query, query_facts

    raw = example_presigned().query_string
    facts = query_facts(raw)
    assert list(facts.pairs) == parse_query(raw)
    with pytest.raises(TypeError):
        facts.first[b"X-Amz-Signature"] = "0" * 64  # type: ignore[index]
    assert query_facts(raw) is facts


# --- refusals of the header form -----------------------------------------------------------------


def test_header_refusals() -> None:
    assert _code(example_get_object(range="bytes=0-10")) == "SignatureDoesNotMatch"
    assert (
        _code(dataclasses.replace(example_get_object(), host="other.example.com")) == "SignatureDoesNotMatch"
    )
    assert _code(dataclasses.replace(example_get_object(), method="HEAD")) == "SignatureDoesNotMatch"
    assert _code(dataclasses.replace(example_get_object(), raw_path="/test.txt2")) == "SignatureDoesNotMatch"
    assert _code(dataclasses.replace(example_get_object(), query_string="x=1")) == "SignatureDoesNotMatch"
    assert _code(example_get_object(), AWS_TIME + datetime.timedelta(minutes=16)) == "RequestTimeTooSkewed"
    assert _code(example_get_object(), AWS_TIME - datetime.timedelta(minutes=16)) == "RequestTimeTooSkewed"
    authenticate(example_get_object(), secrets, AWS_TIME + datetime.timedelta(minutes=14))
    unknown = aws_auth("host;range;x-amz-content-sha256;x-amz-date", "0" * 64).replace(AWS_KEY, "NOPE")
    assert _code(example_get_object(authorization=unknown)) == "InvalidAccessKeyId"
    other_day = aws_auth("host;range;x-amz-content-sha256;x-amz-date", "0" * 64, scope_date="20130523")
    assert _code(example_get_object(authorization=other_day)) == "AuthorizationHeaderMalformed"
    no_host = aws_auth("range;x-amz-content-sha256;x-amz-date", "0" * 64)
    assert _code(example_get_object(authorization=no_host)) == "AuthorizationHeaderMalformed"
    wrong_service = example_get_object()
    wrong_service_auth = wrong_service.headers["authorization"].replace("/s3/", "/ec2/")
    assert _code(example_get_object(authorization=wrong_service_auth)) == "AuthorizationHeaderMalformed"
    assert _code(example_get_object(authorization="AWS4-HMAC-SHA256 Credential=x")) == (
        "AuthorizationHeaderMalformed"
    )
    assert _code(example_get_object(authorization="Bearer abc")) == "InvalidArgument"
    assert _code(example_get_object(**{"x-amz-meta-late": "1"})) == "AccessDenied"
    headers = dict(example_get_object().headers)
    del headers["x-amz-date"]
    assert _code(dataclasses.replace(example_get_object(), headers=headers)) == "AccessDenied"
    del headers["x-amz-content-sha256"]
    headers["x-amz-date"] = "20130524T000000Z"
    assert _code(dataclasses.replace(example_get_object(), headers=headers)) == "InvalidRequest"


def test_error_detail_carries_no_secret() -> None:
    with pytest.raises(S3Error) as info:
        authenticate(example_get_object(range="bytes=0-10"), secrets, AWS_TIME)
    text = str(info.value) + repr(info.value.extra)
    assert "wJalrXUtnFEMI" not in text
    assert info.value.extra["CanonicalRequest"].startswith("GET\n/test.txt\n\nhost:examplebucket")


# --- round trips through botocore's own signers ------------------------------------------------------

ROUND_TRIPS = [
    ("GET", "/bucket/plain.txt", None),
    ("GET", "/bucket/%E6%97%A5%E6%9C%AC%E8%AA%9E/%C3%A9t%C3%A9.txt", None),  # unicode key
    ("GET", "/bucket//double//slash", None),
    ("GET", "/bucket/a%20b%2Bc%21%27%28%29%2A%24%26%3D%3A%40%2C%3B", None),  # reserved characters
    ("GET", "/bucket/dir%2Fencoded-slash", None),
    ("GET", "/bucket", [("list-type", "2"), ("prefix", "a/b c+d"), ("delimiter", "/")]),
    ("GET", "/bucket", [("tag", "b"), ("tag", "a"), ("tag", ""), ("uploads", "")]),  # repeated and empty
    ("GET", "/bucket/k", [("response-content-disposition", 'attachment; filename="ü.txt"')]),
    ("GET", "/bucket/k", [("versionId", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo")]),
]


@pytest.mark.parametrize(("method", "path", "params"), ROUND_TRIPS)
def test_botocore_header_signed(method: str, path: str, params: list[tuple[str, str]] | None) -> None:
    view = view_of(botocore_request(method, path, params=params))
    result = accept(view)
    assert (result.access_key, result.method) == (AWS_KEY, "sigv4")


@pytest.mark.parametrize(("method", "path", "params"), ROUND_TRIPS)
def test_botocore_presigned(method: str, path: str, params: list[tuple[str, str]] | None) -> None:
    view = view_of(botocore_request(method, path, params=params, signer="v4-query"))
    result = accept(view)
    assert (result.access_key, result.method) == (AWS_KEY, "sigv4-presigned")
    tampered = dataclasses.replace(view, raw_path=view.raw_path + "x")
    with pytest.raises(S3Error) as info:
        accept(tampered)
    assert info.value.code == "SignatureDoesNotMatch"


def test_botocore_put_with_body_and_metadata() -> None:
    body = b"some data\n" * 100
    headers = {"x-amz-meta-note": "  two   spaces  ", "Content-Type": "text/plain"}
    view = view_of(botocore_request("PUT", "/bucket/obj", headers=headers, body=body))
    payload = accept(view).payload
    assert payload.declared_size == len(body)
    assert b"".join(payload.feed(body[i : i + 7]) for i in range(0, len(body), 7)) == body
    payload.finish()


def test_raw_slash_in_query_value_signed_encoded() -> None:
    """esdk-obs-python sends ``/`` unescaped in query values but signs it escaped."""
    view = view_of(botocore_request("GET", "/bucket", params=[("prefix", "a/b/")]))
    assert "prefix=a%2Fb%2F" in view.query_string
    raw = dataclasses.replace(view, query_string=view.query_string.replace("%2F", "/"))
    assert accept(raw).access_key == AWS_KEY


def test_any_region_is_accepted_when_signed() -> None:
    view = view_of(botocore_request("GET", "/bucket/k", region="cn-north-4"))
    assert accept(view).access_key == AWS_KEY


def test_wrong_secret_and_unknown_key() -> None:
    with pytest.raises(S3Error) as info:
        accept(view_of(botocore_request("GET", "/b/k", secret="wrong")))
    assert info.value.code == "SignatureDoesNotMatch"
    with pytest.raises(S3Error) as info:
        accept(view_of(botocore_request("GET", "/b/k", key="AKIDUNKNOWN")))
    assert info.value.code == "InvalidAccessKeyId"


def test_authorization_without_spaces_and_other_key() -> None:
    view = view_of(botocore_request("GET", "/b/k", key="other", secret="other-secret"))
    compact = view.headers["authorization"].replace(", ", ",")
    headers = dict(view.headers, authorization=compact)
    assert accept(dataclasses.replace(view, headers=headers)).access_key == "other"


def test_date_header_instead_of_x_amz_date() -> None:
    """esdk-obs-python's v4 signs the Date header and sends no x-amz-date."""
    view = view_of(botocore_request("GET", "/b/k", headers={"Date": "placeholder"}))
    assert "x-amz-date" not in view.headers and "date" in view.headers
    assert accept(view).access_key == AWS_KEY


def test_anonymous() -> None:
    result = accept(RequestView("GET", "/b/k", "", {}, "h"))
    assert (result.access_key, result.method) == (None, "anonymous")


def test_plus_in_query_as_space_or_literal() -> None:
    """Form-encoding clients send a space as ``+``; others send a literal ``+`` raw. Both were signed
    with AWS's encoding (``%20`` / ``%2B``)."""
    spaced = view_of(botocore_request("GET", "/bucket", params=[("prefix", "a b")]))
    assert "prefix=a%20b" in spaced.query_string
    as_plus = dataclasses.replace(spaced, query_string=spaced.query_string.replace("%20", "+"))
    assert accept(as_plus).access_key == AWS_KEY
    literal = view_of(botocore_request("GET", "/bucket", params=[("prefix", "a+b")]))
    raw_plus = dataclasses.replace(literal, query_string=literal.query_string.replace("%2B", "+"))
    assert accept(raw_plus).access_key == AWS_KEY


# --- letter case: a signature is compared over the request exactly as it was signed -------------------


def test_signature_spelled_in_upper_case_is_refused() -> None:
    good = example_get_object()
    upper = good.headers["authorization"].replace(
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        "F0E8BDB87C964420E857BD35B5D6ED310BD44F0170ABA48DD91039C6036BDB41",
    )
    assert upper != good.headers["authorization"]
    assert _code(example_get_object(authorization=upper)) == "SignatureDoesNotMatch"
    presigned = example_presigned()
    signature = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    shouted = presigned.query_string.replace(signature, signature.upper())
    assert _code(dataclasses.replace(presigned, query_string=shouted), AWS_TIME) == "SignatureDoesNotMatch"


def test_signature_with_non_ascii_text_is_refused() -> None:
    """A byte past ASCII in the signature (a header decoded as Latin-1, or %E9 in a presigned URL)
    raised TypeError out of hmac.compare_digest: a 500 (found by tests/e2e/test_fuzz.py)."""
    good = "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    for odd in ("\u00e9", "\ufffd", "\u4e2d"):
        auth = example_get_object().headers["authorization"].replace(good, good[:-1] + odd)
        assert _code(example_get_object(authorization=auth)) == "SignatureDoesNotMatch"
    presigned = example_presigned()
    signature = "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    odd_query = presigned.query_string.replace(signature, signature[:-1] + "%E9")
    assert _code(dataclasses.replace(presigned, query_string=odd_query), AWS_TIME) == "SignatureDoesNotMatch"


def test_signed_header_names_in_upper_case_are_refused() -> None:
    good = example_get_object()
    renamed = good.headers["authorization"].replace("SignedHeaders=host;range;", "SignedHeaders=host;Range;")
    assert _code(example_get_object(authorization=renamed)) == "SignatureDoesNotMatch"


def test_escapes_respelled_in_lower_case_are_refused() -> None:
    presigned = example_presigned()
    authenticate(presigned, secrets, AWS_TIME)
    lowered = presigned.query_string.replace("%2F", "%2f")
    assert lowered != presigned.query_string
    assert _code(dataclasses.replace(presigned, query_string=lowered), AWS_TIME) == "SignatureDoesNotMatch"


def test_path_escapes_respelled_in_lower_case_are_refused() -> None:
    view = view_of(botocore_request("GET", "/bucket/a%3Ab"))
    accept(view)
    respelled = dataclasses.replace(view, raw_path="/bucket/a%3ab")
    with pytest.raises(S3Error) as info:
        accept(respelled)
    assert info.value.code == "SignatureDoesNotMatch"
