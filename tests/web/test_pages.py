"""The dashboard's pages with Flask's test client: the PR list's badges, filters, search and
pages; the PR page's failures, timelines, folded history and live part; the trends page;
hostile text escaped everywhere; a constant number of statements per page."""

import html
import re
from html.parser import HTMLParser

import pytest

from prmonitor.storage import db

from ..events import SHA, job_event, pr_event, run_event

OTHER_SHA = "a" * 40
HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)",
]


class Tags(HTMLParser):
    """The elements and attribute names of a page, as an HTML parser reads them."""

    def __init__(self):
        super().__init__()
        self.names, self.attributes = [], []

    def handle_starttag(self, tag, attrs):
        self.names.append(tag)
        self.attributes += [name for name, _ in attrs]


def page(client, path):
    answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return answer.get_data(as_text=True)


def open_pr(deliver, number=17, repo=None, sha=SHA, **fields):
    payload = pr_event("opened", repo=repo, **fields)
    payload["number"] = number
    payload["pull_request"].update(number=number)
    payload["pull_request"]["head"]["sha"] = sha
    assert deliver("pull_request", payload).status_code == 200


def run(deliver, run_id, sha=SHA, number=17, conclusion="failure", status="completed", **fields):
    payload = run_event(
        status if status != "in_progress" else "in_progress",
        id=run_id,
        head_sha=sha,
        status=status,
        conclusion=conclusion if status == "completed" else None,
        **fields,
    )
    for hint in payload["workflow_run"]["pull_requests"]:
        hint["number"] = number
        hint["head"]["sha"] = sha
    assert deliver("workflow_run", payload).status_code == 200


def job(deliver, job_id, run_id, sha=SHA, status="completed", conclusion="failure", **fields):
    action = status if status in ("queued", "in_progress", "completed") else "queued"
    payload = job_event(
        action,
        id=job_id,
        run_id=run_id,
        head_sha=sha,
        status=status,
        **({"conclusion": conclusion} if status == "completed" else {}),
        **fields,
    )
    assert deliver("workflow_job", payload).status_code == 200


# -- the list --------------------------------------------------------------------------------


def test_the_list_shows_status_badges_failures_by_class_and_relative_times(client, deliver):
    open_pr(deliver, 17)
    run(deliver, 9100000001)
    job(deliver, 29000000001, 9100000001)
    open_pr(deliver, 18, sha=OTHER_SHA, title="Green one")
    run(deliver, 9100000002, sha=OTHER_SHA, number=18, conclusion="success")
    open_pr(deliver, 19, sha="b" * 40, title="Nothing ran")
    text = page(client, "/")
    rows = re.findall(r"<tr>(.*?)</tr>", text, re.S)
    by_number = {re.search(r"#(\d+)</a>", row).group(1): row for row in rows[1:]}
    assert "✗ failing" in by_number["17"] and "1 unclassified" in by_number["17"]
    assert "✓ green" in by_number["18"] and "no runs" in by_number["19"]
    assert "octocat" in by_number["17"] and "<code>6dcb09b</code>" in by_number["17"]
    assert re.search(r'<time datetime="[^"]+" title="20\d\d-\d\d-\d\d [^"]+ UTC">', text)
    assert "ago</time>" in text


@pytest.mark.parametrize(
    "query, shown",
    [
        ("status=failing", {"17"}),
        ("status=green", {"18"}),
        ("status=none", {"19"}),
        ("status=running", {"20"}),
        ("q=18", {"18"}),
        ("q=%2318", {"18"}),
        ("q=green", {"18"}),
        ("q=NOTHING+ran", {"19"}),
        ("state=closed", set()),
        ("repo=acme/widgets&status=failing", {"17"}),
        ("repo=other/place", set()),
    ],
)
def test_filters_and_search(client, deliver, query, shown):
    open_pr(deliver, 17)
    run(deliver, 9100000001)
    open_pr(deliver, 18, sha=OTHER_SHA, title="Green one")
    run(deliver, 9100000002, sha=OTHER_SHA, number=18, conclusion="success")
    open_pr(deliver, 19, sha="b" * 40, title="Nothing ran")
    open_pr(deliver, 20, sha="c" * 40, title="Still going")
    run(deliver, 9100000004, sha="c" * 40, number=20, status="in_progress")
    text = page(client, f"/?{query}")
    assert set(re.findall(r'href="/prs/acme/widgets/(\d+)"', text)) == shown


