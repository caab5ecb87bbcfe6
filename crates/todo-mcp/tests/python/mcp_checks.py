"""Helpers shared by the Python SDK tests: users, connections and result checks.

Environment (set by `cargo xtask ci`, step interop): MCP_URL, the todo-mcp endpoint, and API_URL,
todo-api's base URL, where each test module registers fresh users. Any running stack works,
e.g. `cargo xtask dev --no-web`:

    MCP_URL=http://127.0.0.1:7420/mcp API_URL=http://127.0.0.1:7420 \\
        .tools/py/bin/python -m pytest -q crates/todo-mcp/tests/python
"""

import asyncio
import json
import os
import re
import urllib.error
import urllib.request
import uuid
from contextlib import asynccontextmanager

import anyio
import jsonschema
from mcp import Client, ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

MCP_URL = os.environ["MCP_URL"]
API_URL = os.environ["API_URL"].rstrip("/")
TOOLS = ["add_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"]
# The debug server answers in milliseconds; a hung request fails the test instead of the run.
TIMEOUT = float(os.environ.get("MCP_TIMEOUT_SECONDS", "5"))
NOT_FOUND = re.compile(r"not[ _-]?found|does not exist|no such task|no task", re.IGNORECASE)


def register(label):
    """A new todo-api user; returns its bearer token."""
    email = f"interop-py-{label}-{uuid.uuid4().hex[:8]}@example.com"
    body = json.dumps({"email": email, "password": "interop-password", "name": f"Interop {label}"}).encode()
    request = urllib.request.Request(
        f"{API_URL}/api/auth/register", data=body, headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)["token"]
    except urllib.error.HTTPError as err:
        raise AssertionError(f"registering {email}: HTTP {err.code}: {err.read().decode(errors='replace')}") from err


@asynccontextmanager
async def legacy_session(token):
    """`ClientSession` with the 2025 initialize handshake (protocol 2025-11-25)."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http:
        async with streamable_http_client(MCP_URL, http_client=http) as (read, write, *_):
            async with ClientSession(read, write, read_timeout_seconds=TIMEOUT) as session:
                await session.initialize()
                yield session


@asynccontextmanager
async def auto_client(token):
    """`Client(mode="auto")`: probes `server/discover` and speaks 2026-07-28 when offered."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with http:
        transport = streamable_http_client(MCP_URL, http_client=http)
        async with Client(transport, mode="auto", read_timeout_seconds=TIMEOUT) as client:
            yield client


def run_async(main):
    """`asyncio.run(main())`, re-raising the first real error out of the SDK's task-group
    `ExceptionGroup`s, so a failure reads "MCPError: Request timed out" rather than
    "unhandled errors in a TaskGroup"."""
    try:
        return asyncio.run(main())
    except BaseExceptionGroup as group:
        leaves = list(_leaves(group))
        real = [e for e in leaves if not isinstance(e, (asyncio.CancelledError, GeneratorExit))]
        # A stream torn down by the real error is a consequence, not the cause.
        causes = [e for e in real if not isinstance(e, (anyio.BrokenResourceError, anyio.ClosedResourceError))]
        raise (causes or real or leaves or [group])[0] from group


def _leaves(group):
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            yield from _leaves(exc)
        else:
            yield exc


def text_of(result):
    return "\n".join(c.text for c in result.content if getattr(c, "type", None) == "text")


def error_details(result):
    """(code, field, text) of a tool error. The text may be JSON such as
    {"error":{"code":"VALIDATION_ERROR","message":"title: must not be empty","field":"title"}}
    or plain text; code and field are None when the text does not carry them."""
    text = text_of(result)
    try:
        parsed = json.loads(text)
    except ValueError:
        return None, None, text
    error = parsed.get("error", parsed) if isinstance(parsed, dict) else parsed
    if isinstance(error, dict):
        return error.get("code"), error.get("field"), text
    return None, None, text


def error_code(result):
    """(code, field) of an `isError` result, read from its text content (never from
    structured_content, which on an error must conform to the outputSchema or be absent)."""
    assert result.is_error, result
    code, field, _ = error_details(result)
    return code, field


def conforms(schema, data, what):
    if schema is None:
        return
    try:
        jsonschema.validate(data, schema)
    except jsonschema.ValidationError as err:
        raise AssertionError(f"{what}: structuredContent does not match the outputSchema: {err.message}\n  {data!r}")


def structured(result, schema=None):
    """A successful result's structured content, checked against `schema` and mirrored in text."""
    assert not result.is_error, text_of(result)
    data = result.structured_content
    assert data is not None, result
    conforms(schema, data, "success")
    # The text block mirrors the structured content for clients that only read text.
    assert json.loads(result.content[0].text) == data
    return data


def assert_tool_error(result, names, code=None, schema=None):
    """An `isError` result whose text names one of `names` (a field, or a regex for the problem).

    When the text is JSON with a code and `code` is given, the code must match too."""
    assert result.is_error, f"expected isError, got: {text_of(result)[:300]}"
    got_code, field, text = error_details(result)
    assert text.strip(), "the error result has no text content"
    haystack = " ".join(str(p) for p in (field, text) if p)
    names = names if isinstance(names, (list, tuple)) else [names]
    assert any(
        (n.search(haystack) if isinstance(n, re.Pattern) else n in haystack) for n in names
    ), f"the error text does not name {names}: {text}"
    if code is not None and got_code is not None:
        assert got_code == code, f"error code {got_code!r}, expected {code!r}: {text}"
    if result.structured_content is not None:
        conforms(schema, result.structured_content, "error")
    return text
