// The checks every TypeScript MCP client runs against todo-mcp (node:test; one file per client
// calls `mcpSuite`). Written to the MCP specification (2025-11-25 and 2026-07-28), not to the
// server's current behaviour:
//
// - a tool with an `outputSchema` returns `structuredContent` that conforms to it (the spec's
//   MUST), on success and, when an error result carries structured content at all, on error;
// - a tool failure (bad arguments, missing task) is a result with `isError: true` whose text
//   names the problem, never a JSON-RPC error the client throws;
// - each user sees only their own tasks, and task numbers are per user.
//
// Environment: MCP_URL (the todo-mcp endpoint, e.g. http://127.0.0.1:7420/mcp) and API_URL
// (todo-api's base URL, e.g. http://127.0.0.1:7420): each suite registers fresh users there, so
// it runs against any stack, e.g. `cargo xtask dev --no-web`.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';

export const TOOLS = ['add_task', 'list_tasks', 'get_task', 'update_task', 'complete_task', 'delete_task'];

function required(name, example) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`${name} is not set (e.g. ${name}=${example}); see the top of suite.mjs`);
  }
  return value;
}

export const MCP_URL = required('MCP_URL', 'http://127.0.0.1:7420/mcp');
export const API_URL = required('API_URL', 'http://127.0.0.1:7420').replace(/\/+$/, '');