def test_a_pushed_fix_makes_the_pr_green_in_the_list(client, deliver):
    open_pr(deliver, 17)
    run(deliver, 9100000001)  # red on the first head
    open_pr(deliver, 17, sha=OTHER_SHA)  # synchronize: a new head
    run(deliver, 9100000002, sha=OTHER_SHA, conclusion="success")
    assert "✓ green" in page(client, "/")
    assert set(re.findall(r"/prs/acme/widgets/(\d+)", page(client, "/?status=failing"))) == set()


def test_bad_filters_are_a_400_with_the_reason(client):
    for query, words in (
        ("status=purple", "status must be one of"),
        ("state=weird", "state must be one of"),
        ("repo=not-a-repo", "owner/name"),
        ("after=garbage", "after must be"),
        ("q=" + "x" * 201, "200 characters"),
    ):
        answer = client.get(f"/?{query}")
        assert answer.status_code == 400 and words in answer.get_data(as_text=True), query


def test_the_list_pages_with_a_cursor(client, deliver, monkeypatch):
    from prmonitor.web import dashboard

    monkeypatch.setattr(dashboard, "PAGE_SIZE", 2)
    for number in range(1, 6):
        open_pr(deliver, number, sha=f"{number:040x}")
    seen, path = [], "/?status=none"
    while path:
        text = page(client, html.unescape(path))
        seen += re.findall(r'href="/prs/acme/widgets/(\d+)"', text)
        found = re.search(r'<a href="([^"]+)" rel="next">', text)
        path = found.group(1) if found else None
        assert path is None or "status=none" in html.unescape(path)  # filters are kept
    assert sorted(seen, key=int) == ["1", "2", "3", "4", "5"] and len(seen) == 5


# -- the PR page -----------------------------------------------------------------------------


def test_the_pr_page_puts_failures_first_with_the_line_and_a_timeline(client, deliver, database):
    open_pr(deliver, 17)
    run(deliver, 9100000001)
    job(deliver, 29000000001, 9100000001)
    job(deliver, 29000000002, 9100000001, conclusion="success", name="lint")
    database.execute_sql(
        "UPDATE workflow_jobs SET failure_excerpt = 'E   assert 2 == 3', failure_class = 'new' "
        "WHERE job_id = 29000000001"
    )
    text = page(client, "/prs/acme/widgets/17")
    assert text.index('id="failed-jobs"') < text.index("<h2>Runs</h2>")
    assert "E   assert 2 == 3" in text and ">new</span>" in text
    assert "failed step: <strong>Run tests, Upload coverage</strong>" in text
    svg = re.search(r'<svg class="timeline".*?</svg>', text, re.S).group(0)
    assert svg.count('class="bar"') == 2 and svg.count('class="queued"') == 2
    assert "✗ test-unit" in svg and "✓ lint" in svg  # a mark beside the colour
    assert "test-unit: failure, queued 7 s, ran 6 min 20 s" in svg
    assert 'href="/repos/acme/widgets"' in text


def test_earlier_heads_and_attempts_are_folded(client, deliver):
    open_pr(deliver, 17)
    run(deliver, 9100000001)
    open_pr(deliver, 17, sha=OTHER_SHA)
    run(deliver, 9100000002, sha=OTHER_SHA, conclusion="failure")
    run(deliver, 9100000002, sha=OTHER_SHA, conclusion="success", run_attempt=2)
    text = page(client, "/prs/acme/widgets/17")
    runs, earlier = text.split("<h2>Earlier heads</h2>")
    assert "✓ success" in runs and "1 earlier attempt<" in runs  # attempt 2 shown, 1 folded
    assert f'<details id="head-{SHA[:12]}">' in earlier and "✗ failure" in earlier
    assert 'id="failed-jobs"' not in runs  # the new head has no failures


