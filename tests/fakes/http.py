"""How the fake GitHub's answers are shaped: JSON bodies and 404s, pages and their Link
headers, and conditional requests (ETags and 304s)."""

import hashlib
import json
import math
from urllib.parse import urlencode

from werkzeug.wrappers import Response

DOCS = "https://docs.github.com/rest"
DEFAULT_PER_PAGE = 30


def json_response(status, data, headers=None):
    body = json.dumps(data)
    return Response(body, status=status, headers=headers, content_type="application/json")


def not_found():
    return json_response(404, {"message": "Not Found", "documentation_url": DOCS})


def unprocessable(message="Validation Failed"):
    return json_response(422, {"message": message, "documentation_url": DOCS})


def positive_arg(request, name, default):
    try:
        value = int(request.args.get(name, default))
    except ValueError:
        return default
    return value if value >= 1 else default


def url_with(request, **replace):
    """This request's absolute URL with some query parameters replaced (kept in order)."""
    params = [(k, v) for k, v in request.args.items(multi=True) if k not in replace]
    query = urlencode(params + list(replace.items()))
    return f"{request.host_url.rstrip('/')}{request.path}?{query}"


def page_links(request, page, last):
    """GitHub's Link header: prev, next, last, first, each present when it applies:
    https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
    """
    rels = []
    if page > 1:
        rels.append(("prev", min(page - 1, last)))
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels.append(("first", 1))
    return ", ".join(f'<{url_with(request, page=n)}>; rel="{rel}"' for rel, n in rels) or None


def paginate(request, items, page_limit):
    """(this page's items, Link header or None) for `per_page` and `page`, as GitHub does."""
    per_page = min(positive_arg(request, "per_page", DEFAULT_PER_PAGE), page_limit)
    page = positive_arg(request, "page", 1)
    last = max(1, math.ceil(len(items) / per_page))
    chunk = items[(page - 1) * per_page : page * per_page]
    return chunk, page_links(request, page, last)


def paged(request, items, page_limit, wrap=None):
    """A 200 with this page of `items` (inside `wrap(chunk)` when given) and its Link header."""
    chunk, link = paginate(request, items, page_limit)
    response = json_response(200, wrap(chunk) if wrap else chunk)
    if link:
        response.headers["Link"] = link
    return response


def conditional(request, response, credential=None):
    """ETag on every 200 GET; a matching If-None-Match gets 304:
    https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
    GitHub's ETags are specific to the token (confirmed by GitHub support in
    https://github.com/eclipse-csi/otterdog/issues/201): a new installation token, minted every
    hour, gets a 200 again where the old one got a 304. The fake does the same.
    """
    if request.method != "GET" or response.status_code != 200:
        return response
    digest = hashlib.sha1(response.get_data())
    digest.update((credential or "").encode())
    etag = f'W/"{digest.hexdigest()}"'
    response.headers["ETag"] = etag
    wanted = request.headers.get("If-None-Match", "")
    # If-None-Match compares weakly: W/"x" and "x" are the same tag (RFC 9110, 13.1.2).
    tags = {tag.strip().removeprefix("W/") for tag in wanted.split(",")}
    if etag.removeprefix("W/") in tags or "*" in tags:
        return Response(status=304, headers={"ETag": etag})
    return response
