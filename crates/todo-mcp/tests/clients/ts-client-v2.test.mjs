// todo-mcp through the official MCP TypeScript SDK v2 client (`@modelcontextprotocol/client`),
// once with the 2025 `initialize` handshake (mode 'legacy', the default) and once with
// `versionNegotiation: { mode: 'auto' }`, which probes `server/discover` and must end up on
// protocol 2026-07-28. This client validates `structuredContent` against the `outputSchema` on
// success only; the suite checks error results with the same validator.
//
//   MCP_URL=http://127.0.0.1:8080/mcp API_URL=http://127.0.0.1:8080 node --test ts-client-v2.test.mjs

import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/client/validators/ajv';
import assert from 'node:assert/strict';
import { MCP_URL, TIMEOUT_MS, mcpSuite } from './suite.mjs';

for (const [mode, era, version] of [
  ['legacy', 'legacy', '2025-11-25'],
  ['auto', 'modern', '2026-07-28'],
]) {
  mcpSuite(`TypeScript SDK v2 (@modelcontextprotocol/client 2.x, mode ${mode})`, {
    async connect(token) {
      const client = new Client(
        { name: `todo-interop-ts-client-v2-${mode}`, version: '1.0.0' },
        { versionNegotiation: { mode } },
      );
      const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
        requestInit: { headers: { Authorization: `Bearer ${token}` } },
      });
      await client.connect(transport, { timeout: TIMEOUT_MS });
      assert.equal(client.getProtocolEra(), era, `mode ${mode}: protocol era`);
      assert.equal(client.getNegotiatedProtocolVersion(), version, `mode ${mode}: negotiated protocol version`);
      return {
        listTools: (options) => client.listTools(undefined, options),
        callTool: (params, options) => client.callTool(params, options),
        close: () => client.close(),
      };
    },
    validator: new AjvJsonSchemaValidator(),
  });
}
