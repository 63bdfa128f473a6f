"""No path, query or cookie value makes a GET route answer 500 (400 or 404 instead)."""

from dataclasses import replace
from urllib.parse import quote

import pytest
from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prmonitor import blueprints
from prmonitor.storage.models import Pr
from prmonitor.web.manifest import STATE_COOKIE

from ..events import pr_event

FUZZ = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

url_values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["0", "-1", "1", "42", "9" * 30, "1.5", "a/b", "a/b\n", "octo-org/widgets", "%", "\x00"]
    ),
    st.sampled_from(["\u00e9", "\u00b2", "\u0661", "\ud7ff", "\U0001f4a5", "a" * 300]),
)
QUERY_NAMES = ("repo", "token", "code", "state", "org", "page")
CLOSED_PORT = "http://127.0.0.1:9"


def get_routes():
    """Every GET route but static files, as (rule, its path arguments)."""
    app = Flask(__name__)
    for blueprint in blueprints():
        app.register_blueprint(blueprint)
    return sorted(
        (rule.rule, tuple(sorted(rule.arguments)))
        for rule in app.url_map.iter_rules()
        if "GET" in rule.methods and rule.endpoint != "static"
    )


@pytest.mark.parametrize("rule,arguments", get_routes(), ids=lambda value: str(value))
@FUZZ
@given(data=st.data())
def test_any_path_query_or_cookie_value_never_500(app, deliver, database, rule, arguments, data):
    """Invalid path and query values are 400 or 404, never 500 (the dashboard, the API, the
    App set-up pages). Two PRs share a number, so the ?repo= choice is exercised too."""
    if not Pr.select().exists():
        deliver("pull_request", pr_event("opened"))
        other = pr_event("opened")
        other["repository"] = {**other["repository"], "id": 99, "full_name": "octo-org/other"}
        deliver("pull_request", other)
    path = rule
    for name in arguments:
        path = path.replace(f"<{name}>", quote(data.draw(url_values), safe=""))
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES), url_values))
    # Should a drawn code and state pass, the set-up callback calls a closed port, not GitHub.
    app.config["PRMONITOR"] = replace(app.config["PRMONITOR"], github_api_url=CLOSED_PORT)
    client = app.test_client()
    if data.draw(st.booleans()):
        client.set_cookie(STATE_COOKIE, data.draw(url_values))
    response = client.get(path, query_string=query)
    # 502 is fair: a code and state that pass are sent to GitHub, here a closed port.
    assert response.status_code != 500, (path, query, response.get_data(as_text=True)[:300])
