"""Property tests (Hypothesis) for the pure parsers a request's bytes go through: SigV4 canonicalisation
(against botocore's own), the aws-chunked decoder (any framing, any split of the wire, any bytes),
range and date parsing, and the fs backend's key <-> path mapping.

Each property holds for all inputs: the parsers either give the right answer or refuse with an S3
error, never another exception, and never hold more than their stated bounds.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from email.utils import format_datetime
from urllib.parse import parse_qsl, quote

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backends.base import MAX_KEY_BYTES
from backends.errors import InvalidKey, KeyTooLong
from backends.fs.keys import NAME_MAX, key_components, key_from_components, parse_component
from gateway.addressing import query_params
from gateway.auth.chunked import MAX_LINE, AwsChunkedParser
from gateway.auth.request import parse_amz_date, parse_http_date, parse_query, uri_encode
from gateway.auth.sigv4 import EMPTY_SHA256, ChunkSigner, canonical_query, signing_key
from gateway.conditions import parse_copy_range, parse_range
from gateway.errors import S3Error

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- SigV4 canonicalisation -------------------------------------------------------------------------------
query_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=20)


@SETTINGS
@given(st.lists(st.tuples(query_text, query_text), max_size=6))
def test_canonical_query_matches_botocore(pairs: list[tuple[str, str]]) -> None:
    """The query as a client encodes it, canonicalised by us and by botocore's signer: the same."""
    raw = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    request = AWSRequest(method="GET", url="http://h/b/k" + (f"?{raw}" if raw else ""))
    theirs = S3SigV4Auth(Credentials("a", "s"), "s3", "us-east-1").canonical_query_string(request)
    assert canonical_query(parse_query(raw)) == theirs


@SETTINGS
@given(st.text(max_size=60))
def test_canonical_query_is_a_fixed_point(raw: str) -> None:
    """Any query string at all canonicalises without error, and its canonical form is canonical."""
    once = canonical_query(parse_query(raw))
    assert canonical_query(parse_query(once)) == once


@SETTINGS
@given(st.text(st.sampled_from("ab=&+%2Fé%zZ%41%c3%a9 ;"), max_size=40) | st.text(max_size=40))
def test_query_params_are_parse_qsl(raw: str) -> None:
    """The route table's query dict: exactly what urllib's parse_qsl gives, for any query string."""
    assert query_params(raw) == dict(parse_qsl(raw, keep_blank_values=True))


def test_query_params_are_the_callers_own() -> None:
    """The parse is remembered per query string; what one request does to its dict, the next with the
    same query does not see."""
    first = query_params("uploadId=1&partNumber=2")
    first["uploadId"] = "changed"
    first["extra"] = ""
    assert query_params("uploadId=1&partNumber=2") == {"uploadId": "1", "partNumber": "2"}


@SETTINGS
@given(st.binary(max_size=40))
def test_uri_encode_is_aws_uri_encode(data: bytes) -> None:
    encoded = uri_encode(data)
    assert set(encoded) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~%")
    unreserved = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    assert encoded == "".join(chr(b) if b in unreserved else f"%{b:02X}" for b in data)


# -- the aws-chunked decoder --------------------------------------------------------------------------
def frame(data: bytes, sizes: list[int], signer: ChunkSigner | None) -> bytes:
    out = bytearray()
    previous = signer.seed if signer else ""
    pos = 0
    for n in [s for s in sizes if s] + [0]:
        chunk = data[pos : pos + n]
        pos += n
        line = f"{n:x}"
        if signer:
            previous = signer.chunk_signature(previous, hashlib.sha256(chunk).hexdigest())
            line += f";chunk-signature={previous}"
        out += line.encode() + b"\r\n" + chunk + (b"\r\n" if n else b"")
    return bytes(out + b"\r\n")


def feed_in_pieces(parser: AwsChunkedParser, wire: bytes, cuts: list[int]) -> bytes:
    decoded = bytearray()
    edges = sorted({c % (len(wire) + 1) for c in cuts} | {0, len(wire)})
    for a, b in zip(edges, edges[1:], strict=False):
        for piece in parser.feed(wire[a:b]):
            decoded += piece
        assert len(parser._line) <= MAX_LINE  # one line at most is ever held
    return bytes(decoded)


