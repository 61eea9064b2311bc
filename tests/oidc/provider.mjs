// The OpenID provider the tests sign in with: oidc-provider (a certified implementation) with its development
// sign-in pages, one client for the console, and the accounts the test gives.
//
// Environment:
//   PORT              where to listen (127.0.0.1)
//   CLIENT_ID, CLIENT_SECRET, REDIRECT_URI, POST_LOGOUT_REDIRECT_URI
//   ACCOUNTS          JSON: { "<sub>": { "email": …, "email_verified": true, "name": …, "groups": [ … ] }, … }
//   TAMPER            optional: "signature" alters the ID token's signature, "expire" answers the token request
//                     only after the ID token has expired (its lifetime is then one second), "hs256" signs ID
//                     tokens with the client secret (HS256), which the discovery document then advertises
// Prints "listening <issuer>" once it answers.

import Provider from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const accounts = JSON.parse(process.env.ACCOUNTS || '{}');
const tamper = process.env.TAMPER || '';

const provider = new Provider(issuer, {
  clients: [{
    client_id: process.env.CLIENT_ID,
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    post_logout_redirect_uris: [process.env.POST_LOGOUT_REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    ...(tamper === 'hs256' ? { id_token_signed_response_alg: 'HS256' } : {}),
  }],
  enabledJWA: {
    idTokenSigningAlgValues: tamper === 'hs256' ? ['HS256', 'RS256'] : ['RS256', 'PS256', 'ES256', 'Ed25519', 'EdDSA'],
  },
  async findAccount(ctx, id) {
    const claims = accounts[id];
    if (!claims) return undefined;
    return { accountId: id, async claims() { return { sub: id, ...claims }; } };
  },
  claims: {
    openid: ['sub'],
    email: ['email', 'email_verified'],
    profile: ['name', 'given_name', 'family_name'],
    groups: ['groups'],
  },
  // The claims the scopes ask for go in the ID token, which is all the console reads.
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: true },
    rpInitiatedLogout: { enabled: true },
  },
  pkce: { required: () => true },
  ttl: { IdToken: tamper === 'expire' ? 1 : 3600 },
  cookies: { keys: ['multi-account-test-provider'] },
});

provider.use(async (ctx, next) => {
  await next();
  if (ctx.path !== '/token' || ctx.status !== 200 || !ctx.body || !ctx.body.id_token) return;
  if (tamper === 'signature') {
    const [header, payload, signature] = ctx.body.id_token.split('.');
    const flipped = (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    ctx.body = { ...ctx.body, id_token: `${header}.${payload}.${flipped}` };
  } else if (tamper === 'expire') {
    await new Promise((resolve) => { setTimeout(resolve, 2500); });
  }
});

provider.listen(port, '127.0.0.1', () => {
  console.log(`listening ${issuer}`);
});
