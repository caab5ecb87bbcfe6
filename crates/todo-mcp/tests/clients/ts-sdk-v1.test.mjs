// todo-mcp through the official MCP TypeScript SDK v1 (`@modelcontextprotocol/sdk`), protocol
// 2025-11-25 over Streamable HTTP. This SDK validates `structuredContent` against the tool's
// `outputSchema` whenever it is present, on error results too, and throws when it does not match.
//
//   MCP_URL=http://127.0.0.1:8080/mcp API_URL=http://127.0.0.1:8080 node --test ts-sdk-v1.test.mjs

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { MCP_URL, TIMEOUT_MS, mcpSuite } from './suite.mjs';

mcpSuite('TypeScript SDK v1 (@modelcontextprotocol/sdk 1.x)', {
  async connect(token) {
    const client = new Client({ name: 'todo-interop-ts-sdk-v1', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    });
    await client.connect(transport, { timeout: TIMEOUT_MS });
    return {
      listTools: (options) => client.listTools(undefined, options),
      callTool: (params, options) => client.callTool(params, undefined, options),
      close: () => client.close(),
    };
  },
  validator: new AjvJsonSchemaValidator(),
});
