"""Who may do what: key pairs with rights per bucket glob, and public-read buckets (pure code).

Rights: ``read`` (get/head objects), ``list`` (list a bucket, bucket reads), ``write`` (put, copy,
delete, multipart), ``admin`` (create and delete buckets; implies the others). An anonymous caller may
only make the public reads of a bucket configured public-read. A refusal is AccessDenied, the same
answer whether the bucket exists or not, so rights do not leak bucket names.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

from gateway.config import ALL_RIGHTS, Config, KeyPair
from gateway.errors import S3Error


class Policy:
    def __init__(self, config: Config):
        self._keys: dict[str, KeyPair] = {kp.access_key: kp for kp in config.credentials}
        self._public = [pb.bucket for pb in config.public_buckets]
        self._public_write = [pb.bucket for pb in config.public_buckets if pb.access == "read-write"]
        self.reserved = config.reserved_buckets()

    def secret_for(self, access_key: str) -> str | None:
        pair = self._keys.get(access_key)
        if pair is None or pair.secret_key is None:
            return None
        return pair.secret_key.get_secret_value()

    def rights(self, access_key: str, bucket: str) -> set[str]:
        pair = self._keys.get(access_key)
        if pair is None:
            return set()
        for grant in pair.buckets:
            if fnmatchcase(bucket, grant.bucket):
                granted: set[str] = set(grant.rights)
                return set(ALL_RIGHTS) if "admin" in granted else granted
        return set()

    def is_public(self, bucket: str | None) -> bool:
        return bucket is not None and any(fnmatchcase(bucket, glob) for glob in self._public)

    def is_public_write(self, bucket: str | None) -> bool:
        """Anonymous browser-form uploads (POST object) are allowed on a bucket configured read-write."""
        return bucket is not None and any(fnmatchcase(bucket, glob) for glob in self._public_write)

    def allows(
        self, access_key: str | None, bucket: str | None, right: str, *, public_read: bool = False
    ) -> bool:
        if access_key is None:
            return public_read and self.is_public(bucket)
        if right == "none":
            return True
        # Fail closed: a right on a bucket is never granted for a request that names no bucket.
        return bucket is not None and right in self.rights(access_key, bucket)

    def authorize(
        self, access_key: str | None, bucket: str | None, right: str, *, public_read: bool = False
    ) -> None:
        if not self.allows(access_key, bucket, right, public_read=public_read):
            raise S3Error("AccessDenied")

    def may_see_bucket(self, access_key: str | None, bucket: str) -> bool:
        """ListBuckets shows a bucket when the key holds any right on it."""
        return access_key is not None and bool(self.rights(access_key, bucket))
