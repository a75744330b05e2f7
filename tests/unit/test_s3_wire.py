"""The S3 backend's pure translations: Range headers, Content-Range, metadata headers, listing documents."""

from __future__ import annotations

import datetime as dt

import pytest

from backends.base import ByteRange, ObjectMeta
from backends.s3.wire import (
    info_from_headers,
    location_body,
    meta_from_headers,
    meta_headers,
    parse_content_range,
    parse_copy_result,
    parse_error,
    parse_list_objects,
    parse_list_uploads,
    range_header,
)

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


@pytest.mark.parametrize(
    ("first", "last", "header"),
    [
        (0, 0, "bytes=0-0"),
        (10, 19, "bytes=10-19"),
        (990, None, "bytes=990-"),
        (None, 100, "bytes=-100"),
        (None, 0, "bytes=-0"),
        (500, 5000, "bytes=500-5000"),
    ],
)
def test_range_header_passes_the_range_unresolved(first: int | None, last: int | None, header: str) -> None:
    assert range_header(ByteRange(first, last)) == header


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bytes 10-19/1000", ((10, 19), 1000)),
        ("bytes */1000", (None, 1000)),
        ("BYTES 0-0/1", ((0, 0), 1)),
        ("bytes 0-9/*", ((0, 9), None)),
        ("items 0-9/10", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
    ],
)
def test_parse_content_range(value: str | None, expected: tuple) -> None:
    assert parse_content_range(value) == expected


def test_meta_headers_round_trip_through_response_headers() -> None:
    meta = ObjectMeta(
        content_type="text/plain; charset=utf-8",
        content_encoding="gzip",
        content_disposition='attachment; filename="a b.txt"',
        content_language="en-GB",
        cache_control="no-cache",
        expires="Wed, 21 Oct 2037 07:28:00 GMT",
        user={"Color": "blue", "note": "caf\u00e9 \u65e5\u672c"},
    )
    headers = meta_headers(meta)
    assert headers["x-amz-meta-color"] == "blue"
    assert headers["x-amz-meta-note"].isascii()  # RFC 2047, as AWS returns non-ASCII metadata
    # A store answers with its own header case; user keys come back lowercase.
    answered = {k.title() if not k.startswith("x-amz") else k.upper(): v for k, v in headers.items()}
    back = meta_from_headers(answered)
    assert back.user == {"color": "blue", "note": "caf\u00e9 \u65e5\u672c"}
    for attr in (
        "content_type",
        "content_encoding",
        "content_disposition",
        "content_language",
        "cache_control",
    ):
        assert getattr(back, attr) == getattr(meta, attr)
    assert back.expires == meta.expires


def test_meta_headers_leave_out_unset_fields() -> None:
    assert meta_headers(ObjectMeta()) == {}


def test_info_from_a_ranged_answer_takes_the_total_size() -> None:
    info = info_from_headers(
        "k",
        {
            "Content-Length": "10",
            "Content-Range": "bytes 10-19/1000",
            "ETag": '"abc"',
            "Last-Modified": "Wed, 21 Oct 2015 07:28:00 GMT",
            "x-amz-meta-a": "1",
        },
    )
    assert (info.key, info.size, info.etag, info.meta.user) == ("k", 1000, "abc", {"a": "1"})
    assert info.last_modified == dt.datetime(2015, 10, 21, 7, 28, tzinfo=dt.timezone.utc)


LIST_V2 = f"""<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult {NS}><Name>b</Name><Prefix></Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>
<EncodingType>url</EncodingType><IsTruncated>true</IsTruncated>
<Contents><Key>a%2Bb+c</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>"e1"</ETag>
<Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>%C3%A9</Key><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>"e2-2"</ETag>
<Size>7</Size></Contents>
<CommonPrefixes><Prefix>dir%2F</Prefix></CommonPrefixes>
<NextContinuationToken>opaque</NextContinuationToken></ListBucketResult>""".encode()


def test_parse_list_objects_decodes_url_names_and_sets_the_marker() -> None:
    page = parse_list_objects(LIST_V2)
    assert [o.key for o in page.objects] == ["a+b c", "\u00e9"]
    assert [(o.size, o.etag) for o in page.objects] == [(5, "e1"), (7, "e2-2")]
    assert page.objects[0].last_modified == dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    assert page.common_prefixes == ["dir/"]
    assert page.is_truncated
    assert page.next_marker == "\u00e9"  # the largest name listed, key or prefix


def test_parse_list_objects_untruncated_has_no_marker() -> None:
    page = parse_list_objects(
        f"<ListBucketResult {NS}><IsTruncated>false</IsTruncated></ListBucketResult>".encode()
    )
    assert (page.objects, page.common_prefixes, page.is_truncated, page.next_marker) == ([], [], False, None)


