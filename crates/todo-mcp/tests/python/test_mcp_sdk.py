"""todo-mcp through the official MCP Python SDK (an independent client).

Run by `cargo xtask ci` against a running todo-mcp: MCP_URL is the endpoint, TOKEN_A and
TOKEN_B are bearer tokens of two users issued by todo-api.
"""

import asyncio
import json
import os

from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

MCP_URL = os.environ["MCP_URL"]
TOKEN_A = os.environ["TOKEN_A"]
TOKEN_B = os.environ["TOKEN_B"]


def run_session(token, body):
    async def main():
        http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
        async with http:
            async with streamable_http_client(MCP_URL, http_client=http) as (read, write, *_):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    return await body(session)

    return asyncio.run(main())


def structured(result):
    assert not result.is_error, result
    data = result.structured_content
    assert data is not None, result
    # The text block mirrors the structured content for clients that only read text.
    assert json.loads(result.content[0].text) == data
    return data


def error_code(result):
    assert result.is_error, result
    return result.structured_content["error"]["code"], result.structured_content["error"].get("field")


def test_lists_every_tool_with_schemas():
    async def body(session):
        return (await session.list_tools()).tools

    tools = run_session(TOKEN_A, body)
    names = [t.name for t in tools]
    assert names == ["add_task", "list_tasks", "get_task", "update_task", "complete_task", "delete_task"]
    for tool in tools:
        assert tool.input_schema["type"] == "object"
        assert tool.output_schema is not None


def test_calls_every_tool():
    async def body(session):
        added = structured(await session.call_tool("add_task", {"title": "SDK task", "priority": "high", "due": "2026-12-01", "tags": ["sdk"]}))
        number = added["task"]["number"]
        listed = structured(await session.call_tool("list_tasks", {"tag": "sdk", "status": "pending"}))
        got = structured(await session.call_tool("get_task", {"task_id": number}))
        updated = structured(await session.call_tool("update_task", {"task_id": number, "title": "SDK task renamed", "due": None}))
        done = structured(await session.call_tool("complete_task", {"task_id": number}))
        deleted = structured(await session.call_tool("delete_task", {"task_id": number}))
        missing = await session.call_tool("get_task", {"task_id": number})
        invalid = await session.call_tool("add_task", {"title": ""})
        return added, listed, got, updated, done, deleted, missing, invalid

    added, listed, got, updated, done, deleted, missing, invalid = run_session(TOKEN_A, body)
    assert added["task"]["priority"] == "high"
    assert added["task"]["due_at"] == "2026-12-01T00:00:00Z"
    assert any(t["title"] == "SDK task" for t in listed["tasks"])
    assert got["task"]["id"] == added["task"]["id"]
    assert updated["task"]["title"] == "SDK task renamed" and updated["task"]["due_at"] is None
    assert done["task"]["completed"] is True
    assert deleted["task"]["id"] == added["task"]["id"]
    assert error_code(missing) == ("TASK_NOT_FOUND", "task_id")
    assert error_code(invalid) == ("VALIDATION_ERROR", "title")


def test_user_b_cannot_touch_user_a_tasks():
    async def add(session):
        return structured(await session.call_tool("add_task", {"title": "A only"}))["task"]

    task = run_session(TOKEN_A, add)

    async def attack(session):
        results = []
        for ref in (task["number"], task["id"]):
            results.append(await session.call_tool("get_task", {"task_id": ref}))
            results.append(await session.call_tool("update_task", {"task_id": ref, "title": "pwned"}))
            results.append(await session.call_tool("complete_task", {"task_id": ref}))
            results.append(await session.call_tool("delete_task", {"task_id": ref}))
        listed = structured(await session.call_tool("list_tasks", {"query": "A only"}))
        return results, listed

    results, listed = run_session(TOKEN_B, attack)
    for result in results:
        assert error_code(result)[0] == "TASK_NOT_FOUND"
        assert "A only" not in str(result)
    assert listed["total"] == 0

    async def check(session):
        return structured(await session.call_tool("get_task", {"task_id": task["id"]}))["task"]

    still = run_session(TOKEN_A, check)
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

    response = asyncio.run(raw_initialize())
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "UNAUTHORIZED"

    async def body(session):
        return await session.list_tools()

    try:
        run_session("not-a-token", body)
    except BaseException as exc:  # the SDK reports the refused initialize as an MCPError
        assert "MCPError" in repr(exc), repr(exc)
    else:
        raise AssertionError("an SDK session started with a bad token")
