"""The verdict on the dashboard's PR page, with its two feedback buttons: a form post with the
page's token stores the feedback; one without it (another site's) is refused."""

import re

from prmonitor.storage import analyses, db

from .world import analyse, failing_pr, rows, sync


def test_the_buttons_store_feedback(client, fake, stub, diagnosis, queue):
    pr, _ = failing_pr(fake)
    sync(client, fake, diagnosis)
    analyse(queue)
    page = client.get(f"/prs/octo-org/widgets/{pr['number']}")
    html = page.get_data(as_text=True)
    assert "<strong>related</strong> (80%, claude-test)" in html
    [row] = rows()
    action = f'action="/analyses/{row.id}/feedback"'
    assert action in html and "👍 right" in html and "👎 wrong" in html
    token = re.search(r'name="csrf" value="([^"]+)"', html).group(1)

    back = f"/prs/octo-org/widgets/{pr['number']}"
    form = {"csrf": token, "correct": "false", "back": back}
    answer = client.post(f"/analyses/{row.id}/feedback", data=form)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(back)
    with db.database.connection_context():
        [stored] = analyses.feedback_for(row.id)
    assert (stored["correct"], stored["who"], stored["source"]) == (False, "dashboard", "user")

    client.delete_cookie("prmonitor_csrf")
    refused = client.post(f"/analyses/{row.id}/feedback", data=form)
    assert refused.status_code == 400
    with db.database.connection_context():
        assert len(analyses.feedback_for(row.id)) == 1
