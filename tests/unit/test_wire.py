"""The S3 wire facts both sides share (``backends/wire/``): one status table every provider maps from,
ETags, XML element helpers, and the bridge's buffered read of an unsized body."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
import urllib3
from minio.error import S3Error as MinioS3Error
from oss2 import exceptions as oe

from backends import errors as be
from backends.bridge import DEFAULT_CHUNK, read_up_to
from backends.obs.errors import result_error
from backends.oss.support import translate
from backends.s3.errors import map_error
from backends.wire.etag import normal_etag, strip_etag
from backends.wire.status import BY_CODE, BY_STATUS, classify
from backends.wire.xml import S3_NS, child_text, children, local, parse_safe
from gateway.errors import S3Error
from gateway.xmlio import parse


# -- one status table ------------------------------------------------------------------------------------
def _s3(code: str, status: int) -> BaseException:
    response = urllib3.HTTPResponse(body=b"", headers={}, status=status)
    return map_error(MinioS3Error(response, code, "m", "/b/k", "RID", "host", "b", "k"), "s3-x")


def _obs(code: str, status: int) -> BaseException | None:
    result = SimpleNamespace(status=status, errorCode=code, errorMessage="m", requestId="RID", reason=None)
    return result_error(result, "obs-x")


def _oss(code: str, status: int) -> BaseException:
    body = f"<Error><Code>{code}</Code><Message>m</Message></Error>".encode()
    return translate(
        oe.OssError(status, {"x-oss-request-id": "RID"}, body, {"Code": code, "Message": "m"}), "o"
    )


@pytest.mark.parametrize("code", sorted(BY_CODE))
@pytest.mark.parametrize("provider", [_s3, _obs, _oss], ids=["s3", "obs", "oss"])
def test_every_provider_reads_a_code_from_the_one_table(provider, code: str) -> None:  # type: ignore[no-untyped-def]
    """Whatever the status a store sends with it, a code the table knows means the same everywhere."""
    for status in (400, 403, 409, 503):
        assert type(provider(code, status)) is BY_CODE[code], status


@pytest.mark.parametrize("status", sorted(BY_STATUS))
def test_a_bare_status_says_what_happened(status: int) -> None:
    assert classify(None, status) is BY_STATUS[status]
    assert type(_s3("", status)) is BY_STATUS[status]


def test_what_each_provider_keeps_its_own() -> None:
    assert classify(None, 404, missing=be.NoSuchBucket) is be.NoSuchBucket
    assert classify("Unknown", 409) is be.InternalBackendError
    assert classify("Unknown", 409, refused=be.InvalidArgument) is be.InvalidArgument
    assert classify(None, None) is be.InternalBackendError
    assert type(_obs("Unknown", 409)) is be.InvalidArgument  # OBS: an unnamed refusal is the arguments'
    assert type(_oss("Unknown", 503)) is be.BackendUnavailable  # OSS: any unnamed 5xx is an outage
    assert type(_oss("Unknown", 400)) is be.InvalidArgument
    assert type(_oss("Unknown", 409)) is be.InternalBackendError
    assert type(_s3("Unknown", 409)) is be.InternalBackendError


# -- ETags -----------------------------------------------------------------------------------------------
def test_etags() -> None:
    assert strip_etag(' "9BB58F26192E4BA00F01E2E7B136BBD8-3" ') == "9BB58F26192E4BA00F01E2E7B136BBD8-3"
    assert normal_etag('"9BB58F26192E4BA00F01E2E7B136BBD8"') == "9bb58f26192e4ba00f01e2e7b136bbd8"
    assert strip_etag(None) == normal_etag(None) == ""


# -- XML -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ns", [f' xmlns="{S3_NS}"', ""])
def test_element_helpers_ignore_the_namespace(ns: str) -> None:
    root = parse_safe(f"<R{ns}><!-- c --><P><N>1</N><E/></P><P><N>2</N></P></R>".encode())
    assert local(root.tag) == "R"
    parts = children(root, "P")
    assert [child_text(p, "N") for p in parts] == ["1", "2"]
    assert child_text(parts[0], "E") == "" and child_text(parts[1], "E") is None


def test_the_gateway_parser_refuses_entities_as_malformed() -> None:
    with pytest.raises(S3Error) as err:
        parse(b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>')
    assert err.value.code == "MalformedXML"


# -- buffered parts --------------------------------------------------------------------------------------
class _Trickle(io.RawIOBase):
    """A stream that hands out at most ``piece`` bytes per read, as a client's body arrives."""

    def __init__(self, data: bytes, piece: int):
        self.data, self.piece, self.reads = data, piece, []

    def read(self, size: int = -1, /) -> bytes:
        self.reads.append(size)
        out, self.data = self.data[: min(size, self.piece)], self.data[min(size, self.piece) :]
        return out


def test_read_up_to_fills_a_part_from_short_reads_and_stops_at_the_end() -> None:
    data = bytes(range(256)) * 40
    source = _Trickle(data, 1000)
    assert read_up_to(source, 4096) == data[:4096]
    assert read_up_to(source, 100_000) == data[4096:]
    assert read_up_to(source, 10) == b""


def test_read_up_to_asks_a_chunk_at_a_time() -> None:
    source = _Trickle(b"x" * (3 * DEFAULT_CHUNK), 3 * DEFAULT_CHUNK)
    assert len(read_up_to(source, 2 * DEFAULT_CHUNK + 5)) == 2 * DEFAULT_CHUNK + 5
    assert max(source.reads) == DEFAULT_CHUNK
