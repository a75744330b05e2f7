"""ListBuckets paging with boto3's own parameters and paginator, against the real gateway process."""

from __future__ import annotations

import uuid


def test_boto3_list_buckets_pages(s3) -> None:  # type: ignore[no-untyped-def]
    prefix = f"lb-{uuid.uuid4().hex[:6]}-"
    made = [f"{prefix}{n}" for n in range(5)]
    for name in made:
        s3.create_bucket(Bucket=name)
    try:
        first = s3.list_buckets(MaxBuckets=2, Prefix=prefix)
        assert [b["Name"] for b in first["Buckets"]] == made[:2]
        assert first["Prefix"] == prefix and first["ContinuationToken"]
        pages = s3.get_paginator("list_buckets").paginate(Prefix=prefix, PaginationConfig={"PageSize": 2})
        assert [b["Name"] for page in pages for b in page["Buckets"]] == made
        assert (
            s3.list_buckets(Prefix=prefix, BucketRegion="us-east-1")["Buckets"][0]["BucketRegion"]
            == "us-east-1"
        )
    finally:
        for name in made:
            s3.delete_bucket(Bucket=name)
