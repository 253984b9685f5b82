// tests/oidc/provider.js - a real OpenID provider for borough's tests:
// panva's oidc-provider (pinned in package.json) over HTTPS on loopback.
// tests/e2e/oidclib.py starts and drives it; nothing here is for production.
//
//   node provider.js CONFIG.json
//
// CONFIG (JSON):
//   cert, key        PEM files of the server certificate (from a test CA)
//   host             address to listen on (default 127.0.0.1); the port is
//                    chosen by the kernel and the issuer is https://HOST:PORT
//   issuer_host      the name in the issuer instead (e.g. localhost, for
//                    clients whose TLS checks names but not IP addresses);
//                    the provider then also listens on ::1 where it can
//   users            a JSON file {"<sub>": {"name", "email", "groups": [...]}},
//                    read afresh at every sign-in (change groups between them)
//   keys             a JSON file where the signing keys are kept (private
//                    JWKs; made on first start: one each for RS256, PS256
//                    and ES256), so a restart keeps them
//   clients          [{client_id, client_secret, redirect_uris,
//                      post_logout_redirect_uris, token_endpoint_auth_method
//                      (client_secret_basic | client_secret_post),
//                      id_token_signed_response_alg (RS256 | PS256 | ES256)}]
//   admin_token      bearer token for the /_test/ endpoints
//
// Once listening it prints one line: "listening https://HOST:PORT".
//
// The flow: authorization code with PKCE (S256, required), scopes openid,
// profile (name), email and groups; the ID token carries the claims. The
// sign-in page /interaction/UID is a plain form (a "login" field naming a
// user, a submit button) that a browser or an HTTP client can post to
// /interaction/UID/login; consent is given at once. end_session is the
// provider's RP-initiated logout.
//
// Test endpoints (Authorization: Bearer ADMIN_TOKEN, JSON in and out):
//   POST /_test/rotate {"alg": "RS256", "keep_old": true}
//        a new key for alg becomes the one that signs; the old ones stay
//        published unless keep_old is false. Answers {"kid"}.
//   POST /_test/sign {"alg", "kid"?, "header"?, "payload"}
//        signs payload (an object) with the current (or named) key; header
//        members are added to {"alg", "kid", "typ": "JWT"}. Answers {"token"}.
//   GET  /_test/pem?kid=KID   the key's public half as an SPKI PEM.
//   POST /_test/id_token {"id_token"}
//        the next answer of the token endpoint carries this ID token in
//        place of the one the provider made (a test of what the client
//        refuses: a forged signature, another audience, alg none, ...).
//   GET  /_test/stats         {"requests": {"<path>": count}}: the requests
//        served since start, by path (how often the key set was fetched).
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

import Provider from 'oidc-provider';

// The provider builds its key set once, in its constructor; rotation
// rebuilds it with the same internal function (same module instance).
const here = path.dirname(fileURLToPath(import.meta.url));
const { default: initializeKeystore } = await import(
  path.join(here, 'node_modules/oidc-provider/lib/helpers/initialize_keystore.js'));

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const host = config.host || '127.0.0.1';
const issuerHost = config.issuer_host || host;

function newKey(alg) {
  const pair = alg === 'ES256'
    ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = pair.privateKey.export({ format: 'jwk' });
  return { ...jwk, alg, use: 'sig', kid: `${alg.toLowerCase()}-${crypto.randomBytes(6).toString('hex')}` };
}

let keys;
if (fs.existsSync(config.keys)) {
  keys = JSON.parse(fs.readFileSync(config.keys, 'utf8'));
} else {
  keys = ['RS256', 'PS256', 'ES256'].map(newKey);
  fs.writeFileSync(config.keys, JSON.stringify(keys), { mode: 0o600 });
}

function readUsers() {
  return JSON.parse(fs.readFileSync(config.users, 'utf8'));
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

let provider;
const requests = {};        // path -> count
const idTokens = [];        // replacements for the token endpoint's next answers

// Puts the next queued ID token in place of the one in the token
// endpoint's answer (JSON, written by res.end).
function replaceIdToken(res) {
  const replacement = idTokens.shift();
  const end = res.end.bind(res);
  res.end = (chunk, ...rest) => {
    try {
      const doc = JSON.parse(Buffer.from(chunk).toString('utf8'));
      if (doc.id_token) {
        doc.id_token = replacement;
        chunk = JSON.stringify(doc);
        res.setHeader('content-length', Buffer.byteLength(chunk));
      }
    } catch (e) {
      // not JSON: an error page; left as it is
    }
    return end(chunk, ...rest);
  };
}

function loginPage(res, uid, message) {
  res.writeHead(message ? 400 : 200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html lang="en"><head><title>Test provider sign-in</title></head><body>
<main><h1>Sign in to the test provider</h1>${message ? `<p role="alert">${escapeHtml(message)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(uid)}/login">
<label for="login">User</label> <input id="login" name="login" autocomplete="username">
<button type="submit">Sign in</button></form></main></body></html>`);
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res, status, doc) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(doc));
}

async function interaction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) return json(res, 400, { error: 'interaction mismatch' });
  if (action === undefined && req.method === 'GET') {
    // A sign-in already done: only consent is missing. Give it.
    if (details.prompt.name === 'consent') return finish(req, res, details, details.session.accountId);
    return loginPage(res, uid);
  }
  if (action === 'login' && req.method === 'POST') {
    const form = new URLSearchParams(await readBody(req));
    const login = form.get('login') || '';
    if (!Object.hasOwn(readUsers(), login)) return loginPage(res, uid, `No user "${login}".`);
    return finish(req, res, details, login);
  }
  return json(res, 404, { error: 'not found' });
}

