import { createSign, generateKeyPairSync, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OidcIssuer {
  /** The discovery document's URL, for MINIO_IDENTITY_OPENID_CONFIG_URL. */
  configUrl: string;
  /** A signed ID token, as the kubelet projects into a pod for IRSA / pod identity. */
  token(claims: Record<string, unknown>): string;
  close(): Promise<void>;
}

/**
 * A minimal OpenID Connect issuer (discovery document and JWKS) with one RSA key: what EKS's
 * OIDC provider is to IAM, this is to MinIO's STS in the tests.
 */
export async function startOidcIssuer(): Promise<OidcIssuer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'pushcache-test';
  let issuer = '';
  const server = http.createServer((req, res) => {
    const body =
      req.url === '/.well-known/openid-configuration'
        ? { issuer, jwks_uri: `${issuer}/keys`, id_token_signing_alg_values_supported: ['RS256'], response_types_supported: ['id_token'], subject_types_supported: ['public'] }
        : req.url === '/keys'
          ? { keys: [{ ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' }] }
          : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
    res.end(body ? JSON.stringify(body) : '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    configUrl: `${issuer}/.well-known/openid-configuration`,
    token: (claims) => signJwt(privateKey, kid, { iss: issuer, iat: now(), exp: now() + 3600, ...claims }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

const now = () => Math.floor(Date.now() / 1000);
const b64url = (data: string | Buffer) => Buffer.from(data).toString('base64url');

function signJwt(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const unsigned = `${b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }))}.${b64url(JSON.stringify(claims))}`;
  return `${unsigned}.${createSign('RSA-SHA256').update(unsigned).sign(key).toString('base64url')}`;
}
