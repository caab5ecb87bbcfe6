"""todo-mcp through the official MCP Python SDK's OAuth client (`OAuthClientProvider`), an
independent implementation of the MCP authorization spec (revision 2025-11-25): starting from a
bare 401 it discovers the Protected Resource Metadata (RFC 9728) and todo-api's authorization
server metadata (RFC 8414), registers itself (RFC 7591), authorizes with PKCE S256 and the
`resource` parameter (RFC 8707), exchanges the code and calls the tools with the access token.

The redirect handler plays the browser of a signed-in user: it follows the authorize URL, which
todo-api answers with a redirect to todo-web's consent page, and makes the two calls that page
makes (what to show; the user's "Allow") to todo-api with the user's session token. (The
interop stack runs without todo-web; the page itself is tested in todo-web's tests.)

Run by `cargo xtask ci` (step interop); see mcp_checks.py for the environment.
"""

from urllib.parse import parse_qsl, urlsplit

import httpx2
from mcp import ClientSession
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

from mcp_checks import API_URL, MCP_URL, TIMEOUT, register, run_async, structured

REDIRECT_URI = "http://127.0.0.1:33418/callback"
CLIENT_NAME = "interop python host"


class MemoryStorage:
    """The SDK's `TokenStorage`, in memory."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


class SignedInBrowser:
    """Redirect and callback handlers for one signed-in user; records what it saw."""

    def __init__(self, session_token):
        self.session_token = session_token
        self.redirect = None
        self.consent_shown = []

    async def open(self, authorize_url):
        auth = {"Authorization": f"Bearer {self.session_token}"}
        async with httpx2.AsyncClient(timeout=TIMEOUT) as http:
            r = await http.get(authorize_url)
            assert r.status_code == 302, f"/oauth/authorize answered {r.status_code}: {r.text}"
            consent_page = r.headers["location"]
            assert urlsplit(consent_page).path == "/connect", consent_page
            query = urlsplit(consent_page).query
            preview = await http.get(f"{API_URL}/oauth/consent?{query}", headers=auth)
            assert preview.status_code == 200, preview.text
            self.consent_shown.append(preview.json())
            decision = dict(parse_qsl(query))
            decision["approve"] = True
            answer = await http.post(f"{API_URL}/oauth/consent", json=decision, headers=auth)
            assert answer.status_code == 200, answer.text
            self.redirect = answer.json()["redirect_to"]

    async def callback(self):
        assert self.redirect and self.redirect.startswith(REDIRECT_URI + "?"), self.redirect
        q = dict(parse_qsl(urlsplit(self.redirect).query))
        return AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))


def provider(browser, storage, scope="tasks:read tasks:write"):
    return OAuthClientProvider(
        server_url=MCP_URL,
        client_metadata=OAuthClientMetadata(
            client_name=CLIENT_NAME,
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
            scope=scope,
        ),
        storage=storage,
        redirect_handler=browser.open,
        callback_handler=browser.callback,
    )


async def with_session(auth, body):
    http = create_mcp_http_client(auth=auth)
    async with http:
        async with streamable_http_client(MCP_URL, http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session:
                await session.initialize()
                return await body(session)


def test_discovers_registers_authorizes_and_calls_tools():
    browser = SignedInBrowser(register("oauth"))
    storage = MemoryStorage()

    async def body(session):
        tools = (await session.list_tools()).tools
        schemas = {t.name: t.output_schema for t in tools}
        added = structured(await session.call_tool("add_task", {"title": "via OAuth"}), schemas["add_task"])
        listed = structured(await session.call_tool("list_tasks", {}), schemas["list_tasks"])
        return [t.name for t in tools], added, listed

    names, added, listed = run_async(lambda: with_session(provider(browser, storage), body))
    assert "add_task" in names
    assert added["task"]["title"] == "via OAuth"
    assert [t["title"] for t in listed["tasks"]] == ["via OAuth"]

    # Registration and consent happened once, naming the client and both scopes.
    assert storage.client_info is not None and storage.client_info.client_id
    assert [c["client_name"] for c in browser.consent_shown] == [CLIENT_NAME]
    assert [s["scope"] for s in browser.consent_shown[0]["scopes"]] == ["tasks:read", "tasks:write"]
    # Audience-bound, scoped, short-lived, with a refresh token.
    tokens = storage.tokens
    assert tokens.scope == "tasks:read tasks:write"
    assert tokens.refresh_token
    assert 0 < tokens.expires_in <= 600

    # The stored access token is reused by a second session: no new consent.
    async def count(session):
        return len(structured(await session.call_tool("list_tasks", {}), None)["tasks"])

    assert run_async(lambda: with_session(provider(browser, storage), count)) == 1
    assert len(browser.consent_shown) == 1


def test_revoked_grant_sends_the_client_through_authorization_again():
    browser = SignedInBrowser(register("oauth-revoke"))
    storage = MemoryStorage()

    async def count(session):
        return len(structured(await session.call_tool("list_tasks", {}), None)["tasks"])

    assert run_async(lambda: with_session(provider(browser, storage), count)) == 0
    old = storage.tokens

    async def revoke():
        async with httpx2.AsyncClient(timeout=TIMEOUT) as http:
            r = await http.post(
                f"{API_URL}/oauth/revoke",
                data={"token": old.refresh_token, "client_id": storage.client_info.client_id},
            )
            assert r.status_code == 200, r.text
            # The access token is refused at once, with the challenge naming the metadata.
            r = await http.post(
                MCP_URL,
                headers={"Authorization": f"Bearer {old.access_token}", "Accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}},
            )
            assert r.status_code == 401, r.text
            challenge = r.headers["www-authenticate"]
            assert 'error="invalid_token"' in challenge and "resource_metadata=" in challenge, challenge

    run_async(revoke)
    # The SDK meets the 401 and authorizes again (a second consent), then the call works.
    assert run_async(lambda: with_session(provider(browser, storage), count)) == 0
    assert len(browser.consent_shown) == 2
    assert storage.tokens.access_token != old.access_token