def test_parse_list_uploads() -> None:
    doc = f"""<ListMultipartUploadsResult {NS}><Bucket>b</Bucket><EncodingType>url</EncodingType>
    <NextKeyMarker>u%2Fb</NextKeyMarker><NextUploadIdMarker>id-2</NextUploadIdMarker><IsTruncated>true</IsTruncated>
    <Upload><Key>u%2Fa</Key><UploadId>id-1</UploadId><Initiated>2024-01-02T03:04:05Z</Initiated></Upload>
    <Upload><Key>u%2Fb</Key><UploadId>id-2</UploadId><Initiated>2024-01-02T03:04:06Z</Initiated></Upload>
    <CommonPrefixes><Prefix>v%2F</Prefix></CommonPrefixes></ListMultipartUploadsResult>""".encode()
    page = parse_list_uploads(doc)
    assert [(u.key, u.upload_id) for u in page.uploads] == [("u/a", "id-1"), ("u/b", "id-2")]
    assert page.common_prefixes == ["v/"]
    assert (page.is_truncated, page.next_key_marker, page.next_upload_id_marker) == (True, "u/b", "id-2")
    assert all(u.initiated.tzinfo is not None for u in page.uploads)


def test_copy_result_and_error_documents() -> None:
    ok = f"<CopyObjectResult {NS}><LastModified>2024-01-02T03:04:05.000Z</LastModified><ETag>&quot;x&quot;</ETag></CopyObjectResult>"
    etag, when = parse_copy_result(ok.encode())
    assert (etag, when.year) == ("x", 2024)
    err = b"<Error><Code>InternalError</Code><Message>try again</Message></Error>"
    assert parse_error(err) == ("InternalError", "try again")
    assert parse_error(ok.encode()) == (None, None)
    assert parse_error(b"<html>not xml") == (None, None)
    with pytest.raises(ValueError):
        parse_copy_result(err)


def test_parser_never_expands_entities() -> None:
    external = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><Error><Code>&e;</Code></Error>'
    internal = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]><Error><Code>a&e;</Code></Error>'
    assert parse_error(external) == ("", None)
    assert parse_error(internal) == ("a", None)


def test_location_body_only_outside_us_east_1() -> None:
    assert location_body(None) is None
    assert location_body("us-east-1") is None
    body = location_body("eu-west-1")
    assert body is not None and b"<LocationConstraint>eu-west-1</LocationConstraint>" in body


@pytest.mark.parametrize(
    ("path", "encoded"),
    [
        ("/b/a/./c", "/b/a/%2E/c"),
        ("/b/a/../c", "/b/a/%2E%2E/c"),
        ("/b/./", "/b/%2E/"),
        ("/b/..", "/b/%2E%2E"),
        ("/b/.../x.y/..z", "/b/.../x.y/..z"),
        ("/b/a//c", "/b/a//c"),
    ],
)
def test_encode_dot_segments(path: str, encoded: str) -> None:
    from backends.s3.wire import encode_dot_segments

    assert encode_dot_segments(path) == encoded


def test_version_listing_back_in_order() -> None:
    """moto lists every Version before every DeleteMarker; the page puts each key's entries back in
    order (latest first, then newest first) and passes ids through."""
    from backends.s3.wire import listing_query, parse_list_versions

    doc = b"""<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
      <IsTruncated>true</IsTruncated><NextKeyMarker>b%2F1</NextKeyMarker><NextVersionIdMarker>v9</NextVersionIdMarker>
      <EncodingType>url</EncodingType>
      <Version><Key>a</Key><VersionId>v2</VersionId><IsLatest>false</IsLatest>
        <LastModified>2026-01-01T00:00:02.000Z</LastModified><ETag>"e2"</ETag><Size>2</Size></Version>
      <Version><Key>a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest>
        <LastModified>2026-01-01T00:00:01.000Z</LastModified><ETag>"e1"</ETag><Size>1</Size></Version>
      <Version><Key>b%2F1</Key><VersionId>null</VersionId><IsLatest>true</IsLatest>
        <LastModified>2026-01-01T00:00:01.000Z</LastModified><ETag>"e3"</ETag><Size>3</Size></Version>
      <DeleteMarker><Key>a</Key><VersionId>m1</VersionId><IsLatest>true</IsLatest>
        <LastModified>2026-01-01T00:00:03.000Z</LastModified></DeleteMarker>
      <CommonPrefixes><Prefix>c%2F</Prefix></CommonPrefixes>
    </ListVersionsResult>"""
    page = parse_list_versions(doc)
    assert [(v.info.key, v.info.version_id, v.info.delete_marker, v.is_latest) for v in page.versions] == [
        ("a", "m1", True, True),
        ("a", "v2", False, False),
        ("a", "v1", False, False),
        ("b/1", "null", False, True),
    ]
    assert (page.versions[1].info.etag, page.versions[1].info.size) == ("e2", 2)
    assert page.common_prefixes == ["c/"]
    assert (page.is_truncated, page.next_key_marker, page.next_version_id_marker) == (True, "b/1", "v9")
    query = listing_query("versions", "p", "/", ("max-keys", 5), {"key-marker": "k", "version-id-marker": ""})
    assert query == {
        "versions": "",
        "prefix": "p",
        "delimiter": "/",
        "max-keys": "5",
        "encoding-type": "url",
        "key-marker": "k",
    }
