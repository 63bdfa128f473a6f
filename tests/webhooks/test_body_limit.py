"""Bodies past GitHub's 25 MB cap are 413, with a Content-Length or chunked (which has none)."""

import io
import json

import pytest

from prmonitor.webhooks.receiver import MAX_BODY_BYTES

from ..helpers import WEBHOOKS, delivery_headers


def ping_of(size):
    """A signed ping whose JSON body is `size` bytes."""
    body = json.dumps({"zen": ""}).encode()
    return json.dumps({"zen": "x" * (size - len(body))}).encode()


def post(client, body, chunked):
    headers = delivery_headers("ping", body)
    if not chunked:
        return client.post(WEBHOOKS, data=body, headers=headers)
    # As gunicorn passes a chunked body: no Content-Length, and wsgi.input_terminated set.
    return client.post(
        WEBHOOKS,
        input_stream=io.BytesIO(body),
        headers={**headers, "Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_over_25_mb_is_413(client, chunked):
    response = post(client, ping_of(MAX_BODY_BYTES + 1), chunked)
    assert response.status_code == 413
    assert response.json["error"] == "payload larger than 25 MB"


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_body_of_exactly_25_mb_is_accepted(client, chunked):
    response = post(client, ping_of(MAX_BODY_BYTES), chunked)
    assert response.status_code == 200
