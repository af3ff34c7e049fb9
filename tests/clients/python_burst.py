"""Sends COUNT exceptions one after another with the real Python sentry-sdk, then flushes
(which also sends the SDK's client report of what it dropped itself).

usage: python_burst.py DSN COUNT MARKER      prints JSON: the event ids the SDK produced
"""
import json
import sys

import sentry_sdk

dsn, count, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sentry_sdk.init(dsn=dsn, release="burst@1.0.0", _experiments={"transport_compression_algo": "gzip"})
ids = []
for i in range(count):
    try:
        raise RuntimeError(f"{marker} burst {i}")
    except RuntimeError:
        ids.append(sentry_sdk.capture_exception())
sentry_sdk.flush(timeout=20)
print(json.dumps({"ids": ids}))
