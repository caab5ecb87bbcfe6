"""todo-mcp through the official MCP Python SDK's high-level `Client(mode="auto")`, which probes
`server/discover` and must negotiate protocol 2026-07-28.

The Python SDK validates structured content against the outputSchema on success only; these
tests check error results themselves: an error is an `isError` result whose text names the
problem, and any structured content it carries conforms to the outputSchema.

Run by `cargo xtask ci` (step interop); see mcp_checks.py for running it by hand.
"""

import uuid

import pytest

from mcp_checks import NOT_FOUND, TOOLS, assert_tool_error, auto_client, register, run_async, structured


def run(token, body):
    async def main():
        async with auto_client(token) as client:
            schemas = {t.name: t.output_schema for t in (await client.list_tools()).tools}
            return await body(client, schemas)

    return run_async(main)


async def ok(client, schemas, name, args):
    return structured(await client.call_tool(name, args), schemas.get(name))


@pytest.fixture(scope="module")
def user():
    return register("auto")


def test_negotiates_2026_07_28_and_lists_the_tools(user):
    async def body(client, schemas):
        return client.protocol_version, (await client.list_tools()).tools

    version, tools = run(user, body)
    assert version == "2026-07-28"
    assert [t.name for t in tools] == TOOLS
    for tool in tools:
        assert tool.input_schema["type"] == "object", tool.name
        assert tool.output_schema is not None and tool.output_schema["type"] == "object", tool.name
        assert tool.description, tool.name


def test_calls_every_tool_with_valid_arguments():
    token = register("auto-valid")

    async def body(client, schemas):
        task = (await ok(client, schemas, "add_task", {
            "title": "Auto task", "description": "from Client(mode=auto)", "priority": "high",
            "due": "2026-12-01", "tags": ["interop", "SDK"]}))["task"]
        assert task["number"] == 1 and task["priority"] == "high" and sorted(task["tags"]) == ["interop", "sdk"]
        assert task["due_at"].startswith("2026-12-01T00:00:00")
        plain = (await ok(client, schemas, "add_task", {"title": "Plain"}))["task"]
        assert plain["number"] == 2 and plain["priority"] == "medium"
        listed = await ok(client, schemas, "list_tasks", {})
        assert listed["total"] == 2 and [t["title"] for t in listed["tasks"]] == ["Auto task", "Plain"]
        filtered = await ok(client, schemas, "list_tasks", {
            "status": "pending", "priority": "high", "tag": "interop", "query": "Auto",
            "due_before": "2027-01-01", "limit": 10})
        assert [t["id"] for t in filtered["tasks"]] == [task["id"]]
        for ref in (1, "#1", task["id"]):
            assert (await ok(client, schemas, "get_task", {"task_id": ref}))["task"]["id"] == task["id"]
        updated = (await ok(client, schemas, "update_task", {
            "task_id": 1, "title": "Auto renamed", "priority": "low", "due": None, "description": None,
            "tags": ["renamed"]}))["task"]
        assert updated["title"] == "Auto renamed" and updated["due_at"] is None and updated["tags"] == ["renamed"]
        done = (await ok(client, schemas, "complete_task", {"task_id": task["id"]}))["task"]
        assert done["completed"] is True and done["completed_at"]
        reopened = (await ok(client, schemas, "complete_task", {"task_id": 1, "completed": False}))["task"]
        assert reopened["completed"] is False
        deleted = (await ok(client, schemas, "delete_task", {"task_id": 1}))["task"]
        assert deleted["id"] == task["id"]
        gone = await client.call_tool("get_task", {"task_id": task["id"]})
        assert_tool_error(gone, ["task_id", NOT_FOUND], schema=schemas["get_task"])
        assert (await ok(client, schemas, "list_tasks", {}))["total"] == 1

    run(token, body)


ELEVEN_TAGS = [f"t{i}" for i in range(11)]
T = object()  # stands for the number of an existing task
INVALID = [
    ("add_task", "title of the wrong type", {"title": 42}, "title"),
    ("add_task", "empty title", {"title": ""}, "title"),
    ("add_task", "blank title", {"title": "   "}, "title"),
    ("add_task", "NUL in the title", {"title": "nul\x00byte"}, "title"),
    ("add_task", "title over 200 characters", {"title": "x" * 201}, "title"),
    ("add_task", "missing title", {}, "title"),
    ("add_task", "unknown key", {"title": "x", "colour": "red"}, "colour"),
    ("add_task", "unknown priority", {"title": "x", "priority": "urgent"}, "priority"),
    ("add_task", "unparseable due date", {"title": "x", "due": "next tuesday"}, "due"),
    ("add_task", "impossible due date", {"title": "x", "due": "2026-02-30"}, "due"),
    ("add_task", "negative-year due date", {"title": "x", "due": "-0001-06-01"}, "due"),
    ("add_task", "11 tags", {"title": "x", "tags": ELEVEN_TAGS}, "tags"),
    ("add_task", "tags not a list", {"title": "x", "tags": "a,b"}, "tags"),
    ("list_tasks", "unknown status", {"status": "done"}, "status"),
    ("list_tasks", "limit 0", {"limit": 0}, "limit"),
    ("list_tasks", "limit of the wrong type", {"limit": "ten"}, "limit"),
    ("list_tasks", "unknown key", {"sort": "title"}, "sort"),
    ("get_task", "missing task_id", {}, "task_id"),
    ("get_task", "task_id of the wrong type", {"task_id": True}, "task_id"),
    ("get_task", "task number 0", {"task_id": 0}, "task_id"),
    ("get_task", "negative task number", {"task_id": -1}, "task_id"),
    ("get_task", "missing task number", {"task_id": 999999}, ["task_id", NOT_FOUND]),
    ("get_task", "missing task UUID", {"task_id": str(uuid.UUID(int=1))}, ["task_id", NOT_FOUND]),
    ("update_task", "no field to change", {"task_id": T}, ["at least one", "title"]),
    ("update_task", "empty title", {"task_id": T, "title": ""}, "title"),
    ("update_task", "NUL in the title", {"task_id": T, "title": "a\x00b"}, "title"),
    ("update_task", "negative-year due date", {"task_id": T, "due": "-0001-06-01"}, "due"),
    ("update_task", "11 tags", {"task_id": T, "tags": ELEVEN_TAGS}, "tags"),
    ("update_task", "missing task", {"task_id": 999999, "title": "x"}, ["task_id", NOT_FOUND]),
    ("complete_task", "completed of the wrong type", {"task_id": T, "completed": "yes"}, "completed"),
    ("complete_task", "missing task", {"task_id": 999999}, ["task_id", NOT_FOUND]),
    ("delete_task", "missing task", {"task_id": str(uuid.UUID(int=2))}, ["task_id", NOT_FOUND]),
    ("delete_task", "unknown key", {"task_id": T, "force": True}, "force"),
]


