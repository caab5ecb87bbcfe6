// A node:test reporter for `cargo xtask ci`: one line per test with its full path, the error
// under each failure, then a `FAILED <path>: <message>` line per failure and a closing
// `tests: N passed, M failed` line, which the xtask counts (suites are not counted).
//
//   node --test --test-reporter=./reporter.mjs ts-sdk-v1.test.mjs

function message(error) {
  const inner = error?.cause ?? error;
  if (!inner) return 'failed';
  if (typeof inner === 'string') return inner;
  const text = inner.message ?? String(inner);
  // A hook or file-level failure carries the real cause one level deeper.
  return inner.code === 'ERR_TEST_FAILURE' && inner.cause ? message(inner.cause) : text;
}

export default async function* reporter(source) {
  const stacks = new Map();
  const failures = [];
  const cancelled = new Map();
  let passed = 0;
  let failed = 0;
  for await (const event of source) {
    const data = event.data ?? {};
    const key = data.file ?? '';
    if (event.type === 'test:start') {
      const stack = stacks.get(key) ?? [];
      stack.length = data.nesting;
      stack.push(data.name);
      stacks.set(key, stack);
      continue;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (data.details?.type === 'suite' && event.type === 'test:pass') continue;
    const stack = (stacks.get(key) ?? []).slice(0, data.nesting);
    const path = [...stack, data.name].join(' › ');
    const ms = Math.round(data.details?.duration_ms ?? 0);
    if (event.type === 'test:pass') {
      if (data.skip || data.todo) continue;
      passed += 1;
      yield `  ✔ ${path} (${ms}ms)\n`;
      continue;
    }
    const text = message(data.details?.error);
    if (data.details?.type === 'suite') {
      // A suite fails when one of its tests does (counted there) or when its hook fails.
      if (/^\d+ subtests? failed$/.test(text)) continue;
    }
    failed += 1;
    if (data.details?.error?.failureType === 'cancelledByParent') {
      // Not run because the suite's hook failed: one line per suite, after the real failures.
      const parent = stack.join(' › ');
      cancelled.set(parent, (cancelled.get(parent) ?? 0) + 1);
      yield `  ✖ ${path} (not run: cancelled)\n`;
      continue;
    }
    failures.push(`${path}: ${text.split('\n')[0].slice(0, 300)}`);
    yield `  ✖ ${path} (${ms}ms)\n${text
      .split('\n')
      .map((l) => `      ${l}`)
      .join('\n')}\n`;
  }
  for (const f of failures) yield `FAILED ${f}\n`;
  for (const [parent, n] of cancelled) {
    yield `FAILED ${parent}: ${n} test${n === 1 ? '' : 's'} not run (cancelled after a hook or the suite failed)\n`;
  }
  yield `tests: ${passed} passed, ${failed} failed\n`;
}
