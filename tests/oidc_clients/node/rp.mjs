// A relying party as an integrator would write it with openid-client (a certified RP library): discovery,
// the authorization code flow with PKCE S256, state and nonce, ID-token validation by the library, UserInfo,
// a refresh, and RP-initiated logout. Every check is the library's; this file only wires it to HTTP and
// reports what it verified, so a test can assert it.
//
// Configuration, from the environment: OIDC_ISSUER, OIDC_CLIENT_ID, OIDC_CLIENT_SECRET (empty: a public
// client, authenticating with PKCE only), RP_PORT (listens on 127.0.0.1). Pages:
//   /login        redirects to the issuer's authorization endpoint
//   /callback     the redirect URI: code exchange, ID token, UserInfo, refresh; answers #result (JSON)
//   /refresh      one more refresh with the latest refresh token; answers #result
//   /signed-out   the post-logout redirect URI; answers #result
import http from 'node:http'
import * as client from 'openid-client'

const issuer = new URL(process.env.OIDC_ISSUER)
const clientId = process.env.OIDC_CLIENT_ID
const clientSecret = process.env.OIDC_CLIENT_SECRET || ''
const port = Number(process.env.RP_PORT)
const origin = `http://127.0.0.1:${port}`
const redirectUri = `${origin}/callback`
const postLogoutRedirectUri = `${origin}/signed-out`

// The issuer runs on plain-HTTP loopback in tests; a deployment over HTTPS leaves this out.
const config = await client.discovery(
  issuer,
  clientId,
  undefined,
  clientSecret ? client.ClientSecretBasic(clientSecret) : client.None(),
  { execute: [client.allowInsecureRequests] },
)

// What a session store would hold per browser; one browser drives this RP at a time.
const pending = new Map() // state -> {codeVerifier, nonce}
const signedIn = { refreshToken: '', logoutState: '' }

function answer(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', ...headers })
  const id = status < 400 ? 'result' : 'error'
  const text = typeof body === 'string' ? body : JSON.stringify(body)
  res.end(`<!doctype html><title>openid-client RP</title><pre id="${id}">${escapeHtml(text)}</pre>`)
}

function escapeHtml(text) {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c])
}

async function login(res) {
  const codeVerifier = client.randomPKCECodeVerifier()
  const state = client.randomState()
  const nonce = client.randomNonce()
  pending.set(state, { codeVerifier, nonce })
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  res.writeHead(302, { Location: url.href })
  res.end()
}

async function callback(res, currentUrl) {
  const state = currentUrl.searchParams.get('state') || ''
  const flow = pending.get(state)
  if (!flow) return answer(res, 400, 'unknown state')
  pending.delete(state)
  const tokens = await client.authorizationCodeGrant(config, currentUrl, {
    pkceCodeVerifier: flow.codeVerifier,
    expectedState: state,
    expectedNonce: flow.nonce,
    idTokenExpected: true,
  })
  // claims() is the ID token as the library validated it: signature against the JWKS, iss, aud, exp, iat,
  // nonce, and at_hash where present.
  const idClaims = tokens.claims()
  const userinfo = await client.fetchUserInfo(config, tokens.access_token, idClaims.sub)
  signedIn.refreshToken = tokens.refresh_token || ''
  signedIn.logoutState = client.randomState()
  const endSessionUrl = client.buildEndSessionUrl(config, {
    id_token_hint: tokens.id_token,
    post_logout_redirect_uri: postLogoutRedirectUri,
    state: signedIn.logoutState,
  })
  answer(res, 200, {
    id_token_claims: idClaims,
    token_type: tokens.token_type,
    scope: tokens.scope,
    has_refresh_token: Boolean(tokens.refresh_token),
    userinfo,
    refreshed: tokens.refresh_token ? await refresh(tokens, idClaims.sub) : null,
    end_session_url: endSessionUrl.href,
  })
}

// A refresh right after sign-in: rotated tokens, and an access token UserInfo still accepts.
async function refresh(tokens, sub) {
  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token)
  signedIn.refreshToken = refreshed.refresh_token
  return {
    access_token_differs: refreshed.access_token !== tokens.access_token,
    refresh_token_differs: Boolean(refreshed.refresh_token) && refreshed.refresh_token !== tokens.refresh_token,
    id_token_sub: refreshed.id_token ? refreshed.claims().sub : null,
    userinfo_sub: (await client.fetchUserInfo(config, refreshed.access_token, sub)).sub,
  }
}

async function refreshAgain(res) {
  try {
    const refreshed = await client.refreshTokenGrant(config, signedIn.refreshToken)
    signedIn.refreshToken = refreshed.refresh_token
    answer(res, 200, { refreshed: true })
  } catch (error) {
    // A refused refresh is a result here, not a failure of this RP: the library's ResponseBodyError.
    answer(res, 200, { refreshed: false, error: error.error || error.code || String(error) })
  }
}

function signedOut(res, currentUrl) {
  const stateEchoed = currentUrl.searchParams.get('state') === signedIn.logoutState
  answer(res, 200, { signed_out: true, state_echoed: stateEchoed })
}

const server = http.createServer(async (req, res) => {
  const currentUrl = new URL(req.url, origin)
  try {
    if (currentUrl.pathname === '/login') return await login(res)
    if (currentUrl.pathname === '/callback') return await callback(res, currentUrl)
    if (currentUrl.pathname === '/refresh') return await refreshAgain(res)
    if (currentUrl.pathname === '/signed-out') return signedOut(res, currentUrl)
    answer(res, 404, 'not found')
  } catch (error) {
    console.error(error)
    const detail = [error.name, error.code, error.error, error.error_description, error.message]
    answer(res, 500, detail.filter(Boolean).join(': '))
  }
})
server.listen(port, '127.0.0.1', () => console.log(JSON.stringify({ listening: origin })))
