"""Hostile HTTP requests for the fuzz test, generated from one seeded ``random.Random``.

Each request starts from a plausible S3 request (an operation on the fuzz bucket, a key, the query and
headers it takes), then has a few mutations applied: to the method, the path (percent-encoding, ``//``,
``..``, NUL and control characters, overlong keys, invalid UTF-8), the query, the headers (duplicates,
huge values, bad Content-Length, Transfer-Encoding tricks, bad ranges and dates), the body (aws-chunked
framing and trailers, hostile XML). Then it is signed, or not: SigV4 in the header or presigned,
SigV2 in the header or presigned, by botocore's signers over the final bytes so a good share of the
requests reach the handlers, sometimes with a tampered signature. Streaming SigV4 bodies carry real
chunk signatures, computed here independently of the gateway's code.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import random
import zlib
from base64 import b64encode
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass
class FuzzRequest:
    method: str
    path: str  # percent-encoded, as sent (may hold raw bytes after mutation: see raw_path)
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    raw_path: bytes | None = None  # bytes sent instead of ``path`` (invalid UTF-8, raw controls)
    #: The body is shorter than Content-Length says (the client then closes its side): no answer due.
    short_body: bool = False
    labels: list[str] = field(default_factory=list)

    def target(self) -> bytes:
        path = self.raw_path if self.raw_path is not None else self.path.encode("latin-1", "replace")
        return path + (b"?" + self.query.encode("latin-1", "replace") if self.query else b"")

    def wire(self) -> bytes:
        head = [self.method.encode("latin-1", "replace") + b" " + self.target() + b" HTTP/1.1"]
        head += [f"{k}: {v}".encode("latin-1", "replace") for k, v in self.headers]
        return b"\r\n".join(head) + b"\r\n\r\n" + self.body

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def set_header(self, name: str, value: str) -> None:
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()] + [(name, value)]


# -- pieces ---------------------------------------------------------------------------------------------
KEY_SEEDS = [
    "a", "dir/file.txt", "deep/a/b/c/d", "sp ace", "plus+sign", "pct%25", "uni-é-ü-中", "q?mark", "hash#x",
    "..", ".", "../up", "a/../b", "./x", "trail/", "//double", "x" * 1024, "y" * 1025, "z" * 5000,
    "ctl\x01\x1f", "nul\x00z", "tab\tkey", "crlf\r\nInjected: 1", "~tilde", "*star", "emoji-😀",
]  # fmt: skip
SUBRESOURCES = [
    "", "uploads", "acl", "location", "versioning", "policy", "tagging", "cors", "lifecycle", "delete",
    "list-type=2", "list-type=2&max-keys=1", "list-type=2&continuation-token=%FF%FE", "max-keys=-1",
    "max-keys=abc", "max-keys=99999999999999999999", "prefix=%00&delimiter=%2F", "encoding-type=url",
    "encoding-type=bogus", "versions", "versionId=null", "versionId=abc", "partNumber=1",
    "partNumber=0", "partNumber=10001", "partNumber=x", "uploadId=nope", "uploads&key-marker=%01",
    "marker=%C3%28", "start-after=zzz&fetch-owner=true", "x-id=GetObject", "response-content-type=a%0Ab",
    "response-cache-control=" + "c" * 2000, "torrent", "restore", "select&select-type=2", "=", "&&&",
    "a=1&a=2&a=3", "%", "%zz", "X-Amz-Algorithm=AWS4-HMAC-SHA256", "Signature=x&Expires=1&AWSAccessKeyId=k",
]  # fmt: skip
METHODS = ["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH", "get", "TRACE", "CONNECT", "BREW"]
BAD_DATES = ["", "yesterday", "Mon, 32 Dec 2026 99:99:99 GMT", "20261301T000000Z", "0", "-1", "9" * 40]
BAD_RANGES = [
    "bytes=5-1", "bytes=-0", "bytes=a-b", "bytes=0-0,2-3", "bytes=", "bytes=-", "items=0-1",
    "bytes=99999999999999999999-", "bytes=0-" + "9" * 30, "bytes = 0-1", "bytes=0-1" * 500,
]  # fmt: skip
CHECKSUM_NAMES = ["crc32", "crc32c", "crc64nvme", "sha1", "sha256"]


def xml_bomb(rng: random.Random) -> bytes:
    """Documents a hardened parser must refuse or read harmlessly."""
    kind = rng.randrange(6)
    if kind == 0:  # billion laughs
        ents = '<!ENTITY l0 "lol">' + "".join(
            f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 1}{("&l" + str(i - 1) + ";") * 9}">'
            for i in range(1, 10)
        )
        return f'<?xml version="1.0"?><!DOCTYPE d [{ents}]><Delete><Object><Key>&l9;</Key></Object></Delete>'.encode()
    if kind == 1:  # external entity
        return (
            b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<Delete><Object><Key>&x;</Key></Object></Delete>"
        )
    if kind == 2:  # deep nesting
        depth = rng.choice([100, 1000, 20000])
        return b"<Delete>" + b"<Object>" * depth + b"</Object>" * depth + b"</Delete>"
    if kind == 3:  # huge document
        n = rng.choice([2000, 20000, 120000])
        return b"<Delete>" + b"<Object><Key>k</Key></Object>" * n + b"</Delete>"
    if kind == 4:  # parameter entity / external DTD
        return b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "http://127.0.0.1:1/x.dtd"><Delete/>'
    return rng.choice(
        [
            b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part>",
            b"<CompleteMultipartUpload><Part><PartNumber>-5</PartNumber></Part></CompleteMultipartUpload>",
            b"\xff\xfe<\x00D\x00",
            b"<Delete><Object><Key></Key></Object><Quiet>maybe</Quiet></Delete>",
            b"<?xml version='1.0' encoding='klingon'?><Delete/>",
            b"",
        ]
    )


def percent_mangle(rng: random.Random, key: str) -> tuple[str, bytes | None]:
    """(percent-encoded path part, or None) and raw bytes for paths no encoder would produce."""
    choice = rng.randrange(8)
    encoded = quote(key, safe="/~")
    if choice == 0:
        return encoded.lower(), None  # lowercase escapes
    if choice == 1:
        return encoded + "%", None  # truncated escape
    if choice == 2:
        return encoded + "%C3%28%FF%FE", None  # invalid UTF-8, encoded
    if choice == 3:
        return "", b"/" + key.encode("utf-8", "surrogateescape")[:200] + b"\xff\xc3\x28"  # raw invalid bytes
    if choice == 4:
        return encoded.replace("/", "%2F"), None
    if choice == 5:
        return "", (b"/" + bytes(rng.randrange(0, 32) for _ in range(rng.randrange(1, 6))))  # raw controls
    return encoded, None


# -- bodies ---------------------------------------------------------------------------------------------
def aws_chunked(
    rng: random.Random, data: bytes, *, signing: tuple[bytes, str, str, str] | None, trailer: str | None
) -> bytes:
    """An aws-chunked body; ``signing`` = (signing key, amz date, scope, seed signature) signs chunks."""
    out = bytearray()
    previous = signing[3] if signing else ""
    sizes = []
    left = len(data)
    while left > 0:
        n = min(left, rng.choice([1, 7, 8192, 65536]))
        sizes.append(n)
        left -= n
    pos = 0
    for n in sizes + [0]:
        chunk = data[pos : pos + n]
        pos += n
        line = f"{n:x}"
        if signing:
            key, date, scope, _ = signing
            sts = "\n".join(
                [
                    "AWS4-HMAC-SHA256-PAYLOAD",
                    date,
                    scope,
                    previous,
                    EMPTY_SHA256,
                    hashlib.sha256(chunk).hexdigest(),
                ]
            )
            previous = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
            line += f";chunk-signature={previous}"
        out += line.encode() + b"\r\n" + chunk + (b"\r\n" if n else b"")
    if trailer:
        value = b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()
        out += f"x-amz-checksum-crc32:{value}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def signing_key(secret: str, date: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


# -- the generator -----------------------------------------------------------------------------------
class Generator:
    def __init__(self, rng: random.Random, base_url: str, pair: tuple[str, str], bucket: str, upload_id: str):
        self.rng = rng
        self.base_url = base_url
        self.host = urlsplit(base_url).netloc
        self.pair = pair
        self.bucket = bucket
        self.upload_id = upload_id

    def request(self) -> FuzzRequest:
        rng = self.rng
        req = self._base()
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            rng.choice(
                [self._mutate_method, self._mutate_path, self._mutate_query, self._mutate_headers,
                 self._mutate_headers, self._mutate_body]
            )(req)  # fmt: skip
        self._authorise(req)
        if rng.random() < 0.15:
            self._after_signing(req)
        self._frame(req)
        return req

    # -- a plausible request
    def _base(self) -> FuzzRequest:
        rng = self.rng
        key = rng.choice(KEY_SEEDS)
        bucket = rng.choice([self.bucket] * 6 + ["nosuchbucket-fz", "ab", "UPPER", "b_c", "x" * 70, ""])
        path = f"/{bucket}/{quote(key, safe='/~')}" if rng.random() < 0.8 else f"/{bucket}"
        method = rng.choice(["GET", "GET", "PUT", "PUT", "HEAD", "DELETE", "POST"])
        query = rng.choice(SUBRESOURCES) if rng.random() < 0.5 else ""
        if "uploadId" in query or (method == "PUT" and rng.random() < 0.2):
            query = f"partNumber={rng.choice([1, 2, 0])}&uploadId={self.upload_id}"
        if method == "POST" and rng.random() < 0.5:
            query = rng.choice(["delete", "uploads", f"uploadId={self.upload_id}"])
        req = FuzzRequest(method, path, query, [("Host", self.host)], labels=[f"{method} base"])
        if method in ("PUT", "POST"):
            if "delete" in query or "uploadId" in query and method == "POST":
                req.body = self._xml()
            else:
                req.body = rng.randbytes(rng.choice([0, 1, 100, 5000, 70000]))
        return req

    def _xml(self) -> bytes:
        rng = self.rng
        if rng.random() < 0.5:
            return xml_bomb(rng)
        keys = "".join(
            f"<Object><Key>{rng.choice(['a', 'b', '&amp;', '&#1;'])}</Key></Object>" for _ in range(3)
        )
        return f"<Delete>{keys}</Delete>".encode()

    # -- mutations
    def _mutate_method(self, req: FuzzRequest) -> None:
        req.method = self.rng.choice(METHODS + ["X" * 300])
        req.labels.append("method")

    def _mutate_path(self, req: FuzzRequest) -> None:
        rng = self.rng
        kind = rng.randrange(7)
        req.labels.append(f"path{kind}")
        if kind == 0:
            req.path = "/" + req.path  # leading //
        elif kind == 1:
            req.path = req.path + "/../../.." + rng.choice(["", "/etc/passwd", "/.s3bridge/tmp"])
        elif kind == 2:
            req.path = f"/{self.bucket}/" + "k" * rng.choice([1024, 1025, 4096, 70000])
        elif kind == 3:
            encoded, raw = percent_mangle(rng, rng.choice(KEY_SEEDS))
            req.path, req.raw_path = (
                f"/{self.bucket}/{encoded}",
                (b"/" + self.bucket.encode() + raw) if raw else None,
            )
        elif kind == 4:
            req.path = f"/{self.bucket}/%00%01%7F%0D%0A"
        elif kind == 5:
            req.path = rng.choice(
                ["*", "", "http://evil/x", "/_s3bridge/metrics", "/_s3bridge/../x", "/%2e%2e/"]
            )
        else:
            req.path = req.path.replace("/", "//")

    def _mutate_query(self, req: FuzzRequest) -> None:
        rng = self.rng
        req.query = rng.choice(
            [rng.choice(SUBRESOURCES), req.query + "&" + rng.choice(SUBRESOURCES), "x=" + "q" * 9000,
             "uploadId=" + self.upload_id + "&uploadId=other", "prefix=" + quote(rng.choice(KEY_SEEDS))]
        )  # fmt: skip
        req.labels.append("query")

    def _mutate_headers(self, req: FuzzRequest) -> None:
        """One hostile header appended: (names to pick from, values to pick from) per kind."""
        rng = self.rng
        kinds: list[tuple[list[str], list[str]]] = [
            (["Content-Length"], ["-1", "abc", "99999999999999999999", "1, 2", ""]),
            (["Host", "x-amz-date", "Range", "Content-MD5"], ["dup"]),  # a second one
            (["x-amz-meta-big"], ["v" * 100, "v" * 8000, "v" * 60000]),
            (["Transfer-Encoding"], ["chunked", "gzip, chunked", "xchunked", "identity"]),
            (["Range"], BAD_RANGES),
            (["If-Modified-Since", "If-Unmodified-Since", "x-amz-date", "Date", "Expires"], BAD_DATES),
            (["Content-MD5"], ["", "abc", b64encode(b"x" * 16).decode(), "====="]),
            ([f"x-amz-checksum-{name}" for name in CHECKSUM_NAMES], ["", "AAAA", "!!"]),
            (["x-amz-copy-source"], ["", "/", "fz", "%FF", f"/{self.bucket}/../x", "a" * 3000]),
            (["Expect"], ["100-continue"]),
            (["x-amz-content-sha256"], ["", "UNSIGNED-PAYLOAD", "STREAMING-NOPE", "0" * 64]),
            (["Content-Encoding"], ["aws-chunked", "gzip, aws-chunked", "br"]),
            (["x-amz-decoded-content-length"], ["-5", "x", "1" * 30, "0"]),
            (["Bad Name", "x-\u00e9", "x-amz-meta-\u00fc"], ["v\u00e9"]),
        ]
        kind = rng.randrange(len(kinds))
        req.labels.append(f"header{kind}")
        names, values = kinds[kind]
        req.headers.append((rng.choice(names), rng.choice(values)))

    def _mutate_body(self, req: FuzzRequest) -> None:
        rng = self.rng
        kind = rng.randrange(4)
        req.labels.append(f"body{kind}")
        if kind == 0:
            req.body = xml_bomb(rng)
            req.method = "POST"
            req.query = rng.choice(["delete", f"uploadId={self.upload_id}"])
        elif kind == 1:  # broken aws-chunked framing, unsigned
            req.method = "PUT"
            req.headers += [
                ("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                ("Content-Encoding", "aws-chunked"),
            ]
            req.headers.append(("x-amz-decoded-content-length", str(rng.choice([0, 5, 10]))))
            req.body = rng.choice(
                [b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n", b"5\r\nhel", b"5;chunk-signature=00\r\nhello\r\n0\r\n\r\n",
                 b"a" * 5000 + b"\r\n", b"5\r\nhello\r\n0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n",
                 b"ffffffffffffffffff\r\n", b"0\r\n" + b"t: v\r\n" * 40 + b"\r\n"]
            )  # fmt: skip
        elif kind == 2:
            req.body = rng.randbytes(rng.choice([0, 10, 1 << 20]))
        else:
            req.body = b""
            req.set_header("Content-Length", "10")
            req.short_body = True

    # -- authorisation
    def _authorise(self, req: FuzzRequest) -> None:
        rng = self.rng
        mode = rng.choice(["none", "v4", "v4", "v4", "v4-stream", "v4-query", "v2", "v2-query"])
        req.labels.append(f"auth:{mode}")
        if mode == "none" or req.raw_path is not None or not req.path.startswith("/"):
            return
        if mode == "v4-stream" and req.method in ("PUT", "POST"):
            try:
                self._stream_signed(req)
            except Exception:  # botocore cannot sign what the mutations made: send it unsigned
                req.labels.append("unsignable")
            return
        url = f"{self.base_url}{req.path}" + (f"?{req.query}" if req.query else "")
        headers = {k: v for k, v in req.headers if k.lower() != "host"}
        try:
            aws = AWSRequest(method=req.method, url=url, headers=headers, data=req.body)
            creds = Credentials(*self.pair)
            if mode.startswith("v4"):
                if mode == "v4-query":
                    S3SigV4QueryAuth(creds, "s3", REGION, expires=rng.choice([60, 3600, 604801])).add_auth(
                        aws
                    )
                else:
                    if not any(k.lower() == "x-amz-content-sha256" for k in headers):
                        aws.headers["X-Amz-Content-SHA256"] = rng.choice(
                            [hashlib.sha256(req.body).hexdigest(), "UNSIGNED-PAYLOAD"]
                        )
                    _V4(creds, "s3", REGION).add_auth(aws)
            elif mode == "v2-query":
                HmacV1QueryAuth(creds, expires=rng.choice([60, -10])).add_auth(aws)
            else:
                HmacV1Auth(creds).add_auth(aws)
        except Exception:  # botocore cannot sign what the mutations made: send it unsigned
            req.labels.append("unsignable")
            return
        split = urlsplit(aws.url)
        req.path, req.query = split.path or "/", split.query
        req.headers = [("Host", self.host)] + [(k, v) for k, v in aws.headers.items() if k.lower() != "host"]

    def _stream_signed(self, req: FuzzRequest) -> None:
        """STREAMING-AWS4-HMAC-SHA256-PAYLOAD with real chunk signatures (seed from botocore's header); the
        -TRAILER variant carries no trailer signature, so the gateway must refuse it, not crash."""
        rng = self.rng
        data = req.body if len(req.body) < 100_000 else req.body[:100_000]
        trailer = rng.random() < 0.3
        mode = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" + ("-TRAILER" if trailer else "")
        headers = {k: v for k, v in req.headers if k.lower() not in ("host", "content-length")}
        headers.update({"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data))})
        if trailer:
            headers["x-amz-trailer"] = "x-amz-checksum-crc32"
        aws = AWSRequest(
            method=req.method,
            url=f"{self.base_url}{req.path}" + (f"?{req.query}" if req.query else ""),
            headers=headers,
        )
        aws.headers["X-Amz-Content-SHA256"] = mode
        _V4(Credentials(*self.pair), "s3", REGION).add_auth(aws)
        amz_date = aws.headers["X-Amz-Date"]
        seed = aws.headers["Authorization"].rsplit("Signature=", 1)[1]
        scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
        key = signing_key(self.pair[1], amz_date[:8])
        body = aws_chunked(
            rng, data, signing=(key, amz_date, scope, seed), trailer="crc32" if trailer else None
        )
        if rng.random() < 0.2:  # flip one byte somewhere in the framed body
            i = rng.randrange(len(body))
            body = body[:i] + bytes([body[i] ^ rng.randrange(1, 256)]) + body[i + 1 :]
        req.body = body
        req.headers = [("Host", self.host)] + [(k, v) for k, v in aws.headers.items() if k.lower() != "host"]
        req.labels.append("streamed")

    def _after_signing(self, req: FuzzRequest) -> None:
        """Tamper after signing: one changed signature character, a second date, an empty credential."""
        rng = self.rng
        kind = rng.randrange(4)
        req.labels.append(f"tamper{kind}")
        if kind in (0, 3):  # one character of the signature header changed (to a non-ASCII one for 3)
            auth = req.header("Authorization")
            if auth:
                i = rng.randrange(len(auth))
                new = chr((ord(auth[i]) % 90) + 33) if kind == 0 else chr(rng.randrange(0x80, 0x100))
                req.set_header("Authorization", auth[:i] + new + auth[i + 1 :])
        elif kind == 1:
            req.headers.append(("x-amz-date", dt.datetime(2001, 1, 1).strftime("%Y%m%dT%H%M%SZ")))
        else:
            req.headers.append(("Authorization", "AWS4-HMAC-SHA256 Credential=/,SignedHeaders=,Signature="))

    # -- framing
    def _frame(self, req: FuzzRequest) -> None:
        """Content-Length for the body unless a mutation framed it already (or chunked it)."""
        te = req.header("Transfer-Encoding")
        if te is not None and "chunked" in te.lower() and req.header("Content-Length") is None:
            req.body = (
                f"{len(req.body):x}\r\n".encode() + req.body + b"\r\n0\r\n\r\n" if req.body else b"0\r\n\r\n"
            )
            return
        if req.header("Content-Length") is None and (req.body or req.method in ("PUT", "POST")):
            req.headers.append(("Content-Length", str(len(req.body))))
        declared = req.header("Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > len(req.body):
            req.short_body = True


class _V4(S3SigV4Auth):
    """botocore's S3 signer keeping an x-amz-content-sha256 the request already has."""

    def payload(self, request: AWSRequest) -> str:
        given = request.headers.get("X-Amz-Content-SHA256")
        return given if given else super().payload(request)

    def _modify_request_before_signing(self, request: AWSRequest) -> None:
        given = request.headers.get("X-Amz-Content-SHA256")
        super()._modify_request_before_signing(request)
        if given:
            del request.headers["X-Amz-Content-SHA256"]
            request.headers["X-Amz-Content-SHA256"] = given
