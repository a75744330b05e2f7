"""The fs backend's key <-> path encoding: reversible, and unable to leave the bucket by construction."""

from __future__ import annotations

import itertools
import os
import posixpath

import pytest

from backends import errors as be
from backends.fs.keys import NAME_MAX, check_bucket, key_components, key_from_components, parse_component
from backends.fs.versions import VERSIONS_KIND, KeyFiles

ATOMS = [
    "",
    "a",
    ".",
    "..",
    "...",
    "/",
    "//",
    "%",
    "%25",
    "%00",
    "\x00",
    " ",
    "+",
    "\u00e9",
    "\U0001f600",
    "\\",
    "~",
]


def assert_safe(key: str) -> list[str]:
    components = key_components(key)
    assert key_from_components(components) == key
    for name in components:
        assert name not in ("", ".", "..")
        assert "/" not in name and "\x00" not in name
        assert not name.startswith(".")
        assert 1 <= len(name.encode("utf-8")) <= NAME_MAX
        assert parse_component(name) is not None
    root = "/srv/bucket"
    joined = os.path.join(root, *components)
    assert posixpath.normpath(joined) == joined  # no component that a resolver would collapse
    assert joined.startswith(root + "/")
    # KeyFiles joins by hand what os.path.join would give, for a bucket under any root, "/" too.
    for base in (root, "/bucket"):
        files = KeyFiles.of(base, components)
        parent = os.path.join(base, *components[:-1])
        assert files.current == os.path.join(parent, components[-1])
        assert files.versions == os.path.join(parent, VERSIONS_KIND + components[-1][1:])
    return components


def test_enumerated_keys_round_trip_and_stay_inside() -> None:
    seen: dict[tuple[str, ...], str] = {}
    for n in range(1, 4):
        for atoms in itertools.product(ATOMS, repeat=n):
            key = "".join(atoms)
            if not key:
                continue
            path = tuple(assert_safe(key))
            assert seen.setdefault(path, key) == key, "two keys share a path"


@pytest.mark.parametrize(
    "key",
    ["../../etc/passwd", "/etc/passwd", "a/../../b", "./x", "x/.", "..", ".", "\x00", "a\x00/../b", "C:\\x"],
)
def test_traversal_attempts_are_plain_keys(key: str) -> None:
    assert_safe(key)


def test_file_and_directory_never_share_a_name() -> None:
    assert key_components("a") == ["oa"]
    assert key_components("a/") == ["da", "o"]
    assert key_components("a/b") == ["da", "ob"]
    assert key_components("/x") == ["d", "ox"]


@pytest.mark.parametrize("atom", ["x", "%", "\u00e9", "\U0001f600", "ab/", "%/"])
def test_long_segments_split_within_name_max(atom: str) -> None:
    key = atom * (1024 // len(atom.encode()))
    components = assert_safe(key)
    if "/" not in atom:
        assert len(components) > 1


def test_key_limits() -> None:
    assert_safe("k" * 1024)
    with pytest.raises(be.KeyTooLong):
        key_components("k" * 1025)
    with pytest.raises(be.KeyTooLong):
        key_components("\u00e9" * 513)
    with pytest.raises(be.InvalidKey):
        key_components("")
    with pytest.raises(be.InvalidKey):
        key_components("bad\udc80surrogate")


def test_foreign_names_are_not_keys() -> None:
    for name in ["", ".created", "x", "o%41", "o%", "d%2", "oa/b", "o\x00"]:
        assert parse_component(name) is None
    with pytest.raises(ValueError):
        key_from_components(["oa", "ob"])
    with pytest.raises(ValueError):
        key_from_components(["da"])


@pytest.mark.parametrize("name", ["", ".", "..", ".hidden", "a/b", "a\x00", "x" * 256, "-lead", "../b", "b/"])
def test_bad_bucket_names(name: str) -> None:
    with pytest.raises(be.InvalidBucketName):
        check_bucket(name)


@pytest.mark.parametrize("name", ["bucket", "my.bucket-1", "a" * 63, "Legacy_Bucket"])
def test_good_bucket_names(name: str) -> None:
    assert check_bucket(name) == name


def test_random_keys_with_hypothesis() -> None:
    hypothesis = pytest.importorskip("hypothesis")
    st = hypothesis.strategies
    alphabet = st.sampled_from(ATOMS[1:] + ["b", "-", "\u65e5"])

    @hypothesis.settings(max_examples=150, deadline=None, derandomize=True)
    @hypothesis.given(st.lists(alphabet, min_size=1, max_size=200).map("".join))
    def check(key: str) -> None:
        if key and len(key.encode()) <= 1024:
            assert_safe(key)

    check()


def test_each_caller_gets_its_own_components() -> None:
    """The split is remembered per key; a caller changing its list changes nobody else's."""
    first = key_components("a/b/c")
    first.append("zzz")
    first[0] = "x"
    assert key_components("a/b/c") == key_components("a/b/c") != first
    assert key_components("a/b/c") is not key_components("a/b/c")
