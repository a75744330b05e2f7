"""The fs listing walker with a per-directory limit walks exactly what the unlimited walker walks."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from backends.fs.keys import key_components
from backends.fs.listing import KeyWalker, list_page


def _tree(root: Path) -> list[str]:
    rng = random.Random(15)
    alphabet = ["a", "b", "a/", "b/", "-", "~", "é", "/"]
    keys = {"a", "a/", "a/b", "ab", "a-b", "a/b/c", "b" * 300, "b" * 300 + "/x", "c" * 600}
    while len(keys) < 400:
        keys.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))))
    for key in keys:
        parts = key_components(key)
        directory = root.joinpath(*parts[:-1])
        directory.mkdir(parents=True, exist_ok=True)
        (directory / parts[-1]).touch()
    return sorted(keys, key=lambda k: k.encode())


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, list[str]]:
    root = tmp_path_factory.mktemp("walk")
    return str(root), _tree(root)


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
def test_limited_walk_is_the_full_walk(tree: tuple[str, list[str]], limit: int) -> None:
    root, keys = tree
    assert [k for k, _ in KeyWalker(root)] == [k for k in keys if k]
    for prefix in ("", "a", "a/", "b", "é"):
        for start_after in ("", "a", "a/", "a/b", "ab", "b/", "b" * 300):
            full = [k for k, _ in KeyWalker(root, prefix, start_after)]
            limited = [k for k, _ in KeyWalker(root, prefix, start_after, limit=limit)]
            assert limited == full, (prefix, start_after)
            assert full == [k for k in keys if k.startswith(prefix) and k.encode() > start_after.encode()]


@pytest.mark.parametrize("limit", [1, 2, 5])
def test_limited_pages_with_delimiters(tree: tuple[str, list[str]], limit: int) -> None:
    root, _ = tree
    for prefix, delimiter in (("", "/"), ("a/", "/"), ("", "b"), ("a", "-")):
        marker, pages_full, pages_limited = "", [], []
        for pages, lim in ((pages_full, None), (pages_limited, limit)):
            marker = ""
            while True:
                page = list_page(KeyWalker(root, prefix, marker, limit=lim), prefix, delimiter, marker, 3)
                pages.append(page.entries)
                if not page.is_truncated:
                    break
                assert page.next_marker is not None
                marker = page.next_marker
        assert pages_limited == pages_full, (prefix, delimiter)


def test_a_vanished_directory_ends_its_part_of_the_walk(tmp_path: Path) -> None:
    os.makedirs(tmp_path / "dx")
    for i in range(5):
        (tmp_path / "dx" / f"o{i}").touch()
    walker = iter(KeyWalker(str(tmp_path), limit=2))
    assert next(walker)[0] == "x/0"
    for i in range(5):
        (tmp_path / "dx" / f"o{i}").unlink()
    os.rmdir(tmp_path / "dx")
    assert [k for k, _ in walker] == ["x/1"]  # kept before it went; the rest is gone with it
