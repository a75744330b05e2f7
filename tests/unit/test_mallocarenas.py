"""The worker's malloc arena cap: taken by glibc, and never over an operator's MALLOC_ARENA_MAX."""

from __future__ import annotations

import platform

import pytest

from gateway import mallocarenas


def test_the_operators_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    assert mallocarenas.limit_arenas() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt's arena cap is glibc's")
def test_glibc_takes_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert mallocarenas.limit_arenas(mallocarenas.ARENAS) is True
