"""``s3bridge check-config``: would the gateway start with this configuration?"""

from __future__ import annotations

import argparse
import asyncio

from gateway.assemble import build_backends
from gateway.config import load


def run(args: argparse.Namespace) -> int:
    config = load(args.config, data_dir=args.data_dir)
    print(f"configuration: ok ({len(config.backends)} backend(s), {len(config.credentials)} key pair(s))")
    backends = build_backends(config)
    if args.no_connect:
        return 0
    failed = 0

    async def probe() -> None:
        nonlocal failed
        for name, backend in backends.items():
            try:
                await backend.start()
                await asyncio.wait_for(backend.check(), 10)
                print(f"backend {name}: ok")
            except Exception as exc:  # report every backend, then decide
                failed += 1
                print(f"backend {name}: FAILED: {exc}")
            finally:
                await backend.close()

    asyncio.run(probe())
    return 1 if failed else 0
