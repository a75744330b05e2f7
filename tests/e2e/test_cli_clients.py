"""The aws-cli (v1 from PyPI) and s3cmd, unmodified, against the real gateway process."""

from __future__ import annotations

import uuid
from pathlib import Path

from tests.helpers.clients import sha256_file, write_random


def test_aws_s3_high_level(aws, tmp_path: Path) -> None:
    bucket = f"cli-{uuid.uuid4().hex[:10]}"
    aws("s3", "mb", f"s3://{bucket}")
    assert bucket in aws("s3", "ls").stdout
    big = write_random(tmp_path / "big.bin", 64 * 1024 * 1024, seed=1)  # multipart with the cli's 8 MiB parts
    aws("s3", "cp", str(big), f"s3://{bucket}/dir/big.bin")
    back = tmp_path / "back.bin"
    aws("s3", "cp", f"s3://{bucket}/dir/big.bin", str(back))
    assert sha256_file(back) == sha256_file(big)
    etag = aws("s3api", "head-object", "--bucket", bucket, "--key", "dir/big.bin").stdout
    assert '-8\\"' in etag  # 64 MiB in 8 MiB parts
    tree = tmp_path / "tree"
    for rel in ("a.txt", "sub/b.txt", "sub/deeper/c with space.txt"):
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel * 10)
    aws("s3", "sync", str(tree), f"s3://{bucket}/tree")
    listing = aws("s3", "ls", "--recursive", f"s3://{bucket}/tree/").stdout
    assert "tree/sub/deeper/c with space.txt" in listing and "tree/a.txt" in listing
    again = aws("s3", "sync", str(tree), f"s3://{bucket}/tree").stdout
    assert again.strip() == ""  # nothing changed, nothing copied
    down = tmp_path / "down"
    aws("s3", "sync", f"s3://{bucket}/tree", str(down))
    assert (down / "sub/deeper/c with space.txt").read_text() == (
        tree / "sub/deeper/c with space.txt"
    ).read_text()
    aws("s3", "rm", "--recursive", f"s3://{bucket}/")
    aws("s3", "rb", f"s3://{bucket}")
    assert bucket not in aws("s3", "ls").stdout


def test_aws_s3api_errors(aws) -> None:
    missing = aws(
        "s3api", "get-object", "--bucket", "no-such-bucket-x", "--key", "k", "/dev/null", check=False
    )
    assert missing.returncode != 0 and "NoSuchBucket" in missing.stderr
    bad = aws("s3", "ls", check=False, env={"AWS_SECRET_ACCESS_KEY": "wrong"})
    assert bad.returncode != 0 and "SignatureDoesNotMatch" in bad.stderr


def test_s3cmd_roundtrip(s3cmd, tmp_path: Path) -> None:
    bucket = f"s3cmd-{uuid.uuid4().hex[:10]}"
    s3cmd("mb", f"s3://{bucket}")
    src = write_random(tmp_path / "f.bin", 3 * 1024 * 1024 + 7, seed=2)
    s3cmd("put", str(src), f"s3://{bucket}/dir/f.bin")
    s3cmd("put", str(src), f"s3://{bucket}/other.bin")
    listing = s3cmd("ls", f"s3://{bucket}/").stdout
    assert "DIR" in listing and f"s3://{bucket}/dir/" in listing and f"s3://{bucket}/other.bin" in listing
    assert f"s3://{bucket}/dir/f.bin" in s3cmd("ls", "--recursive", f"s3://{bucket}").stdout
    info = s3cmd("info", f"s3://{bucket}/dir/f.bin").stdout
    assert "3145735" in info
    out = tmp_path / "out.bin"
    s3cmd("get", f"s3://{bucket}/dir/f.bin", str(out))
    assert sha256_file(out) == sha256_file(src)
    big = write_random(tmp_path / "big.bin", 16 * 1024 * 1024 + 3, seed=3)  # multipart (15 MiB chunks)
    s3cmd("put", str(big), f"s3://{bucket}/big.bin")
    s3cmd("get", f"s3://{bucket}/big.bin", str(tmp_path / "big.out"))
    assert sha256_file(tmp_path / "big.out") == sha256_file(big)
    s3cmd("del", "--recursive", "--force", f"s3://{bucket}")
    s3cmd("rb", f"s3://{bucket}")
