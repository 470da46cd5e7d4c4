"""GraphiQL from the hub itself: the page a browser gets at /graphql and /public/graphql,
and its scripts and styles under /static/graphiql/<VERSION>/ (hub/http/static/graphiql,
whose README says where each file comes from).

No file comes from elsewhere, so the page works on a government network without
internet. The files are kept gzipped and sent as they are to clients that accept gzip
(every browser); anyone else gets them unzipped. Their URLs carry the version, so they
are cached for a year (`immutable`); the page itself is not cached. The page asks the
endpoint it was opened at, with whatever headers the headers pane holds (an API key as
`{"Authorization": "Bearer …"}`).
"""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

VERSION = "3.8.3"  # GraphiQL's; change it when the files change
STATIC = Path(__file__).with_name("static") / "graphiql"
PREFIX = f"/static/graphiql/{VERSION}/"
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
FILES = ("react.production.min.js", "react-dom.production.min.js", "graphiql.min.js", "graphiql.min.css")
START = "start.js"

# the page's own script: a file too, so that the page holds no inline script
START_JS = """\
(function () {
  var url = window.location.pathname;
  var fetcher = GraphiQL.createFetcher({ url: url });
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(React.createElement(GraphiQL, {
    fetcher: fetcher,
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    defaultEditorToolsVisibility: true,
  }));
})();
"""

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OPD Hub · GraphiQL</title>
<link rel="stylesheet" href="{PREFIX}graphiql.min.css">
<style>html, body, #graphiql {{ height: 100%; margin: 0; }}</style>
</head>
<body>
<div id="graphiql">Loading GraphiQL…</div>
<script src="{PREFIX}react.production.min.js"></script>
<script src="{PREFIX}react-dom.production.min.js"></script>
<script src="{PREFIX}graphiql.min.js"></script>
<script src="{PREFIX}{START}"></script>
</body>
</html>
"""


def ide_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-cache"})


@functools.cache
def _zipped(name: str) -> bytes:
    if name == START:
        return gzip.compress(START_JS.encode(), mtime=0)
    return (STATIC / f"{name}.gz").read_bytes()


async def asset(request: Request) -> Response:
    """One of GraphiQL's files: 404 for any other name or another version's."""
    version, name = request.path_params["version"], request.path_params["name"]
    if version != VERSION or name not in (*FILES, START):
        return Response("not found", status_code=404, media_type="text/plain")
    zipped = _zipped(name)
    headers = {"Cache-Control": "public, max-age=31536000, immutable", "Vary": "Accept-Encoding"}
    media_type = TYPES[Path(name).suffix]
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(zipped, media_type=media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(gzip.decompress(zipped), media_type=media_type, headers=headers)
