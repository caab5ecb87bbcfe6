// todo-mcp's tool schemas under Ajv in strict mode, the validator inside the TypeScript SDK and
// the Inspector, configured the way the SDK's documentation shows for a custom instance
// (`new Ajv({ strict: true, allErrors: true })` plus ajv-formats) and as a 2020-12 instance.
// Strict mode refuses what a portable schema must not contain: unknown keywords or formats,
// `type` arrays (strictTypes), an unknown `$schema` meta-schema. Each schema must also accept
// a valid value and refuse an invalid one, so a schema that compiles to "anything" fails too.
//
//   MCP_URL=http://127.0.0.1:8080/mcp API_URL=http://127.0.0.1:8080 node --test ajv-strict.test.mjs

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Ajv from 'ajv';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MCP_URL, TIMEOUT_MS, TOOLS, registerUser } from './suite.mjs';

/** Arguments each tool must accept and arguments it must refuse, by its input schema alone. */
const ARGS = {
  add_task: { valid: { title: 'buy milk', due: '2026-12-03', tags: ['home'] }, invalid: { title: 3 } },
  list_tasks: { valid: { status: 'pending', limit: 5 }, invalid: { status: 'nope' } },
  get_task: { valid: { task_id: 3 }, invalid: { task_id: 'milk' } },
  update_task: { valid: { task_id: 3, title: 'oat milk' }, invalid: { task_id: 3, priority: 'urgent' } },
  complete_task: { valid: { task_id: 3 }, invalid: {} },
  delete_task: { valid: { task_id: 3 }, invalid: { task_id: 0 } },
};

const VALIDATORS = {
  'Ajv draft-07, strict': () => new Ajv({ strict: true, allErrors: true }),
  'Ajv 2020-12, strict': () => new Ajv2020({ strict: true, allErrors: true }),
};

/** Compiles `schema` with a fresh instance; strict-mode complaints are collected, not logged. */
function compile(make, schema) {
  const complaints = [];
  const ajv = make();
  addFormats(ajv);
  ajv.opts.logger = {
    log() {},
    warn: (m) => complaints.push(`warning: ${m}`),
    error: (m) => complaints.push(`error: ${m}`),
  };
  let validate;
  try {
    validate = ajv.compile(schema);
  } catch (err) {
    complaints.push(`refused: ${err.message}`);
  }
  return { validate, complaints };
}

describe('tool schemas under Ajv strict mode', () => {
  let client;
  let tools = [];

  before(async () => {
    const token = await registerUser('ajv-strict');
    client = new Client({ name: 'todo-interop-ajv-strict', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    await client.connect(transport, { timeout: TIMEOUT_MS });
    ({ tools } = await client.listTools(undefined, { timeout: TIMEOUT_MS }));
  });

  after(async () => {
    await client?.close();
  });

  test('every tool is listed with an input and an output schema', () => {
    assert.deepEqual(tools.map((t) => t.name).sort(), [...TOOLS].sort());
    for (const tool of tools) {
      assert.equal(tool.inputSchema?.type, 'object', `${tool.name} inputSchema`);
      assert.equal(tool.outputSchema?.type, 'object', `${tool.name} outputSchema`);
    }
  });

  for (const [label, make] of Object.entries(VALIDATORS)) {
    test(`${label}: every schema compiles without a complaint`, () => {
      const found = [];
      for (const tool of tools) {
        for (const which of ['inputSchema', 'outputSchema']) {
          const { complaints } = compile(make, tool[which]);
          found.push(...complaints.map((c) => `${tool.name} ${which}: ${c}`));
        }
      }
      assert.deepEqual(found, [], found.join('\n'));
    });

    test(`${label}: input schemas accept valid arguments and refuse invalid ones`, () => {
      for (const tool of tools) {
        const { validate } = compile(make, tool.inputSchema);
        assert.ok(validate, `${tool.name}: inputSchema does not compile`);
        const cases = ARGS[tool.name];
        assert.ok(cases, `no argument cases for ${tool.name}`);
        assert.ok(validate(cases.valid), `${tool.name} refused ${JSON.stringify(cases.valid)}: ${JSON.stringify(validate.errors)}`);
        assert.equal(validate(cases.invalid), false, `${tool.name} accepted ${JSON.stringify(cases.invalid)}`);
      }
    });
  }
});
