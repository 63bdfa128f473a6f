"""The dashboard's pages render what the API knows."""

from ..events import job_event, pr_event, run_event


def test_index_links_each_pr_to_its_page(client, deliver):
    assert "No pull requests yet" in client.get("/").get_data(as_text=True)
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    html = client.get("/").get_data(as_text=True)
    assert 'href="/prs/acme/widgets/17"' in html
    assert "Fix the parser" in html and "✗ failing" in html


def test_pr_page_shows_workflows_jobs_failed_steps_and_log_links(client, deliver):
    deliver("pull_request", pr_event("opened"))
    deliver("workflow_run", run_event("completed"))
    deliver("workflow_job", job_event("completed"))
    html = client.get("/prs/acme/widgets/17").get_data(as_text=True)
    assert "acme/widgets #17" in html
    assert "Run tests, Upload coverage" in html
    assert 'href="https://github.com/acme/widgets/actions/runs/9100000001/job/29000000001"' in html
    assert 'href="https://github.com/acme/widgets/actions/runs/9100000001"' in html


def test_unknown_or_malformed_pr_pages_are_404(client):
    assert client.get("/prs/acme/widgets/17").status_code == 404
    assert client.get("/prs/acme/widgets/x").status_code == 404
    assert client.get("/prs/a%20b/c/1").status_code == 404
    assert client.get("/prs/acme/widgets/%C2%B2").status_code == 404
    assert client.get("/prs/%C2%B2").status_code == 404


def test_a_pr_that_is_not_tracked_gets_the_dashboards_own_404(client):
    response = client.get("/prs/acme/widgets/17")
    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "No tracked pull request" in html and 'href="/"' in html
    assert "<title>Not found · prmonitor</title>" in html


def test_a_number_in_one_repository_redirects_to_its_page(client, deliver):
    deliver("pull_request", pr_event("opened"))
    response = client.get("/prs/17")
    assert (response.status_code, response.headers["Location"]) == (302, "/prs/acme/widgets/17")


def test_a_number_in_two_repositories_lists_both(client, deliver):
    deliver("pull_request", pr_event("opened"))
    deliver("pull_request", pr_event("opened", repo="other/place"))
    response = client.get("/prs/17")
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert 'href="/prs/acme/widgets/17"' in html and 'href="/prs/other/place/17"' in html
    assert client.get("/prs/Other/Place/17").status_code == 200  # names are case-insensitive
