"""The git checkout's origin: a GitHub remote names its repository; anything else names none."""

import pytest

from prmonitor.checkout import github_repo


@pytest.mark.parametrize(
    "url,repo",
    [
        ("git@github.com:acme/widgets.git", "acme/widgets"),
        ("git@github.com:acme/widgets", "acme/widgets"),
        ("https://github.com/acme/widgets.git", "acme/widgets"),
        ("https://github.com/acme/widgets/", "acme/widgets"),
        ("https://token@github.com/acme/widgets", "acme/widgets"),
        ("ssh://git@github.com/acme/wid.gets.git", "acme/wid.gets"),
        ("ssh://git@ghe.example.com:2222/acme/widgets.git", "acme/widgets"),
        ("/work/main", None),
        ("../widgets", None),
        ("file:///srv/git/acme/widgets.git", None),
        ("https://github.com/acme", None),
        ("https://github.com/acme/widgets/pulls", None),
    ],
)
def test_github_repo(url, repo):
    assert github_repo(url) == repo
