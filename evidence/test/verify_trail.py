"""Independent verifier of a robotrace trail, as given in protocol/README.md section 11.

Usage: python3 verify_trail.py TRAIL.json ENGINE.pem [EVENTS.jsonl]
Prints OK or FAIL <reason>; exit status 0 or 1. Needs the `cryptography` package.
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key


def canonical(value) -> bytes:
    # Protocol values have no floats; keys are ASCII, so sort_keys matches RFC 8785's UTF-16 order.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def main() -> int:
    trail = json.load(open(sys.argv[1], encoding="utf-8"))
    key = load_pem_public_key(open(sys.argv[2], "rb").read())
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = base64.urlsafe_b64encode(hashlib.sha256(raw).digest()).decode().rstrip("=")[:16]

    evidence = trail["evidence"]
    if evidence["alg"] != "Ed25519" or evidence["keyId"] != key_id:
        print("FAIL unknown key or algorithm")
        return 1
    unsigned = dict(trail, evidence={k: v for k, v in evidence.items() if k != "signature"})
    try:
        key.verify(b64url_decode(evidence["signature"]), canonical(unsigned))
    except InvalidSignature:
        print("FAIL bad signature")
        return 1

    if len(sys.argv) > 3:
        events = [json.loads(line) for line in open(sys.argv[3], encoding="utf-8") if line.strip()]
        events.sort(key=lambda e: e["seq"])
        head = "0" * 64
        for i, event in enumerate(events):
            if event["seq"] != i + 1 or event["tracebackId"] != trail["tracebackId"]:
                print("FAIL event missing or out of order")
                return 1
            head = hashlib.sha256(head.encode("ascii") + canonical(event)).hexdigest()
        if head != evidence["chainHead"] or len(events) != evidence["eventCount"]:
            print("FAIL chain mismatch")
            return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