async function finish(req, res, details, accountId) {
  const { params } = details;
  const grant = new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope(params.scope);
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } },
    { mergeWithLastSubmission: false });
}

function publicPem(kid) {
  const jwk = keys.find((k) => k.kid === kid);
  if (!jwk) return null;
  const { d, p, q, dp, dq, qi, ...pub } = jwk;
  return crypto.createPublicKey({ key: pub, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
}

function sign(alg, kid, header, payload) {
  const jwk = kid ? keys.find((k) => k.kid === kid) : keys.find((k) => k.alg === alg);
  if (!jwk) return null;
  const b64 = (x) => Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
  const input = `${b64({ alg, kid: jwk.kid, typ: 'JWT', ...header })}.${b64(payload)}`;
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const options = { key };
  if (alg === 'PS256') Object.assign(options, { padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 });
  if (alg === 'ES256') options.dsaEncoding = 'ieee-p1363';
  return `${input}.${crypto.sign('sha256', Buffer.from(input), options).toString('base64url')}`;
}

async function admin(req, res, route, url) {
  if (req.headers.authorization !== `Bearer ${config.admin_token}`) return json(res, 401, { error: 'unauthorized' });
  const body = req.method === 'POST' ? JSON.parse((await readBody(req)) || '{}') : {};
  if (route === 'rotate' && req.method === 'POST') {
    const key = newKey(body.alg);
    keys = [key, ...keys.filter((k) => body.keep_old !== false || k.alg !== body.alg)];
    fs.writeFileSync(config.keys, JSON.stringify(keys), { mode: 0o600 });
    initializeKeystore.call(provider, { keys });
    return json(res, 200, { kid: key.kid });
  }
  if (route === 'sign' && req.method === 'POST') {
    const token = sign(body.alg, body.kid, body.header || {}, body.payload);
    return token ? json(res, 200, { token }) : json(res, 404, { error: 'no such key' });
  }
  if (route === 'id_token' && req.method === 'POST') {
    idTokens.push(body.id_token);
    return json(res, 200, { queued: idTokens.length });
  }
  if (route === 'stats' && req.method === 'GET') return json(res, 200, { requests });
  if (route === 'pem' && req.method === 'GET') {
    const pem = publicPem(url.searchParams.get('kid'));
    if (!pem) return json(res, 404, { error: 'no such key' });
    res.writeHead(200, { 'content-type': 'application/x-pem-file' });
    return res.end(pem);
  }
  return json(res, 404, { error: 'not found' });
}

function handle(req, res) {
  const url = new URL(req.url, 'https://localhost');
  requests[url.pathname] = (requests[url.pathname] || 0) + 1;
  if (url.pathname === '/token' && req.method === 'POST' && idTokens.length) replaceIdToken(res);
  const m = url.pathname.match(/^\/interaction\/([\w-]+)(?:\/(login))?$/);
  const t = url.pathname.match(/^\/_test\/(rotate|sign|pem|id_token|stats)$/);
  const handled = m ? interaction(req, res, m[1], m[2]) : t ? admin(req, res, t[1], url) : null;
  if (!handled) return provider.callback()(req, res);
  return handled.catch((err) => {
    console.error(err);
    if (!res.headersSent) json(res, 500, { error: String(err.message || err) });
  });
}

const tlsOptions = { cert: fs.readFileSync(config.cert), key: fs.readFileSync(config.key) };
const server = https.createServer(tlsOptions, handle);

server.listen(0, host, () => {
  const port = server.address().port;
  const issuer = `https://${issuerHost}:${port}`;
  if (issuerHost !== host) {
    // The name may resolve to ::1 first: answer there too, if there is one.
    const v6 = https.createServer(tlsOptions, handle);
    v6.on('error', () => {});
    v6.listen(port, '::1');
  }
  provider = new Provider(issuer, {
    clients: config.clients.map((c) => ({
      grant_types: ['authorization_code'],
      response_types: ['code'],
      ...c,
    })),
    jwks: { keys },
    findAccount(ctx, sub) {
      const user = readUsers()[sub];
      if (!user) return undefined;
      return {
        accountId: sub,
        async claims() {
          const now = readUsers()[sub] || user;
          return { sub, name: now.name, email: now.email, groups: now.groups || [] };
        },
      };
    },
    claims: { openid: ['sub'], profile: ['name'], email: ['email'], groups: ['groups'] },
    scopes: ['openid', 'profile', 'email', 'groups'],
    conformIdTokenClaims: false,
    pkce: { required: () => true, methods: ['S256'] },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: {
        enabled: true,
        // The confirmation page, plain (the default loads a web font from elsewhere).
        async logoutSource(ctx, form) {
          ctx.body = `<!doctype html><html lang="en"><head><title>Test provider sign-out</title></head><body>
<main><h1>Sign out of the test provider?</h1>${form}
<button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button></main></body></html>`;
        },
      },
    },
    interactions: { url: (ctx, i) => `/interaction/${i.uid}` },
    cookies: { keys: [crypto.randomBytes(32).toString('hex')] },
    enabledJWA: { idTokenSigningAlgValues: ['RS256', 'PS256', 'ES256'] },
    renderError(ctx, out) {
      ctx.type = 'json';
      ctx.body = out;
    },
  });
  provider.on('server_error', (ctx, err) => console.error(err));
  console.log(`listening ${issuer}`);
});
