"""Sends what a person on call opens in the UI, with the real Python sentry-sdk: an exception
with local variables and source context, a breadcrumb, a tag and a user.

usage: python_ui_event.py DSN
Prints JSON: the event id.
"""
import json
import sys

import sentry_sdk

sentry_sdk.init(dsn=sys.argv[1], release="shop@1.2.3", environment="prod", send_default_pii=True)
sentry_sdk.set_user({"id": "42", "email": "ada@example.com"})
sentry_sdk.set_tag("feature", "checkout")
sentry_sdk.add_breadcrumb(category="http", message="GET /cart", level="info")


def charge(amount, card):
    total = amount * 2
    return total / 0


try:
    charge(10, "visa")
except ZeroDivisionError:
    event_id = sentry_sdk.capture_exception()
sentry_sdk.flush(timeout=20)
print(json.dumps({"event": event_id}))
