"""Sends one exception and one message with the real Python sentry-sdk.

usage: python_send.py DSN COMPRESSION MARKER   (COMPRESSION: gzip | br)
Prints JSON: the two event ids and the compression the SDK's transport really used.
"""
import json
import sys

import sentry_sdk

dsn, algo, marker = sys.argv[1:4]
sentry_sdk.init(
    dsn=dsn,
    release="py-client@1.0.0",
    environment="test",
    _experiments={"transport_compression_algo": algo},
)
try:
    {}["missing-" + marker]
except KeyError:
    exception_id = sentry_sdk.capture_exception()
message_id = sentry_sdk.capture_message(f"python {algo} {marker}")
transport = sentry_sdk.get_client().transport
used = getattr(transport, "_compression_algo", None)
sentry_sdk.flush(timeout=20)
print(json.dumps({"exception": exception_id, "message": message_id, "compression": used}))