@pytest.fixture(scope="module")
def target():
    token = register("auto-invalid")

    async def body(client, schemas):
        return (await ok(client, schemas, "add_task", {"title": "Target"}))["task"]

    return token, run(token, body)


@pytest.mark.parametrize(
    ("tool", "args", "names"),
    [pytest.param(tool, args, names, id=f"{tool}: {what}") for tool, what, args, names in INVALID],
)
def test_invalid_arguments_are_tool_errors_naming_the_problem(target, tool, args, names):
    token, task = target
    args = {k: task["number"] if v is T else v for k, v in args.items()}

    async def body(client, schemas):
        result = await client.call_tool(tool, args)
        assert_tool_error(result, names, schema=schemas[tool])

    run(token, body)


def test_failed_calls_left_the_target_untouched(target):
    token, task = target

    async def body(client, schemas):
        return (await ok(client, schemas, "get_task", {"task_id": task["id"]}))["task"]

    still = run(token, body)
    assert still["title"] == "Target" and still["completed"] is False and still["tags"] == []


@pytest.fixture(scope="module")
def pair():
    """Two fresh users, each with a task 1 (and A with a task 2)."""
    alice, bob = register("auto-alice"), register("auto-bob")

    async def seed_alice(client, schemas):
        first = (await ok(client, schemas, "add_task", {"title": "Alice secret", "tags": ["private"]}))["task"]
        second = (await ok(client, schemas, "add_task", {"title": "Alice second"}))["task"]
        return first, second

    async def seed_bob(client, schemas):
        return (await ok(client, schemas, "add_task", {"title": "Bob own"}))["task"]

    a1, a2 = run(alice, seed_alice)
    b1 = run(bob, seed_bob)
    assert (a1["number"], a2["number"], b1["number"]) == (1, 2, 1)
    return alice, bob, a1, a2, b1


def test_task_1_of_b_is_b_own_task(pair):
    _, bob, a1, _, b1 = pair

    async def body(client, schemas):
        return [(await ok(client, schemas, "get_task", {"task_id": ref}))["task"] for ref in (1, "1", "#1")]

    for task in run(bob, body):
        assert task["id"] == b1["id"] != a1["id"]
        assert task["title"] == "Bob own"


def test_b_lists_only_b_tasks(pair):
    _, bob, _, _, b1 = pair

    async def body(client, schemas):
        return [await ok(client, schemas, "list_tasks", args) for args in ({}, {"query": "Alice"}, {"tag": "private"})]

    everything, searched, tagged = run(bob, body)
    assert [t["id"] for t in everything["tasks"]] == [b1["id"]] and everything["total"] == 1
    assert searched["total"] == 0 and tagged["total"] == 0


def test_b_cannot_touch_a_tasks_by_uuid_or_number(pair):
    _, bob, a1, a2, _ = pair
    attempts = [(tool, ref) for ref in (a1["id"], a2["id"], 2) for tool in ("get_task", "update_task", "complete_task", "delete_task")]

    async def body(client, schemas):
        results = []
        for tool, ref in attempts:
            args = {"task_id": ref, "title": "pwned"} if tool == "update_task" else {"task_id": ref}
            results.append((tool, ref, await client.call_tool(tool, args), schemas[tool]))
        return results

    for tool, ref, result, schema in run(bob, body):
        text = assert_tool_error(result, ["task_id", NOT_FOUND], schema=schema)
        assert "Alice" not in text, f"{tool}({ref}) as B leaked A's task: {text}"


def test_b_acting_on_task_1_changes_only_b_task(pair):
    alice, bob, a1, a2, b1 = pair

    async def as_bob(client, schemas):
        renamed = (await ok(client, schemas, "update_task", {"task_id": 1, "title": "Bob renamed"}))["task"]
        done = (await ok(client, schemas, "complete_task", {"task_id": 1}))["task"]
        deleted = (await ok(client, schemas, "delete_task", {"task_id": 1}))["task"]
        return renamed, done, deleted

    for task in run(bob, as_bob):
        assert task["id"] == b1["id"]

    async def as_alice(client, schemas):
        return (await ok(client, schemas, "list_tasks", {}))["tasks"]

    tasks = run(alice, as_alice)
    assert [(t["id"], t["title"], t["completed"]) for t in tasks] == [
        (a1["id"], "Alice secret", False),
        (a2["id"], "Alice second", False),
    ]
