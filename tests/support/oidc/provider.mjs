// The tests' OpenID provider: oidc-provider on 127.0.0.1, configured by a JSON file that
// tests/support/oidc/__init__.py writes (signing keys, clients, audience, user, lifetimes).
//
//   node provider.mjs CONFIG.json   ->   {"issuer": "http://127.0.0.1:PORT"} on stdout
//
// Beyond plain configuration, two things oidc-provider does not do by itself:
// - Sign-in is one form (login + password of the one configured user), no consent page:
//   the clients are first-party, so loadExistingGrant grants what they ask for.
// - JWT access tokens can be revoked and introspected. oidc-provider keeps no record of a
//   JWT access token and refuses JWTs at both endpoints; here each one's record is kept as
//   an opaque token's would be (under its jti), and a JWT sent to either endpoint is looked
//   up by its jti once its signature is ours. Revoking it, its refresh token or its grant,
//   or signing out, then makes introspection answer `active: false`.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import querystring from 'node:querystring';

import { compactVerify, createLocalJWKSet } from 'jose';
import Provider, { errors } from 'oidc-provider';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { audience, user } = config;
const resourceScope = 'openid profile';

const escape = (text) => String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
// No external fonts or styles (the defaults load some): pages render at once offline.
const page = (title, body) => `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>${escape(title)}</title></head><body><h1>${escape(title)}</h1>${body}</body></html>`;

async function readText(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

// Listen first: the issuer names the port, which is only known once bound (port 0).
const server = http.createServer();
await new Promise((resolve) => { server.listen(config.port ?? 0, '127.0.0.1', resolve); });
const issuer = `http://127.0.0.1:${server.address().port}`;

const publicKeys = createLocalJWKSet({
  keys: config.jwks.keys.map(({ kty, kid, alg, n, e }) => ({ kty, kid, alg, n, e })),
});

let provider;

/** A JWT access token that we signed (expired or not) -> its jti; anything else -> undefined. */
async function ownAccessTokenId(value) {
  try {
    const { payload, protectedHeader } = await compactVerify(value, publicKeys);
    const claims = JSON.parse(new TextDecoder().decode(payload));
    return protectedHeader.typ === 'at+jwt' && claims.iss === issuer ? claims.jti : undefined;
  } catch {
    return undefined;
  }
}

/** Store a JWT access token's record as an opaque one's, so it can be found and revoked. */
async function keepRecord(token, { iat, exp, jti }) {
  const record = {};
  for (const key of provider.AccessToken.IN_PAYLOAD) {
    if (token[key] !== undefined) record[key] = token[key];
  }
  Object.assign(record, { iat, exp, jti });
  await provider.AccessToken.adapter.upsert(jti, record, exp - iat);
}

provider = new Provider(issuer, {
  clients: config.clients,
  jwks: config.jwks,
  ttl: config.ttl,
  cookies: { keys: [randomBytes(32).toString('hex')] },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'] },
  responseTypes: ['code'],
  clientBasedCORS: (ctx, origin) => config.allowed_origins.includes(origin),
  // Any client allowed the refresh_token grant gets a refresh token, without the
  // offline_access scope (which would also mean a consent prompt).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  async findAccount(ctx, sub) {
    if (sub !== user.login) return undefined;
    return {
      accountId: sub,
      claims: async () => ({ sub, name: user.name, preferred_username: sub }),
    };
  },
  // First-party clients: the user is never asked to consent, the grant covers the request.
  async loadExistingGrant(ctx) {
    const { client, session, params, result } = ctx.oidc;
    const grantId = result?.consent?.grantId || session.grantIdFor(client.clientId);
    const grant = (grantId && await provider.Grant.find(grantId))
      || new provider.Grant({ clientId: client.clientId, accountId: session.accountId });
    grant.addOIDCScope(params.scope ?? 'openid');
    grant.addResourceScope(audience, resourceScope);
    await grant.save();
    return grant;
  },
  formats: { customizers: { jwt: async (ctx, token, jwt) => keepRecord(token, jwt.payload) } },
  renderError: async (ctx, out) => {
    ctx.type = 'html';
    ctx.body = page('Error', Object.entries(out)
      .map(([key, value]) => `<p><b>${escape(key)}</b>: ${escape(value)}</p>`).join(''));
  },
  features: {
    devInteractions: { enabled: false },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      // Every token is for the archive, so the page sends no `resource` parameter, and the
      // token endpoint keeps the authorization's resource although `openid` is asked for.
      defaultResource: async () => audience,
      useGrantedResource: async () => true,
      async getResourceServerInfo(ctx, resource) {
        if (resource !== audience) throw new errors.InvalidTarget();
        return {
          scope: resourceScope,
          accessTokenFormat: 'jwt',
          accessTokenTTL: config.ttl.AccessToken,
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
    rpInitiatedLogout: {
      enabled: true,
      // Confirmed at once (a script submits "yes"): a test signs out by coming here.
      async logoutSource(ctx, form) {
        const yes = '<input type="hidden" name="logout" value="yes"></form>';
        ctx.body = page('Signing out', `${form.replace('</form>', yes)}
<noscript><button type="submit" form="op.logoutForm">Yes, sign me out</button></noscript>
<script>document.getElementById('op.logoutForm').submit()</script>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out', '<p>You are signed out.</p>');
      },
    },
  },
  interactions: { url: async (ctx, interaction) => `/interaction/${interaction.uid}` },
});

// JWTs to the revocation and introspection endpoints become their jti (see the top).
const byTokenId = new Set(['/token/introspection', '/token/revocation']);
provider.use(async (ctx, next) => {
  if (ctx.method === 'POST' && byTokenId.has(ctx.path)
      && ctx.is('application/x-www-form-urlencoded')) {
    const form = querystring.parse(await readText(ctx.req));
    if (typeof form.token === 'string') {
      form.token = await ownAccessTokenId(form.token) ?? form.token;
    }
    ctx.req.body = form; // oidc-provider reads an already parsed body
  }
  await next();
});

const loginForm = (alert) => page('Sign in', `${alert ? `<p role="alert">${alert}</p>` : ''}
<form method="post">
<label>Login <input name="login" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required>
</label>
<button type="submit">Sign in</button>
</form>`);

// The sign-in page: GET shows the form, POST checks the one user's login and password.
provider.use(async (ctx, next) => {
  if (!/^\/interaction\/[\w-]+$/.test(ctx.path)) return next();
  const { prompt, grantId } = await provider.interactionDetails(ctx.req, ctx.res);
  ctx.set('Cache-Control', 'no-store');
  let result;
  if (prompt.name === 'consent') {
    // Only if a client insists (prompt=consent): loadExistingGrant has granted it all.
    result = { consent: { grantId } };
  } else if (ctx.method === 'POST') {
    const form = querystring.parse(await readText(ctx.req));
    if (form.login === user.login && form.password === user.password) {
      result = { login: { accountId: user.login } };
    } else {
      ctx.status = 401;
      ctx.body = loginForm('Wrong login or password.');
      return undefined;
    }
  } else {
    ctx.body = loginForm();
    return undefined;
  }
  const to = await provider.interactionResult(ctx.req, ctx.res, result);
  ctx.status = 303;
  return ctx.redirect(to);
});

server.on('request', provider.callback());
process.stdout.write(`${JSON.stringify({ issuer })}\n`);
