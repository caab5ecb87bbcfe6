"""todo-mcp through the official MCP Python SDK's `ClientSession` (an independent client),
with the 2025 initialize handshake (protocol 2025-11-25).

Run by `cargo xtask ci` (step interop) against a running todo-mcp; see mcp_checks.py for the
environment and how to run it by hand.
"""

import pytest
from mcp.client.streamable_http import create_mcp_http_client

from mcp_checks import (
    MCP_URL,
    NOT_FOUND as NOT_FOUND_RE,
    assert_tool_error,
    error_code,
    legacy_session,
    register,
    run_async,
    structured,
)


@pytest.fixture(scope="module")
def tokens():
    return register("legacy-a"), register("legacy-b")


def run_session(token, body):
    async def main():
        async with legacy_session(token) as session:
            return await body(session)

    return run_async(main)


def test_negotiates_2025_11_25(tokens):
    async def version(session):
        return session.protocol_version

    assert run_session(tokens[0], version) == "2025-11-25"


def test_lists_every_tool_with_schemas(tokens):
    async def body(session):
        return (await session.list_tools()).tools

    tools = run_session(tokens[0], body)
    names = [t.name for t in tools]
    assert names == ["add_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"]
    for tool in tools:
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None


def test_calls_every_tool(tokens):
    async def body(session):
        schemas = {t.name: t.output_schema for t in (await session.list_tools()).tools}
        added = structured(await session.call_tool("add_task", {"title": "SDK task", "priority": "high", "due": "2026-12-01", "tags": ["sdk"]}), schemas["add_task"])
        number = added["task"]["number"]
        listed = structured(await session.call_tool("list_tasks", {"tag": "sdk", "status": "pending"}), schemas["list_tasks"])
        got = structured(await session.call_tool("get_task", {"task_id": number}), schemas["get_task"])
        updated = structured(await session.call_tool("update_task", {"task_id": number, "title": "SDK task renamed", "due": None}), schemas["update_task"])
        done = structured(await session.call_tool("complete_task", {"task_id": number}), schemas["complete_task"])
        deleted = structured(await session.call_tool("delete_task", {"task_id": number}), schemas["delete_task"])
        missing = await session.call_tool("get_task", {"task_id": number})
        invalid = await session.call_tool("add_task", {"title": ""})
        return schemas, added, listed, got, updated, done, deleted, missing, invalid

    schemas, added, listed, got, updated, done, deleted, missing, invalid = run_session(tokens[0], body)
    assert added["task"]["priority"] == "high"
    assert added["task"]["due_at"].startswith("2026-12-01T00:00:00")
    assert any(t["title"] == "SDK task" for t in listed["tasks"])
    assert got["task"]["id"] == added["task"]["id"]
    assert updated["task"]["title"] == "SDK task renamed" and updated["task"]["due_at"] is None
    assert done["task"]["completed"] is True
    assert deleted["task"]["id"] == added["task"]["id"]
    assert_tool_error(missing, "task_id", code="TASK_NOT_FOUND", schema=schemas["get_task"])
    assert_tool_error(invalid, "title", code="VALIDATION_ERROR", schema=schemas["add_task"])
    code, field = error_code(invalid)
    assert code in (None, "VALIDATION_ERROR") and field in (None, "title")


def test_user_b_cannot_touch_user_a_tasks(tokens):
    async def add(session):
        return structured(await session.call_tool("add_task", {"title": "A only"}))["task"]

    task = run_session(tokens[0], add)

    async def attack(session):
        results = []
        for ref in (task["number"], task["id"]):
            results.append(await session.call_tool("get_task", {"task_id": ref}))
            results.append(await session.call_tool("update_task", {"task_id": ref, "title": "pwned"}))
            results.append(await session.call_tool("complete_task", {"task_id": ref}))
            results.append(await session.call_tool("delete_task", {"task_id": ref}))
        listed = structured(await session.call_tool("list_tasks", {"query": "A only"}))
        return results, listed

    results, listed = run_session(tokens[1], attack)
    for result in results:
        text = assert_tool_error(result, ["task_id", NOT_FOUND_RE], code="TASK_NOT_FOUND")
        assert "A only" not in text
    assert listed["total"] == 0

    async def check(session):
        return structured(await session.call_tool("get_task", {"task_id": task["id"]}))["task"]

    still = run_session(tokens[0], check)
    assert still["title"] == "A only" and still["completed"] is False


def test_rejects_a_bad_token():
    async def raw_initialize():
        async with create_mcp_http_client() as http:
            return await http.post(
                MCP_URL,
                headers={"Authorization": "Bearer not-a-token", "Accept": "application/json, text/event-stream"},
                json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
            )

    response = run_async(raw_initialize)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer resource_metadata="), challenge
    assert 'error="invalid_token"' in challenge, challenge
    assert response.json()["error"]["code"] == "UNAUTHORIZED"

    async def body(session):
        return await session.list_tools()

    try:
        run_session("not-a-token", body)
    except BaseException as exc:  # the SDK reports the refused initialize as an MCPError
        assert "MCPError" in repr(exc), repr(exc)
    else:
        raise AssertionError("an SDK session started with a bad token")

