"""Runs Relay's own normalizer and data scrubber (the sentry-relay package) on test cases.

stdin:  {"received_at": RFC3339, "normalize": [{"event", "client_ip"}], "scrub": [{"settings", "event"}]}
stdout: {"normalize": [event, ...], "scrub": [event, ...]}
Normalization uses Relay's production limits: 60 s into the future, 90 days into the past.
"""
import json
import sys

import sentry_relay

cases = json.load(sys.stdin)
out = {"normalize": [], "scrub": []}
for case in cases["normalize"]:
    normalizer = sentry_relay.StoreNormalizer(
        project_id=1,
        client_ip=case.get("client_ip"),
        received_at=cases["received_at"],
        max_secs_in_future=60,
        max_secs_in_past=90 * 86400,
        normalize_user_agent=True,
    )
    out["normalize"].append(normalizer.normalize_event(case["event"]))
for case in cases["scrub"]:
    config = sentry_relay.convert_datascrubbing_config(case["settings"])
    out["scrub"].append(sentry_relay.pii_strip_event(config, case["event"]))
json.dump(out, sys.stdout)
