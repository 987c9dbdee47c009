"""Verifies Standard Webhooks deliveries with the reference Python library.

Reads JSON lines {"secret", "headers", "body_b64"} on stdin and prints one
JSON line per delivery: {"ok": true} or {"ok": false, "error": "..."}.
"""

import base64
import json
import sys

from standardwebhooks.webhooks import Webhook


def main() -> None:
    for line in sys.stdin:
        if not line.strip():
            continue
        item = json.loads(line)
        body = base64.b64decode(item["body_b64"])
        try:
            Webhook(item["secret"]).verify(body, item["headers"])
            print(json.dumps({"ok": True}))
        except Exception as error:  # noqa: BLE001 - report any refusal
            print(json.dumps({"ok": False, "error": repr(error)}))


if __name__ == "__main__":
    main()