@st.composite
def framed(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    data = draw(st.binary(max_size=3000))
    sizes: list[int] = []
    left = len(data)
    while left:
        n = draw(st.integers(1, left))
        sizes.append(n)
        left -= n
    return data, sizes


def _signer() -> ChunkSigner:
    key = signing_key("secret", "20260101", "us-east-1", "s3")
    return ChunkSigner(key, "20260101T000000Z", "20260101/us-east-1/s3/aws4_request", "ab" * 32)


@SETTINGS
@given(framed(), st.lists(st.integers(0, 10_000), max_size=12), st.booleans())
def test_chunked_decodes_any_framing_in_any_split(
    body: tuple[bytes, list[int]], cuts: list[int], signed: bool
) -> None:
    data, sizes = body
    signer = _signer() if signed else None
    parser = AwsChunkedParser(signer=signer)
    assert feed_in_pieces(parser, frame(data, sizes, signer), cuts) == data
    assert parser.done


@SETTINGS
@given(framed(), st.integers(0, 10_000), st.integers(1, 255))
def test_chunked_tampering_never_passes_signed(body: tuple[bytes, list[int]], where: int, flip: int) -> None:
    """One byte changed anywhere in a signed body: refused with an S3 error, or left unfinished (the
    decoder's owner refuses a body that ends there: IncompleteBody), or (a change the framing cannot
    see, e.g. hex case in a size) the very same data; never a finished body with other data. Data
    streams out before its chunk's signature is checked: backends commit only a body that ended well."""
    data, sizes = body
    signer = _signer()
    wire = bytearray(frame(data, sizes, signer))
    wire[where % len(wire)] ^= flip
    parser = AwsChunkedParser(signer=signer)
    try:
        out = feed_in_pieces(parser, bytes(wire), [])
    except S3Error:
        return
    if parser.done:
        assert out == data


@SETTINGS
@given(st.binary(max_size=6000), st.lists(st.integers(0, 6000), max_size=8), st.booleans())
def test_chunked_arbitrary_bytes_only_s3_errors(wire: bytes, cuts: list[int], signed: bool) -> None:
    parser = AwsChunkedParser(signer=_signer() if signed else None)
    try:
        feed_in_pieces(parser, wire, cuts)
    except S3Error:
        pass


# -- ranges and dates ------------------------------------------------------------------------------------
@SETTINGS
@given(st.text(max_size=40))
def test_parse_range_never_raises(value: str) -> None:
    parsed = parse_range(value)
    if parsed is not None and parsed.first is not None and parsed.last is not None:
        assert parsed.first <= parsed.last


@SETTINGS
@given(st.integers(0, 2**63), st.integers(0, 2**63))
def test_parse_range_reads_what_was_written(first: int, last: int) -> None:
    parsed = parse_range(f"bytes={first}-{last}")
    if last < first:
        assert parsed is None
    else:
        assert parsed is not None and (parsed.first, parsed.last) == (first, last)
    assert parse_copy_range(f"bytes={min(first, last)}-{max(first, last)}") == (
        min(first, last),
        max(first, last),
    )


@SETTINGS
@given(st.text(max_size=40))
def test_parse_copy_range_refuses_with_s3_error_only(value: str) -> None:
    try:
        first, last = parse_copy_range(value) or (0, 0)
    except S3Error as err:
        assert err.code == "InvalidArgument"
    else:
        assert first <= last


@SETTINGS
@given(st.text(max_size=60))
def test_date_parsers_never_raise(value: str) -> None:
    for parsed in (parse_amz_date(value), parse_http_date(value)):
        assert parsed is None or parsed.tzinfo is not None


@SETTINGS
@given(st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(9999, 1, 1)))
def test_dates_round_trip(when: dt.datetime) -> None:
    when = when.replace(microsecond=0, tzinfo=dt.timezone.utc)
    assert parse_amz_date(when.strftime("%Y%m%dT%H%M%SZ")) == when
    assert parse_http_date(format_datetime(when, usegmt=True)) == when


# -- fs key mapping -------------------------------------------------------------------------------------
keys = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=300).filter(
    lambda k: len(k.encode()) <= MAX_KEY_BYTES
)
segment_heavy = (
    st.lists(
        st.sampled_from(["", ".", "..", "%", "%25", "\x00", "a" * 300, "é" * 130, "x"]),
        min_size=1,
        max_size=6,
    )
    .map("/".join)
    .filter(lambda k: 0 < len(k.encode()) <= MAX_KEY_BYTES)
)


@SETTINGS
@given(st.one_of(keys, segment_heavy))
def test_key_mapping_round_trips_and_stays_inside(key: str) -> None:
    components = key_components(key)
    assert key_from_components(components) == key
    for name in components:
        raw = name.encode()
        assert 1 < len(raw) <= NAME_MAX or name in ("d", "c", "o")
        assert name not in (".", "..") and not name.startswith(".")
        assert "/" not in name and "\x00" not in name


@SETTINGS
@given(st.text(max_size=300))
def test_parse_component_never_raises(name: str) -> None:
    parse_component(name)


def test_key_limits() -> None:
    with pytest.raises(InvalidKey):
        key_components("")
    with pytest.raises(KeyTooLong):
        key_components("k" * (MAX_KEY_BYTES + 1))
    with pytest.raises(InvalidKey):
        key_components("lone \ud800 surrogate")


def test_chunk_signature_helper_matches_spec() -> None:
    """The framing helper's signatures are the spec's formula (so the properties above test the parser,
    not a copy of it)."""
    key = signing_key("secret", "20260101", "us-east-1", "s3")
    scope = "20260101/us-east-1/s3/aws4_request"
    sts = f"AWS4-HMAC-SHA256-PAYLOAD\n20260101T000000Z\n{scope}\n{'ab' * 32}\n{EMPTY_SHA256}\n{EMPTY_SHA256}"
    expected = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    assert _signer().chunk_signature("ab" * 32, EMPTY_SHA256) == expected
