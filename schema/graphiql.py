"""GraphiQL that works without internet access.

Its JavaScript and CSS are the files shipped in the `graphene-django-graphiql-static` wheel (installed
with the project's dependencies; only its static files are used, nothing of Django), served by the api
itself under STATIC_PATH. The page loads nothing from any other host.

Subscriptions go over `graphql-transport-ws`; the token typed into the Headers editor is sent as the
`connection_init` payload, and a changed header opens a new websocket.
"""

import html
import json
from importlib.resources import files
from pathlib import Path

STATIC_PATH = "/graphiql-static"
STATIC_DIR = Path(
    str(files("graphene_django_graphiql_static") / "static" / "graphene_django_graphiql_static")
)
STYLESHEETS = ("graphiql.min.css", "style.css")
# Order matters: each script uses the globals of those before it.
SCRIPTS = (
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
    "graphql-ws.min.js",
    "graphiql-plugin-explorer.umd.js",
)
DEFAULT_QUERY = """# StudyMate GraphQL API
#
# Signed-in operations need a token: run `login`, then put
#   {"Authorization": "Bearer <accessToken>"}
# into the Headers tab below. Subscriptions use the same header.

query Me {
  me {
    id
    name
    role
  }
}
"""

_BOOT = """
const graphqlUrl = new URL(window.location.pathname, window.location.href).toString();
const websocketUrl = graphqlUrl.replace(/^http/, "ws");
let current = null;

// One websocket per set of headers: the token travels in connection_init, so a new token needs a new
// connection, and the previous one is closed.
function fetcherFor(headers) {
  const key = JSON.stringify(headers || {});
  if (current === null || current.key !== key) {
    if (current !== null) current.wsClient.dispose();
    const wsClient = graphqlWs.createClient({ url: websocketUrl, connectionParams: headers || {} });
    current = { key, wsClient, fetcher: GraphiQL.createFetcher({ url: graphqlUrl, wsClient }) };
  }
  return current.fetcher;
}

function fetcher(params, options) {
  return fetcherFor(options && options.headers)(params, options);
}

function StudyMateGraphiQL() {
  const [query, setQuery] = React.useState(DEFAULT_QUERY);
  const explorer = GraphiQLPluginExplorer.useExplorerPlugin({ query, onEdit: setQuery });
  return React.createElement(GraphiQL, {
    fetcher,
    query,
    onEditQuery: setQuery,
    plugins: [explorer],
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: true,
    defaultEditorToolsVisibility: true,
  });
}

ReactDOM.render(React.createElement(StudyMateGraphiQL), document.getElementById("graphiql"));
"""


def asset_urls() -> list[str]:
    return [f"{STATIC_PATH}/{name}" for name in (*STYLESHEETS, *SCRIPTS)]


def render_page() -> str:
    stylesheets = "\n".join(
        f'  <link rel="stylesheet" href="{html.escape(f"{STATIC_PATH}/{name}")}">' for name in STYLESHEETS
    )
    scripts = "\n".join(
        f'  <script src="{html.escape(f"{STATIC_PATH}/{name}")}"></script>' for name in SCRIPTS
    )
    # json.dumps makes a JavaScript string literal; "</" is escaped so the text cannot end the script.
    default_query = json.dumps(DEFAULT_QUERY).replace("</", "<\\/")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>StudyMate GraphiQL</title>
  <style>html, body, #graphiql {{ height: 100%; margin: 0; overflow: hidden; width: 100%; }}</style>
{stylesheets}
{scripts}
</head>
<body>
  <div id="graphiql">Loading…</div>
  <script>
const DEFAULT_QUERY = {default_query};
{_BOOT}
  </script>
</body>
</html>
"""
