"""The large-PUT variants of the benchmarks, made as a client makes them (issue 15).

Three ways a client uploads one large object, each a file on disk plus the signed headers curl sends
with it, so the client does no hashing or signing while it is timed:

- ``sha256``: the body signed with its hex SHA-256, plus Content-MD5 (boto3 ``when_required`` over http);
- ``unsigned``: ``UNSIGNED-PAYLOAD`` plus Content-MD5 (rclone, boto3 before 1.36 over https);
- ``chunked``: aws-chunked with 64 KiB chunks and a CRC32 trailer, ``STREAMING-UNSIGNED-PAYLOAD-TRAILER``
  (boto3 and aws-cli over https since 1.36);
- ``chunked-signed``: aws-chunked with 64 KiB chunks, each signed, ``STREAMING-AWS4-HMAC-SHA256-PAYLOAD``
  (minio-go).

Signing uses botocore for the request and a few lines of HMAC for the chunk chain, written from the
SigV4 streaming documentation, not the gateway's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

from awscrt import checksums as crt
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

CHUNK = 64 * 1024
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
VARIANTS = ("sha256", "unsigned", "chunked", "chunked-signed")


@dataclass
class Upload:
    """One way of uploading: the file curl sends and its headers (Host left to curl)."""

    path: Path
    headers: dict[str, str]


def _signed(url: str, headers: dict[str, str], access_key: str, secret_key: str) -> dict[str, str]:
    request = AWSRequest("PUT", url, headers=headers)
    SigV4Auth(Credentials(access_key, secret_key), "s3", "us-east-1").add_auth(request)
    return {k: v for k, v in request.headers.items() if k.lower() != "host"}


def _chunks(source: Path):  # type: ignore[no-untyped-def]
    with open(source, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def _chunked_file(source: Path, target: Path, trailer: bool, sign=None) -> int:  # type: ignore[no-untyped-def]
    """Write ``source`` aws-chunked into ``target``; the object's CRC32 goes in the trailer."""
    crc = 0
    with open(target, "wb") as out:
        for chunk in _chunks(source):
            crc = crt.crc32(chunk, crc)
            ext = f";chunk-signature={sign(chunk)}" if sign else ""
            out.write(f"{len(chunk):x}{ext}\r\n".encode() + chunk + b"\r\n")
        ext = f";chunk-signature={sign(b'')}" if sign else ""
        out.write(f"0{ext}\r\n".encode())
        if trailer:
            value = base64.b64encode(crc.to_bytes(4, "big")).decode()
            out.write(f"x-amz-checksum-crc32:{value}\r\n".encode())
        out.write(b"\r\n")
    return target.stat().st_size


def _signed_length(size: int) -> int:
    """The wire length of a signed aws-chunked body of ``size`` bytes (it is signed, so known first)."""
    full, rest = divmod(size, CHUNK)
    sizes = [CHUNK] * full + ([rest] if rest else []) + [0]
    return sum(len(f"{n:x}") + len(";chunk-signature=") + 64 + 2 + n + 2 for n in sizes)


def _key(secret: str, date: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, "us-east-1", "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def uploads(
    url: str,
    source: Path,
    sha256_hex: str,
    md5_b64: str,
    access_key: str,
    secret_key: str,
    *,
    tag: str,
    chunked: bool = True,
) -> dict[str, Upload]:
    """The variants of PUTting ``source`` to ``url``; the aws-chunked ones (only with ``chunked``) are
    files written next to ``source``, named with ``tag``."""
    size = source.stat().st_size
    out = {
        "sha256": Upload(
            source,
            _signed(
                url, {"x-amz-content-sha256": sha256_hex, "Content-MD5": md5_b64}, access_key, secret_key
            ),
        ),
        "unsigned": Upload(
            source,
            _signed(
                url,
                {"x-amz-content-sha256": "UNSIGNED-PAYLOAD", "Content-MD5": md5_b64},
                access_key,
                secret_key,
            ),
        ),
    }
    if not chunked:
        return out
    plain = source.with_name(f"{source.stem}-{tag}.chunked")
    wire = _chunked_file(source, plain, trailer=True)
    out["chunked"] = Upload(
        plain,
        _signed(
            url,
            {
                "x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                "Content-Encoding": "aws-chunked",
                "x-amz-decoded-content-length": str(size),
                "x-amz-trailer": "x-amz-checksum-crc32",
                "Content-Length": str(wire),
            },
            access_key,
            secret_key,
        ),
    )
    headers = _signed(
        url,
        {
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "x-amz-decoded-content-length": str(size),
            "Content-Length": str(_signed_length(size)),
        },
        access_key,
        secret_key,
    )
    stamp = headers["X-Amz-Date"]
    scope = f"{stamp[:8]}/us-east-1/s3/aws4_request"
    key = _key(secret_key, stamp[:8])
    previous = [headers["Authorization"].rsplit("Signature=", 1)[1]]

    def sign(chunk: bytes) -> str:
        sts = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                stamp,
                scope,
                previous[0],
                EMPTY_SHA256,
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        previous[0] = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        return previous[0]

    signed = source.with_name(f"{source.stem}-{tag}.signed")
    _chunked_file(source, signed, trailer=False, sign=sign)
    out["chunked-signed"] = Upload(signed, headers)
    return out
