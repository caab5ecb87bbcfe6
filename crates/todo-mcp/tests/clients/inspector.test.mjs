// todo-mcp through the MCP Inspector CLI (`@modelcontextprotocol/inspector`), run with node from
// the installed package (no npx, no network), in a throwaway HOME so no catalog or stored OAuth
// state is read or written.
//
// The Inspector's exit codes: 0 ok, 1 usage or client-side failure (for example structured
// content that does not match the tool's outputSchema), 4 unreachable, 5 "the tool returned
// isError: true" (after printing the result), 6 schema portability errors under --strict.
//
//   MCP_URL=http://127.0.0.1:8080/mcp API_URL=http://127.0.0.1:8080 node --test inspector.test.mjs

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { MCP_URL, TOOLS, errorDetails, registerUser } from './suite.mjs';

const require = createRequire(import.meta.url);
const PACKAGE = dirname(require.resolve('@modelcontextprotocol/inspector/package.json'));
const CLI = join(PACKAGE, 'clients/launcher/build/index.js');
const VERSION = require('@modelcontextprotocol/inspector/package.json').version;

const home = mkdtempSync(join(tmpdir(), 'todo-interop-inspector-'));
let token;

/** Runs `inspector --cli MCP_URL ...args`; resolves to {code, stdout, stderr, command}. */
function inspector(...args) {
  const argv = [CLI, '--cli', MCP_URL, '--transport', 'http', '--header', `Authorization: Bearer ${token}`, ...args];
  const command = `node ${argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a}'`)).join(' ')}`.replace(
    token,
    '$TOKEN',
  );
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      argv,
      { env: { ...process.env, HOME: home, NO_COLOR: '1' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (error.code ?? error.signal) : 0, stdout, stderr, command });
      },
    );
  });
}

/** A failure message: the reason first (it heads the xtask summary), then how to reproduce. */
function why(reason, run) {
  return `${reason}\n  command: ${run.command}\n  exit ${run.code}\n  stdout: ${run.stdout.slice(0, 2000)}\n  stderr: ${run.stderr.slice(0, 2000)}`;
}

function json(run) {
  try {
    return JSON.parse(run.stdout);
  } catch {
    assert.fail(why('stdout is not JSON', run));
  }
}

/** The --strict report's findings, one line each: `severity tool path: issue (first sentence)`. */
function findings(stderr) {
  const out = [];
  let current;
  for (const line of stderr.split('\n')) {
    const head = line.match(/^(Warning|Error): tool "([^"]+)"/);
    if (head) {
      current = { severity: head[1], tool: head[2] };
      continue;
    }
    const path = line.match(/^\s+Path: (.*)$/);
    if (current && path) current.path = path[1];
    const issue = line.match(/^\s+Issue: (.*)$/);
    if (current && issue) {
      out.push(`${current.severity} ${current.tool} ${current.path}: ${issue[1].split('. ')[0]}`);
      current = undefined;
    }
  }
  return out;
}

describe(`MCP Inspector CLI ${VERSION}`, () => {
  before(async () => {
    token = await registerUser('inspector');
  });
  after(() => rmSync(home, { recursive: true, force: true }));

  test('tools/list --strict: six tools, no schema portability error or warning', async () => {
    const run = await inspector('--method', 'tools/list', '--strict');
    assert.equal(run.code, 0, why('tools/list --strict failed', run));
    assert.deepEqual(
      json(run).tools.map((t) => t.name),
      TOOLS,
    );
    const found = findings(run.stderr);
    const summary = run.stderr.match(/\d+ errors?, \d+ warnings? across \d+ tools?/)?.[0] ?? 'no summary line';
    assert.ok(
      found.length === 0 && !/[1-9]\d* (errors?|warnings?)/.test(summary),
      `schema portability: ${summary}\n  command: ${run.command}\n${found.map((f) => `    ${f}`).join('\n')}`,
    );
  });

  let task;
  test('tools/call add_task succeeds with structured content', async () => {
    const run = await inspector('--method', 'tools/call', '--tool-name', 'add_task', '--tool-arg', 'title=From the Inspector');
    assert.equal(run.code, 0, why('add_task failed', run));
    const result = json(run);
    assert.notEqual(result.isError, true, why('add_task returned isError', run));
    task = result.structuredContent?.task;
    assert.equal(task?.title, 'From the Inspector', JSON.stringify(result));
  });

  test('tools/call get_task by number succeeds', async () => {
    const run = await inspector('--method', 'tools/call', '--tool-name', 'get_task', '--tool-arg', `task_id=${task.number}`);
    assert.equal(run.code, 0, why('get_task failed', run));
    assert.equal(json(run).structuredContent?.task?.id, task.id, why('get_task returned another task', run));
  });

  for (const [what, args, names] of [
    ['add_task with an empty title', ['--tool-name', 'add_task', '--tool-args-json', '{"title":""}'], ['title']],
    ['get_task of a missing task', ['--tool-name', 'get_task', '--tool-arg', 'task_id=999999'], ['task_id', /not[ _-]?found|does not exist/i]],
    ['complete_task with an unknown key', ['--tool-name', 'complete_task', '--tool-args-json', `{"task_id":1,"when":"now"}`], ['when']],
  ]) {
    test(`tools/call ${what}: exit 5 (isError) with the tool error printed`, async () => {
      const run = await inspector('--method', 'tools/call', ...args);
      assert.equal(
        run.code,
        5,
        why(`exit ${run.code}, expected 5 (the tool returned isError; 1 means the Inspector rejected the result)`, run),
      );
      const result = json(run);
      assert.equal(result.isError, true, why('the printed result is not isError', run));
      const details = errorDetails(result);
      const haystack = [details.field, details.message, details.raw].filter(Boolean).join(' ');
      assert.ok(
        names.some((n) => (n instanceof RegExp ? n.test(haystack) : haystack.includes(n))),
        why(`the error text does not name ${names.join(' or ')}: ${details.raw}`, run),
      );
      assert.match(run.stderr, /isError/, 'stderr says the tool returned isError');
    });
  }
});
