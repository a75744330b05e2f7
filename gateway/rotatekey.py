"""``s3bridge rotate-key``: rewrap every SSE-S3 object's data key under each encrypt backend's current
master key (``key_id``), so an older key (kept under ``old_keys`` until now) can be retired.

Run it after making a new key current and moving the previous one to ``old_keys``; gateways keep serving
meanwhile (objects wrapped under either key read fine). Exit status 0 when every object now uses the
current key, 1 when some could not be rewrapped (the output says which). What it does to each object is
described in ``backends.composite.rotate``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from backends.composite.encrypt import Encrypt
from backends.composite.forwarding import close_members, start_members
from backends.composite.rotate import rotate
from gateway.config import ConfigError, load


def run(config: Path | None, data_dir: Path | None, backend: str | None, buckets: list[str] | None) -> int:
    from gateway.assemble import build_backends

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    built = build_backends(load(config, data_dir=data_dir))
    layers = {name: b for name, b in built.items() if isinstance(b, Encrypt)}
    if backend is not None:
        if backend not in layers:
            raise ConfigError(
                f"backends.{backend}: not an encrypt backend (encrypt backends: {', '.join(layers) or 'none'})"
            )
        layers = {backend: layers[backend]}
    if not layers:
        print("no encrypt backend is configured")
        return 0
    return asyncio.run(_rotate_all(layers, buckets))


async def _rotate_all(layers: dict[str, Encrypt], buckets: list[str] | None) -> int:
    status = 0
    for name, layer in layers.items():
        await start_members([layer])
        try:
            report = await rotate(layer, buckets)
        finally:
            await close_members([layer])
        print(f"{name}: {report} (current key {layer.keyring.current})")
        for failure in report.failed:
            print(f"{name}: failed: {failure}")
        if report.failed:
            status = 1
    return status
