"""Relay's own request signing (sentry-relay, Relay's Rust core): the oracle for Picket's.

stdin: {"op": "sign", "body": str} -> {"secret", "public", "signature"} from a fresh key pair
       {"op": "verify", "public": str, "body": str, "signature": str, "max_age": int} -> {"valid": bool}
"""
import json
import sys

import sentry_relay

request = json.load(sys.stdin)
if request["op"] == "sign":
    secret, public = sentry_relay.generate_key_pair()
    answer = {"secret": str(secret), "public": str(public), "signature": secret.sign(request["body"].encode())}
else:
    public = sentry_relay.PublicKey.parse(request["public"])
    body, signature = request["body"].encode(), request["signature"]
    answer = {"valid": bool(public.verify(body, signature, max_age=request["max_age"]))}
json.dump(answer, sys.stdout)
