"""Sends one of each kind of data the Python sentry-sdk sends, through its own transport:
an error with an attachment, a transaction, a session, a cron check-in, user feedback and logs.

usage: python_everything.py DSN SENT_DIR
Writes every envelope the SDK's transport sent to SENT_DIR (one file each, as sent, before
compression), and prints JSON: the error's event id, the attachment's name and bytes (hex).
"""
import json
import os
import sys
import uuid

import sentry_sdk
from sentry_sdk.envelope import Envelope, Item, PayloadRef
from sentry_sdk.transport import HttpTransport

dsn, sent_dir = sys.argv[1:3]


class RecordingTransport(HttpTransport):
    """The SDK's own HTTP transport; each envelope is also written to SENT_DIR as sent."""

    def capture_envelope(self, envelope):
        path = os.path.join(sent_dir, f"{uuid.uuid4().hex}.envelope")
        with open(path, "wb") as f:
            envelope.serialize_into(f)
        super().capture_envelope(envelope)


sentry_sdk.init(
    dsn=dsn,
    release="everything@1.0.0",
    environment="test",
    traces_sample_rate=1.0,
    enable_logs=True,
    transport=RecordingTransport,
)

attachment = b"attached bytes \x00\x01\x02 from python"
sentry_sdk.get_isolation_scope().start_session(session_mode="application")
with sentry_sdk.start_transaction(op="task", name="everything"):
    with sentry_sdk.start_span(op="work", description="one span"):
        sentry_sdk.logger.info("a log line from python")
        sentry_sdk.logger.warning("another log line, {what}", what="formatted")
    with sentry_sdk.new_scope() as scope:
        scope.add_attachment(bytes=attachment, filename="python.bin", content_type="application/octet-stream")
        try:
            1 / 0
        except ZeroDivisionError:
            error_id = sentry_sdk.capture_exception()
sentry_sdk.crons.capture_checkin(monitor_slug="nightly", status="ok", duration=1.5)
sentry_sdk.get_isolation_scope().end_session()

# Feedback: the SDK has no capture call for it, so its transport sends the item the
# JavaScript SDK sends, linked to the error.
feedback_id = uuid.uuid4().hex
feedback = {
    "event_id": feedback_id,
    "timestamp": 1,
    "platform": "python",
    "contexts": {"feedback": {
        "message": "it divided by zero",
        "contact_email": "py@example.com",
        "name": "Py",
        "associated_event_id": error_id,
    }},
}
envelope = Envelope(headers={"event_id": feedback_id})
envelope.add_item(Item(payload=PayloadRef(json=feedback), type="feedback"))
sentry_sdk.get_client().transport.capture_envelope(envelope)
sentry_sdk.flush(timeout=20)
print(json.dumps({"error": error_id, "attachment": {"name": "python.bin", "hex": attachment.hex()}}))
