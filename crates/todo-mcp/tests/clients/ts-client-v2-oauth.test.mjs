// todo-mcp through the MCP TypeScript SDK v2 client's OAuth flow (`auth()` of
// `@modelcontextprotocol/client` 2.x with an `OAuthClientProvider`), the same flow as
// ts-sdk-oauth.test.mjs with the v2 implementation, which also checks the authorization
// response's `iss` (RFC 9207) before redeeming the code: Protected Resource Metadata discovery
// (RFC 9728), authorization server metadata (RFC 8414), dynamic registration (RFC 7591),
// PKCE S256 with `resource` (RFC 8707), code exchange, tool calls through
// `StreamableHTTPClientTransport({ authProvider })`, and a refresh that rotates.
//
// `redirectToAuthorization` plays the browser of a signed-in user: it follows the authorize
// URL (todo-api redirects to todo-web's consent page) and makes the page's two calls to
// todo-api with the user's session token.
//
//   MCP_URL=http://127.0.0.1:8080/mcp API_URL=http://127.0.0.1:8080 node --test ts-client-v2-oauth.test.mjs

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Client, StreamableHTTPClientTransport, auth } from '@modelcontextprotocol/client';
import { API_URL, MCP_URL, TIMEOUT_MS, registerUser } from './suite.mjs';

const REDIRECT_URI = 'http://127.0.0.1:33420/callback';
const CLIENT_NAME = 'interop typescript v2 host';

class SignedInProvider {
  constructor(sessionToken) {
    this.sessionToken = sessionToken;
    this.client = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.code = undefined;
    this.iss = undefined;
    this.consents = [];
  }
  get redirectUrl() { return REDIRECT_URI; }
  get clientMetadata() {
    return {
      client_name: CLIENT_NAME,
      redirect_uris: [REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
      scope: 'tasks:read tasks:write',
    };
  }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
  async redirectToAuthorization(url) {
    const auth = { authorization: `Bearer ${this.sessionToken}` };
    const r = await fetch(url, { redirect: 'manual' });
    assert.equal(r.status, 302, `/oauth/authorize answered ${r.status}: ${await r.text()}`);
    const consent = new URL(r.headers.get('location'));
    assert.equal(consent.pathname, '/connect');
    const preview = await fetch(`${API_URL}/oauth/consent${consent.search}`, { headers: auth });
    assert.equal(preview.status, 200, await preview.clone().text());
    this.consents.push(await preview.json());
    const decision = Object.fromEntries(consent.searchParams);
    decision.approve = true;
    const answer = await fetch(`${API_URL}/oauth/consent`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(decision),
    });
    assert.equal(answer.status, 200, await answer.clone().text());
    const back = new URL((await answer.json()).redirect_to);
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT_URI);
    this.code = back.searchParams.get('code');
    this.iss = back.searchParams.get('iss');
  }
}

test('TypeScript SDK v2 auth() › discovers, registers, authorizes and calls tools', async () => {
  const provider = new SignedInProvider(await registerUser('ts-v2-oauth'));
  assert.equal(await auth(provider, { serverUrl: MCP_URL }), 'REDIRECT');
  assert.ok(provider.client?.client_id, 'registered');
  assert.deepEqual(provider.consents.map((c) => c.client_name), [CLIENT_NAME]);
  assert.ok(provider.code, 'got a code');
  assert.ok(provider.iss, 'the authorization response names its issuer (RFC 9207)');
  assert.equal(
    await auth(provider, { serverUrl: MCP_URL, authorizationCode: provider.code, iss: provider.iss }),
    'AUTHORIZED',
  );
  assert.equal(provider.saved.token_type, 'Bearer');
  assert.equal(provider.saved.scope, 'tasks:read tasks:write');
  assert.ok(provider.saved.refresh_token);

  const client = new Client({ name: 'todo-interop-ts-v2-oauth', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(MCP_URL), { authProvider: provider });
  await client.connect(transport, { timeout: TIMEOUT_MS });
  try {
    const added = await client.callTool({ name: 'add_task', arguments: { title: 'via TS v2 OAuth' } }, { timeout: TIMEOUT_MS });
    assert.equal(added.isError, false, JSON.stringify(added));
    const listed = await client.callTool({ name: 'list_tasks', arguments: {} }, { timeout: TIMEOUT_MS });
    assert.deepEqual(listed.structuredContent.tasks.map((t) => t.title), ['via TS v2 OAuth']);
  } finally {
    await client.close();
  }

  // A refresh through auth() rotates the refresh token.
  const before = provider.saved.refresh_token;
  assert.equal(await auth(provider, { serverUrl: MCP_URL }), 'AUTHORIZED');
  assert.notEqual(provider.saved.refresh_token, before);
});