/** Registers a new user with todo-api and returns its bearer token. */
export async function registerUser(label) {
  const email = `interop-${label}-${randomUUID().slice(0, 8)}@example.com`;
  const response = await fetch(`${API_URL}/api/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: 'interop-password', name: `Interop ${label}` }),
  });
  const body = await response.text();
  if (!response.ok) {
    throw new Error(`registering ${email} at ${API_URL}/api/auth/register: HTTP ${response.status}: ${body}`);
  }
  const token = JSON.parse(body).token;
  assert.equal(typeof token, 'string', `no token in the register response: ${body}`);
  return token;
}

/** All text content of a result, joined. */
export function textOf(result) {
  return (result.content ?? [])
    .filter((c) => c.type === 'text')
    .map((c) => c.text)
    .join('\n');
}

/**
 * A tool error's code, message and field. The text may be JSON such as
 * {"error":{"code":"VALIDATION_ERROR","message":"title: must not be empty","field":"title"}}
 * or plain text; `raw` is the text either way.
 */
export function errorDetails(result) {
  const raw = textOf(result);
  try {
    const parsed = JSON.parse(raw);
    const error = parsed && typeof parsed === 'object' && 'error' in parsed ? parsed.error : parsed;
    if (error && typeof error === 'object') {
      return { raw, code: error.code, message: error.message, field: error.field };
    }
    if (typeof error === 'string') return { raw, message: error };
  } catch {
    // plain text
  }
  return { raw, message: raw };
}

const NOT_FOUND = /not[ _-]?found|does not exist|no such task|no task/i;

/** Per-request timeout: the debug server answers in milliseconds; a hung request fails fast. */
export const TIMEOUT_MS = Number(process.env.MCP_TIMEOUT_MS || 5000);

/**
 * The suite for one client. `connect(token)` resolves to a connected client wrapped as
 * `{ listTools(options), callTool({name, arguments}, options), close() }` (options carry the
 * SDK's request `timeout`); `validator` is that SDK's own JSON Schema validator provider
 * (`getValidator(schema)(value)` -> {valid, errorMessage}).
 */
export function mcpSuite(clientName, { connect, validator }) {
  describe(clientName, () => {
    const clients = [];
    let outputSchemas = new Map();

    async function open(label) {
      const token = await registerUser(`${clientName.replace(/[^a-z0-9]+/gi, '-')}-${label}`);
      const client = await connect(token);
      clients.push(client);
      // Lists the tools once per connection: the SDKs validate structured output against the
      // listed `outputSchema` only after they have seen it.
      const { tools } = await client.listTools({ timeout: TIMEOUT_MS });
      outputSchemas = new Map(tools.map((t) => [t.name, t.outputSchema]));
      return client;
    }

    after(async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
    });

    /** Calls a tool; an exception (JSON-RPC error, SDK-side validation) fails with context. */
    async function call(client, name, args) {
      try {
        return await client.callTool({ name, arguments: args }, { timeout: TIMEOUT_MS });
      } catch (err) {
        assert.fail(
          `${name}(${JSON.stringify(args)}) threw ${err?.constructor?.name ?? 'an error'}: ${err?.message ?? err}\n` +
            '  expected a CallToolResult (tool errors are results with isError: true, and structuredContent must match the outputSchema)',
        );
      }
    }

    function conforms(name, structured, what) {
      const schema = outputSchemas.get(name);
      if (!schema) return;
      const check = validator.getValidator(schema)(structured);
      assert.ok(
        check.valid,
        `${name}: ${what} structuredContent does not match the tool's outputSchema: ${check.errorMessage}\n  structuredContent: ${JSON.stringify(structured)}`,
      );
    }

    /** A successful result's structured content (checked against the outputSchema). */
    async function ok(client, name, args) {
      const result = await call(client, name, args);
      assert.notEqual(result.isError, true, `${name}(${JSON.stringify(args)}) failed: ${textOf(result)}`);
      const data = result.structuredContent;
      assert.ok(data && typeof data === 'object', `${name}: no structuredContent in ${JSON.stringify(result)}`);
      conforms(name, data, 'success');
      // The text block mirrors the structured content for clients that only read text.
      assert.deepEqual(JSON.parse(textOf(result)), data, `${name}: text content does not mirror structuredContent`);
      return data;
    }

    /** An `isError` result whose text names one of `names` (a field, or words of the problem). */
    async function fails(client, name, args, names) {
      const result = await call(client, name, args);
      assert.equal(
        result.isError,
        true,
        `${name}(${JSON.stringify(args)}) succeeded but must fail: ${textOf(result).slice(0, 300)}`,
      );
      const details = errorDetails(result);
      assert.ok(details.raw.trim().length > 0, `${name}: the error result has no text content`);
      const haystack = [details.field, details.message, details.raw].filter(Boolean).join(' ');
      const wanted = [].concat(names);
      assert.ok(
        wanted.some((n) => (n instanceof RegExp ? n.test(haystack) : haystack.includes(n))),
        `${name}(${JSON.stringify(args)}): the error text does not name ${wanted.join(' or ')}: ${details.raw}`,
      );
      if (result.structuredContent !== undefined && result.structuredContent !== null) {
        conforms(name, result.structuredContent, 'error');
      }
      return details;
    }

    test('lists the six task tools with object input schemas and output schemas', async () => {
      const client = await open('list');
      const { tools } = await client.listTools({ timeout: TIMEOUT_MS });
      assert.deepEqual(
        tools.map((t) => t.name),
        TOOLS,
      );
      for (const tool of tools) {
        assert.equal(tool.inputSchema?.type, 'object', `${tool.name}: inputSchema.type`);
        assert.equal(tool.outputSchema?.type, 'object', `${tool.name}: outputSchema.type`);
        assert.ok(tool.description, `${tool.name}: no description`);
      }
    });

    describe('every tool with valid arguments', () => {
      let client;
      let task;
      before(async () => {
        client = await open('valid');
      });

      test('add_task with every field', async () => {
        const data = await ok(client, 'add_task', {
          title: 'Interop task',
          description: 'from an independent client',
          priority: 'high',
          due: '2026-12-01',
          tags: ['interop', 'SDK'],
        });
        task = data.task;
        assert.equal(task.title, 'Interop task');
        assert.equal(task.description, 'from an independent client');
        assert.equal(task.priority, 'high');
        assert.equal(task.completed, false);
        assert.equal(new Date(task.due_at).toISOString(), '2026-12-01T00:00:00.000Z');
        assert.deepEqual([...task.tags].sort(), ['interop', 'sdk']);
        assert.equal(task.number, 1, "a new user's first task is number 1");
      });

      test('add_task with only a title, defaults filled in', async () => {
        const { task: plain } = await ok(client, 'add_task', { title: 'Plain task' });
        assert.equal(plain.priority, 'medium');
        assert.equal(plain.number, task.number + 1);
        assert.equal(plain.due_at ?? null, null);
      });

      test('list_tasks, unfiltered and with filters', async () => {
        const all = await ok(client, 'list_tasks', {});
        assert.equal(all.total, 2);
        assert.deepEqual(
          all.tasks.map((t) => t.title),
          ['Interop task', 'Plain task'],
        );
        const filtered = await ok(client, 'list_tasks', {
          status: 'pending',
          priority: 'high',
          tag: 'interop',
          query: 'Interop',
          due_before: '2027-01-01',
          limit: 10,
        });
        assert.deepEqual(
          filtered.tasks.map((t) => t.id),
          [task.id],
        );
      });

      test('get_task by number, by "#number" and by UUID', async () => {
        for (const ref of [task.number, `#${task.number}`, task.id]) {
          const { task: got } = await ok(client, 'get_task', { task_id: ref });
          assert.equal(got.id, task.id, `get_task(${JSON.stringify(ref)})`);
        }
      });

      test('update_task changes fields and null clears them', async () => {
        const { task: updated } = await ok(client, 'update_task', {
          task_id: task.number,
          title: 'Interop task renamed',
          priority: 'low',
          due: null,
          description: null,
          tags: ['renamed'],
        });
        assert.equal(updated.id, task.id);
        assert.equal(updated.title, 'Interop task renamed');
        assert.equal(updated.priority, 'low');
        assert.equal(updated.due_at ?? null, null);
        assert.equal(updated.description ?? null, null);
        assert.deepEqual(updated.tags, ['renamed']);
      });

      test('complete_task marks done, completed=false reopens', async () => {
        const { task: done } = await ok(client, 'complete_task', { task_id: task.id });
        assert.equal(done.completed, true);
        assert.ok(done.completed_at, 'completed_at is set');
        const { task: reopened } = await ok(client, 'complete_task', { task_id: task.number, completed: false });
        assert.equal(reopened.completed, false);
        assert.equal(reopened.completed_at ?? null, null);
      });

      test('delete_task returns the task, which is then gone', async () => {
        const { task: deleted } = await ok(client, 'delete_task', { task_id: task.number });
        assert.equal(deleted.id, task.id);
        await fails(client, 'get_task', { task_id: task.id }, ['task_id', NOT_FOUND]);
        const all = await ok(client, 'list_tasks', {});
        assert.equal(all.total, 1);
      });
    });

    describe('invalid arguments come back as isError results naming the problem', () => {
      let client;
      let task;
      before(async () => {
        client = await open('invalid');
        task = (await ok(client, 'add_task', { title: 'Target' })).task;
      });
      const ELEVEN_TAGS = Array.from({ length: 11 }, (_, i) => `t${i}`);
      const cases = [
        ['add_task', 'title of the wrong type', () => ({ title: 42 }), 'title'],
        ['add_task', 'empty title', () => ({ title: '' }), 'title'],
        ['add_task', 'blank title', () => ({ title: '   ' }), 'title'],
        ['add_task', 'NUL in the title', () => ({ title: 'nul\u0000byte' }), 'title'],
        ['add_task', 'title over 200 characters', () => ({ title: 'x'.repeat(201) }), 'title'],
        ['add_task', 'missing title', () => ({}), 'title'],
        ['add_task', 'unknown key', () => ({ title: 'x', colour: 'red' }), 'colour'],
        ['add_task', 'unknown priority', () => ({ title: 'x', priority: 'urgent' }), 'priority'],
        ['add_task', 'description of the wrong type', () => ({ title: 'x', description: 7 }), 'description'],
        ['add_task', 'unparseable due date', () => ({ title: 'x', due: 'next tuesday' }), 'due'],
        ['add_task', 'impossible due date', () => ({ title: 'x', due: '2026-02-30' }), 'due'],
        ['add_task', 'negative-year due date', () => ({ title: 'x', due: '-0001-06-01' }), 'due'],
        ['add_task', 'due of the wrong type', () => ({ title: 'x', due: 20261201 }), 'due'],
        ['add_task', '11 tags', () => ({ title: 'x', tags: ELEVEN_TAGS }), 'tags'],
        ['add_task', 'tags not a list', () => ({ title: 'x', tags: 'a,b' }), 'tags'],
        ['add_task', 'a tag of the wrong type', () => ({ title: 'x', tags: [1] }), 'tags'],
        ['list_tasks', 'unknown status', () => ({ status: 'done' }), 'status'],
        ['list_tasks', 'limit 0', () => ({ limit: 0 }), 'limit'],
        ['list_tasks', 'limit of the wrong type', () => ({ limit: 'ten' }), 'limit'],
        ['list_tasks', 'bad due_before', () => ({ due_before: 'soon' }), 'due_before'],
        ['list_tasks', 'unknown key', () => ({ sort: 'title' }), 'sort'],
        ['get_task', 'missing task_id', () => ({}), 'task_id'],
        ['get_task', 'task_id of the wrong type', () => ({ task_id: true }), 'task_id'],
        ['get_task', 'task_id neither number nor UUID', () => ({ task_id: 'first one' }), 'task_id'],
        ['get_task', 'task number 0', () => ({ task_id: 0 }), 'task_id'],
        ['get_task', 'negative task number', () => ({ task_id: -1 }), 'task_id'],
        ['get_task', 'missing task number', () => ({ task_id: 999999 }), ['task_id', NOT_FOUND]],
        ['get_task', 'missing task UUID', () => ({ task_id: randomUUID() }), ['task_id', NOT_FOUND]],
        ['get_task', 'unknown key', () => ({ task_id: task.number, verbose: true }), 'verbose'],
        ['update_task', 'no field to change', () => ({ task_id: task.number }), [/at least one/i, 'title']],
        ['update_task', 'empty title', () => ({ task_id: task.number, title: '' }), 'title'],
        ['update_task', 'null title', () => ({ task_id: task.number, title: null }), 'title'],
        ['update_task', 'NUL in the title', () => ({ task_id: task.number, title: 'a\u0000b' }), 'title'],
        ['update_task', 'bad due date', () => ({ task_id: task.number, due: '2026-13-01' }), 'due'],
        ['update_task', 'negative-year due date', () => ({ task_id: task.number, due: '-0001-06-01' }), 'due'],
        ['update_task', '11 tags', () => ({ task_id: task.number, tags: ELEVEN_TAGS }), 'tags'],
        ['update_task', 'priority of the wrong type', () => ({ task_id: task.number, priority: 3 }), 'priority'],
        ['update_task', 'missing task', () => ({ task_id: 999999, title: 'x' }), ['task_id', NOT_FOUND]],
        ['complete_task', 'completed of the wrong type', () => ({ task_id: task.number, completed: 'yes' }), 'completed'],
        ['complete_task', 'task_id of the wrong type', () => ({ task_id: [task.number] }), 'task_id'],
        ['complete_task', 'missing task', () => ({ task_id: 999999 }), ['task_id', NOT_FOUND]],
        ['delete_task', 'missing task', () => ({ task_id: randomUUID() }), ['task_id', NOT_FOUND]],
        ['delete_task', 'unknown key', () => ({ task_id: task.number, force: true }), 'force'],
      ];
      for (const [tool, what, args, names] of cases) {
        test(`${tool}: ${what}`, async () => {
          await fails(client, tool, args(), names);
        });
      }

      test('the target task is untouched by the failed calls', async () => {
        const { task: still } = await ok(client, 'get_task', { task_id: task.id });
        assert.equal(still.title, 'Target');
        assert.equal(still.completed, false);
        assert.deepEqual(still.tags, []);
      });
    });

    describe('user isolation with overlapping task numbers', () => {
      let alice;
      let bob;
      let aliceTask;
      let aliceSecond;
      let bobTask;
      before(async () => {
        alice = await open('alice');
        bob = await open('bob');
        aliceTask = (await ok(alice, 'add_task', { title: 'Alice secret', tags: ['private'] })).task;
        aliceSecond = (await ok(alice, 'add_task', { title: 'Alice second' })).task;
        bobTask = (await ok(bob, 'add_task', { title: 'Bob own' })).task;
      });

      test('both users have a task 1', () => {
        assert.equal(aliceTask.number, 1);
        assert.equal(bobTask.number, 1);
        assert.notEqual(aliceTask.id, bobTask.id);
      });

      test("B's task 1 is B's own task, never A's", async () => {
        for (const ref of [1, '1', '#1']) {
          const { task } = await ok(bob, 'get_task', { task_id: ref });
          assert.equal(task.id, bobTask.id, `get_task(${JSON.stringify(ref)}) as B`);
          assert.equal(task.title, 'Bob own');
        }
      });

      test("B's list shows only B's tasks", async () => {
        const all = await ok(bob, 'list_tasks', {});
        assert.deepEqual(
          all.tasks.map((t) => t.id),
          [bobTask.id],
        );
        assert.equal(all.total, 1);
        const searched = await ok(bob, 'list_tasks', { query: 'Alice' });
        assert.equal(searched.total, 0);
        const tagged = await ok(bob, 'list_tasks', { tag: 'private' });
        assert.equal(tagged.total, 0);
      });

      test("B cannot read, change, complete or delete A's task by UUID", async () => {
        const attempts = [
          ['get_task', { task_id: aliceTask.id }],
          ['update_task', { task_id: aliceTask.id, title: 'pwned' }],
          ['complete_task', { task_id: aliceTask.id }],
          ['delete_task', { task_id: aliceTask.id }],
        ];
        for (const [tool, args] of attempts) {
          const details = await fails(bob, tool, args, ['task_id', NOT_FOUND]);
          assert.ok(!details.raw.includes('Alice secret'), `${tool} as B leaked A's title: ${details.raw}`);
        }
      });

      test("B's number 2 is not A's task 2", async () => {
        assert.equal(aliceSecond.number, 2);
        for (const [tool, args] of [
          ['get_task', { task_id: 2 }],
          ['update_task', { task_id: 2, title: 'pwned' }],
          ['complete_task', { task_id: 2 }],
          ['delete_task', { task_id: 2 }],
        ]) {
          const details = await fails(bob, tool, args, ['task_id', NOT_FOUND]);
          assert.ok(!details.raw.includes('Alice second'), `${tool} as B leaked A's title: ${details.raw}`);
        }
      });

      test("B acting on task 1 changes only B's task", async () => {
        const { task: renamed } = await ok(bob, 'update_task', { task_id: 1, title: 'Bob renamed' });
        assert.equal(renamed.id, bobTask.id);
        const { task: done } = await ok(bob, 'complete_task', { task_id: 1 });
        assert.equal(done.id, bobTask.id);
        const { task: deleted } = await ok(bob, 'delete_task', { task_id: 1 });
        assert.equal(deleted.id, bobTask.id);
      });

      test("A's tasks are unchanged", async () => {
        const all = await ok(alice, 'list_tasks', {});
        assert.deepEqual(
          all.tasks.map((t) => [t.id, t.title, t.completed]),
          [
            [aliceTask.id, 'Alice secret', false],
            [aliceSecond.id, 'Alice second', false],
          ],
        );
        const { task } = await ok(alice, 'get_task', { task_id: 1 });
        assert.equal(task.id, aliceTask.id);
      });
    });
  });
}
