// The tests' protected archive: an HTTP server on 127.0.0.1 in front of a DICOMweb root
// (Orthanc's) that lets through only requests with a valid access token of the provider.
//
//   node gate.mjs CONFIG.json   ->   {"url": "http://127.0.0.1:PORT"} on stdout
//
// CONFIG: issuer, audience, upstream (the DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web),
// client_id + client_secret (its confidential client, for introspection), allowed_origins, port.
//
// A token is valid when jose verifies it (RS256 signature by a key of the provider's JWKS,
// typ at+jwt, issuer, audience, exp) AND the provider's introspection endpoint (RFC 7662)
// says it is active, which catches a revoked token or an ended session; a positive answer is
// reused for at most a second. Requests under the upstream's path are proxied to it
// unchanged but for Authorization and Host; GET /auth only answers 204 or 401, for nginx's
// auth_request. Preflights need no token. Refusals are logged to stderr, reason only.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import { createRemoteJWKSet, errors, jwtVerify } from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const upstream = new URL(config.upstream);
const prefix = upstream.pathname.replace(/\/+$/, '');
const allowedOrigins = new Set(config.allowed_origins);
const ACTIVE_FOR_MS = 1000;

const discovery = await (await fetch(`${config.issuer}/.well-known/openid-configuration`)).json();
const jwks = createRemoteJWKSet(new URL(discovery.jwks_uri));
const clientAuth = `Basic ${Buffer.from(`${encodeURIComponent(config.client_id)}:${
  encodeURIComponent(config.client_secret)}`).toString('base64')}`;
const agent = new http.Agent({ keepAlive: true });
// Not forwarded either way: the credential, the gate's own Host, and hop-by-hop headers.
const notForwarded = new Set(['authorization', 'host', 'connection', 'keep-alive', 'upgrade',
  'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding']);

class Refusal extends Error {
  /** `status` 401 (with `error`, RFC 6750 §3.1; null when no token was sent) or 503. */
  constructor(message, { status = 401, error = 'invalid_token' } = {}) {
    super(message);
    Object.assign(this, { status, error });
  }
}

const activeUntil = new Map(); // sha256 of a token -> until when it is known to be active

async function introspectedActive(token, exp) {
  const key = createHash('sha256').update(token).digest('base64url');
  const now = Date.now();
  if (activeUntil.get(key) > now) return true;
  let answer;
  try {
    const response = await fetch(discovery.introspection_endpoint, {
      method: 'POST',
      headers: { authorization: clientAuth, accept: 'application/json' },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
    });
    if (!response.ok) throw new Error(`status ${response.status}`);
    answer = await response.json();
  } catch (cause) {
    throw new Refusal(`cannot check the token: introspection failed (${cause.message})`,
      { status: 503 });
  }
  if (answer.active !== true) return false;
  for (const [old, until] of activeUntil) if (until <= now) activeUntil.delete(old);
  activeUntil.set(key, Math.min(now + ACTIVE_FOR_MS, exp * 1000));
  return true;
}

/** Resolves if `authorization` carries a valid token, else throws a Refusal. */
async function check(authorization) {
  const token = /^Bearer ([\w.~+/-]+=*)$/i.exec(authorization ?? '')?.[1];
  if (!token) throw new Refusal('no bearer token', { error: null });
  let payload;
  try {
    ({ payload } = await jwtVerify(token, jwks, {
      issuer: config.issuer,
      audience: config.audience,
      algorithms: ['RS256'],
      typ: 'at+jwt',
      requiredClaims: ['exp', 'jti'],
    }));
  } catch (error) {
    // jose's messages name the failed check, never the token.
    throw new Refusal(error instanceof errors.JOSEError ? error.message : 'unreadable token');
  }
  if (!await introspectedActive(token, payload.exp)) {
    throw new Refusal('token is not active (revoked, signed out, or never issued)');
  }
}

function corsHeaders(origin) {
  const headers = { vary: 'Origin' };
  if (allowedOrigins.has(origin)) {
    headers['access-control-allow-origin'] = origin;
    headers['access-control-expose-headers'] = 'WWW-Authenticate';
  }
  return headers;
}

function send(res, status, headers, text) {
  const type = text ? { 'content-type': 'text/plain; charset=utf-8' } : {};
  res.writeHead(status, { ...headers, ...type });
  res.end(text);
}

function refuse(res, refusal, cors) {
  process.stderr.write(`gate: refused (${refusal.status}): ${refusal.message}\n`);
  const headers = { ...cors };
  if (refusal.status === 401) {
    // error_description may hold no quote or backslash (RFC 6750 §3).
    const description = refusal.message.replace(/["\\]/g, "'");
    headers['www-authenticate'] = refusal.error
      ? `Bearer realm="dicomweb", error="${refusal.error}", error_description="${description}"`
      : 'Bearer realm="dicomweb"';
  }
  send(res, refusal.status, headers, `${refusal.message}\n`);
}

function proxy(req, res, url, cors) {
  const headers = Object.fromEntries(
    Object.entries(req.headers).filter(([name]) => !notForwarded.has(name)),
  );
  // Orthanc builds the absolute URLs in its answers (RetrieveURL, BulkDataURI) from this,
  // so they lead back through the gate. Unquoted: Orthanc would keep RFC 7239's quotes.
  headers.forwarded = `proto=http;host=${req.headers.host}`;
  const out = http.request({
    host: upstream.hostname,
    port: upstream.port,
    method: req.method,
    path: url.pathname + url.search,
    headers,
    agent,
  }, (answer) => {
    const back = Object.fromEntries(
      Object.entries(answer.headers).filter(([name]) => !notForwarded.has(name)),
    );
    res.writeHead(answer.statusCode, {
      ...back, ...cors, vary: back.vary ? `${back.vary}, Origin` : 'Origin',
    });
    answer.pipe(res);
  });
  out.on('error', () => {
    if (res.headersSent) res.destroy();
    else send(res, 502, cors, 'the archive did not answer\n');
  });
  res.on('close', () => { if (!res.writableFinished) out.destroy(); });
  req.pipe(out);
}

async function handle(req, res) {
  const cors = corsHeaders(req.headers.origin);
  const url = new URL(req.url, 'http://gate'); // dot segments resolved before the path check
  if (req.method === 'OPTIONS' && req.headers['access-control-request-method']) {
    if (cors['access-control-allow-origin']) {
      Object.assign(cors, {
        'access-control-allow-methods': 'GET, POST, OPTIONS',
        'access-control-allow-headers': 'Authorization, Accept, Content-Type',
        'access-control-max-age': '600',
      });
    }
    return send(res, 204, cors);
  }
  const underRoot = url.pathname === prefix || url.pathname.startsWith(`${prefix}/`);
  if (url.pathname !== '/auth' && !underRoot) return send(res, 404, cors, 'not found\n');
  try {
    await check(req.headers.authorization);
  } catch (error) {
    if (error instanceof Refusal) return refuse(res, error, cors);
    throw error;
  }
  if (url.pathname === '/auth') return send(res, 204, cors);
  return proxy(req, res, url, cors);
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((error) => {
    process.stderr.write(`gate: ${error.stack}\n`);
    if (!res.headersSent) send(res, 500, {}, 'gate error\n');
    else res.destroy();
  });
});
server.listen(config.port ?? 0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${server.address().port}` })}\n`);
});
