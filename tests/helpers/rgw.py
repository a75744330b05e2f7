"""The Ceph RGW store for the tests: one cluster per test session (``tests/helpers/rgw_cluster.py``).

Tests that use it carry the ``rgw`` marker (``pytest -m rgw`` runs that lane alone, ``-m "not rgw"``
leaves it out). Without Debian's Ceph packages they skip, saying which binary is missing and how to
install it; they never pass silently.

radosgw 16.2.15 can die under a test (it aborts with exit 134 on an UploadPartCopy whose source key
contains ``%``). A dead store must not turn into a hang or into a cascade of confusing failures, so
``rgw_watch`` checks the daemons around every ``rgw`` test: a test after which radosgw is dead fails
with its exit status and log, and radosgw is started again for the tests that follow.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.rgw_cluster import INSTALL_HINT, RgwCluster, missing_binaries

#: The session's cluster once started, for ``rgw_watch``.
_running: list[RgwCluster] = []

#: Client timeouts for a backend in front of RGW: short enough that a wedged store fails a test
#: within a minute instead of hanging the session.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0


@pytest.fixture(scope="session")
def rgw_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RgwCluster]:
    """Start the single-node cluster on first use; stop every daemon by PID when the session ends."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"Ceph RGW not installed (no {', '.join(missing)} on PATH): {INSTALL_HINT}")
    cluster = RgwCluster(tmp_path_factory.mktemp("rgw"))
    cluster.start()
    _running.append(cluster)
    try:
        yield cluster
    finally:
        _running.remove(cluster)
        cluster.stop()


@pytest.fixture(autouse=True)
def rgw_watch(request: pytest.FixtureRequest) -> Iterator[None]:
    """Around each ``rgw`` test: fail at once on a dead cluster, and revive radosgw after a crash."""
    if request.node.get_closest_marker("rgw") is None or not _running:
        yield
        return
    cluster = _running[0]
    dead = cluster.alive()
    if dead is not None:
        cluster.revive()
        pytest.fail(f"the RGW cluster was down before this test: {dead}")
    yield
    dead = cluster.alive()
    if dead is not None:
        cluster.revive()
        pytest.fail(f"radosgw died during this test: {dead}")