def test_the_live_part_is_served_alone_and_says_whether_to_keep_refreshing(client, deliver):
    open_pr(deliver, 17)
    run(deliver, 9100000001, status="in_progress")
    job(deliver, 29000000001, 9100000001, status="in_progress", conclusion=None)
    live = client.get("/prs/acme/widgets/17", headers={"X-Live": "1"}).get_data(as_text=True)
    assert live.startswith('<div id="live" data-live="1">') and "<html" not in live
    assert "● updating" in live
    job(deliver, 29000000001, 9100000001, conclusion="success")
    run(deliver, 9100000001, conclusion="success")
    done = client.get("/prs/acme/widgets/17", headers={"X-Live": "1"}).get_data(as_text=True)
    assert done.startswith('<div id="live" data-live="0">') and "✓ success" in done


def test_the_pr_page_reads_a_constant_number_of_statements(client, deliver, monkeypatch):
    database = db.database.obj
    open_pr(deliver, 17)

    def statements_for_page():
        count = 0
        real = database.execute_sql

        def counting(sql, params=None, *args, **kwargs):
            nonlocal count
            count += 1
            return real(sql, params, *args, **kwargs)

        monkeypatch.setattr(database, "execute_sql", counting)
        page(client, "/prs/acme/widgets/17")
        monkeypatch.setattr(database, "execute_sql", real)
        return count

    run(deliver, 9100000001)
    job(deliver, 29000000001, 9100000001)
    one = statements_for_page()
    for n in range(2, 12):
        run(deliver, 9100000000 + n, name=f"workflow {n}")
        job(deliver, 29000000000 + n, 9100000000 + n)
    assert statements_for_page() == one <= 8


# -- hostile text ----------------------------------------------------------------------------


@pytest.mark.parametrize("evil", HOSTILE)
def test_hostile_titles_branches_and_job_names_are_escaped(client, deliver, evil):
    payload = pr_event("opened", title=evil)
    payload["pull_request"]["head"]["ref"] = evil
    payload["pull_request"]["user"]["login"] = evil
    assert deliver("pull_request", payload).status_code == 200
    run(deliver, 9100000001, name=evil, head_branch=evil)
    job(deliver, 29000000001, 9100000001, name=evil, runner_name=evil, workflow_name=evil)
    for path in ("/", "/prs/acme/widgets/17", "/repos/acme/widgets", "/?q=" + evil[:10]):
        text = client.get(path).get_data(as_text=True)
        assert evil not in text, path
        tags = Tags()
        tags.feed(text)
        # What a browser would build from the page: no element the payload made, no handler.
        assert "img" not in tags.names and tags.names.count("script") <= 1, path
        assert not [a for a in tags.attributes if a.startswith("on")], path


def test_a_65k_character_title_is_cut(client, deliver):
    open_pr(deliver, 17, title="W" * 65_000)
    for path in ("/", "/prs/acme/widgets/17"):
        assert "W" * 400 not in page(client, path)


# -- trends ----------------------------------------------------------------------------------


def test_trends_show_pass_rate_duration_flaky_jobs_and_signatures(client, deliver, database):
    open_pr(deliver, 17)
    for n in range(1, 9):
        conclusion = "success" if n % 2 else "failure"
        run(deliver, 9100000000 + n, conclusion=conclusion)
        job(deliver, 29000000000 + n, 9100000000 + n, conclusion=conclusion)
    database.execute_sql(
        "UPDATE workflow_jobs SET failure_class = 'flaky', failure_signature = 'timeout in "
        "test_network', failure_excerpt = 'TimeoutError: test_network' "
        "WHERE conclusion = 'failure'"
    )
    text = page(client, "/repos/acme/widgets")
    assert "The latest 8 workflow runs" in text
    row = re.search(r'<table id="workflow-trends">.*?</table>', text, re.S).group(0)
    assert "CI" in row and "PRs" in row and "pass rate: latest" in row
    assert re.search(r'<svg class="spark"[^>]*aria-label="CI pass rate: latest \d+%', row)
    jobs = re.search(r'<table id="job-trends">.*?</table>', text, re.S).group(0)
    assert "test-unit" in jobs and "<td>50%</td>" in jobs and 'class="wait">4</td>' in jobs
    assert "<strong>4×</strong> in test-unit" in text and "TimeoutError: test_network" in text


def test_trends_of_an_unknown_or_malformed_repository_are_404(client):
    assert client.get("/repos/acme/widgets").status_code == 404
    assert client.get("/repos/a%20b/c").status_code == 404
