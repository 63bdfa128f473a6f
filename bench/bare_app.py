"""The ceiling for bench/ingest.py: the webhook route on the same stack doing only the HMAC check
and the JSON parse, with no database (`gunicorn bench.bare_app:app`, WEBHOOK_SECRET set)."""

import json
import os

from flask import Flask, jsonify, request

from prmonitor.webhooks.receiver import verify_signature

app = Flask(__name__)
SECRETS = tuple(s.strip() for s in os.environ.get("WEBHOOK_SECRET", "").split(",") if s.strip())


@app.post("/api/github/webhooks")
def receive():
    body = request.get_data(cache=False)
    if not verify_signature(body, request.headers.get("X-Hub-Signature-256"), SECRETS):
        return jsonify({"ok": False, "error": "missing or invalid X-Hub-Signature-256"}), 401
    payload = json.loads(body)
    delivery = request.headers.get("X-GitHub-Delivery", "")
    return jsonify(
        {"ok": True, "delivery": delivery, "outcome": "parsed", "action": payload.get("action")}
    ), 200


@app.get("/healthz")
def healthz():
    return jsonify({"ok": True})
