import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/dev/process';

export interface Certificates {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A CA that signed nothing here: trusting only it must fail. */
  otherCa: string;
}

/** A private CA, a server certificate for 127.0.0.1/localhost and a client certificate, made with openssl. */
export function makeCertificates(): Certificates {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-tls-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  const newCa = (name: string) => {
    openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', f(`${name}.key`), '-out', f(`${name}.pem`));
  };
  const issue = (name: string, subject: string, extensions: string) => {
    writeFileSync(f(`${name}.ext`), extensions);
    openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', subject, '-keyout', f(`${name}.key`), '-out', f(`${name}.csr`));
    openssl('x509', '-req', '-in', f(`${name}.csr`), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f(`${name}.ext`), '-out', f(`${name}.pem`));
  };
  newCa('ca');
  newCa('other-ca');
  issue('server', '/CN=127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  issue('client', '/CN=pushcache-test-client', 'extendedKeyUsage=clientAuth\n');
  return {
    dir,
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
    otherCa: f('other-ca.pem'),
  };
}

export function nginxBinary(): string {
  for (const candidate of ['/usr/sbin/nginx', '/usr/bin/nginx']) if (existsSync(candidate)) return candidate;
  throw new Error('nginx is not installed (apt-get install nginx-light); .ci/run installs it');
}

export interface GrpcTlsProxy {
  /** host:port of the TLS listener that only checks the server side. */
  tlsAddress: string;
  /** host:port of the listener that also requires a client certificate signed by the CA. */
  mtlsAddress: string;
  /** host:port of the TLS listener that also requires `authorization: Bearer <apiKey>`. */
  apiKeyAddress: string;
  stop(): Promise<void>;
}

/**
 * nginx terminating TLS in front of a plaintext Temporal frontend, as an ingress or a cloud
 * load balancer does: proves pushcache's TLS, mTLS and API-key settings against a real gRPC path.
 */
export async function startGrpcTlsProxy(upstream: string, certs: Certificates, apiKey: string): Promise<GrpcTlsProxy> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pushcache-nginx-'));
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, sub));
  const [tlsPort, mtlsPort, apiKeyPort] = [await freePort(), await freePort(), await freePort()];
  const server = (port: number, extra: string) => `
    server {
      listen 127.0.0.1:${port} ssl http2;
      ssl_certificate ${certs.serverCert};
      ssl_certificate_key ${certs.serverKey};
      ${extra}
      location / {
        ${port === apiKeyPort ? `if ($http_authorization != "Bearer ${apiKey}") { return 401; }` : ''}
        grpc_pass grpc://${upstream};
        # Workers long-poll for tasks for up to 70 s.
        grpc_read_timeout 300s;
        grpc_send_timeout 300s;
      }
    }`;
  const config = `
    daemon off;
    master_process off;
    worker_processes 1;
    pid ${dir}/nginx.pid;
    error_log ${dir}/error.log warn;
    events { worker_connections 512; }
    http {
      access_log off;
      client_max_body_size 0;
      client_body_temp_path ${dir}/body;
      proxy_temp_path ${dir}/proxy;
      fastcgi_temp_path ${dir}/fastcgi;
      uwsgi_temp_path ${dir}/uwsgi;
      scgi_temp_path ${dir}/scgi;
      ${server(tlsPort, '')}
      ${server(mtlsPort, `ssl_client_certificate ${certs.ca};\n      ssl_verify_client on;`)}
      ${server(apiKeyPort, '')}
    }`;
  writeFileSync(path.join(dir, 'nginx.conf'), config);
  const child: ChildProcess = spawn(nginxBinary(), ['-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitForPort(mtlsPort, () => readFileSyncSafe(path.join(dir, 'error.log')));
  return {
    tlsAddress: `127.0.0.1:${tlsPort}`,
    mtlsAddress: `127.0.0.1:${mtlsPort}`,
    apiKeyAddress: `127.0.0.1:${apiKeyPort}`,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function readFileSyncSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

export async function waitForPort(port: number, diagnostics: () => string, attempts = 100): Promise<void> {
  for (let i = 0; i < attempts; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`nothing listens on port ${port}: ${diagnostics()}`);
}
