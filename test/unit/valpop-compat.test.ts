import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { populateCommand } from '../../src/cli/populate-command';
import { hoistGlobalFlags, valpopEnvAliases } from '../../src/cli/valpop-compat';
import { defaultTemporalConfigFile, resolvePublishSettings, resolveStorageSettings, resolveTemporalMode, type RawOptions } from '../../src/config';
import { ConfigError } from '../../src/errors';

/** What `populate` receives for a command line and an environment, through main.ts's mapping. */
async function parsePopulate(argv: string[], env: Record<string, string> = {}): Promise<RawOptions> {
  const saved = process.env;
  process.env = { ...env, ...valpopEnvAliases(env) };
  try {
    let seen: RawOptions | undefined;
    const program = new Command('pushcache').exitOverride().addCommand(populateCommand().exitOverride().action((o: RawOptions) => void (seen = o)));
    await program.parseAsync(['node', 'main.js', ...hoistGlobalFlags(argv)]);
    return seen!;
  } finally {
    process.env = saved;
  }
}

const required = ['-s', '/assets', '-r', 'app'];

describe('the reference gate on the command line (issue 17)', () => {
  it("is on for valpop's command line, and off only when asked", async () => {
    const valpop = ['-b', 'frontend', '-a', 'minio', 'populate', '-r', 'app', '-s', '/assets', '-i', 'img', '--timeout', '172800'];
    expect(resolvePublishSettings(await parsePopulate(valpop)).verifyReferences).toBe(true);
    expect(resolvePublishSettings(await parsePopulate(['populate', ...required, '--no-verify-references'])).verifyReferences).toBe(false);
    expect(resolvePublishSettings(await parsePopulate(['populate', ...required], { PUSHCACHE_NO_VERIFY_REFERENCES: 'true' })).verifyReferences).toBe(false);
  });
});

describe("valpop's global flags before the subcommand", () => {
  it('moves them after the subcommand, in order, in every spelling cobra accepts', () => {
    expect(hoistGlobalFlags(['-b', 'B', '-a', 'H', 'populate', '-s', 'x'])).toEqual(['populate', '--bucket', 'B', '--hostname', 'H', '-s', 'x']);
    expect(hoistGlobalFlags(['--bucket=B', '-pP', '-m=s3', '--username', 'u', '-c', 'c', 'populate'])).toEqual([
      'populate', '--bucket', 'B', '--port', 'P', '--mode', 's3', '--username', 'u', '--password', 'c',
    ]);
  });

  it('leaves everything else alone', () => {
    expect(hoistGlobalFlags(['populate', '-b', 'B'])).toEqual(['populate', '-b', 'B']);
    expect(hoistGlobalFlags(['--help'])).toEqual(['--help']);
    expect(hoistGlobalFlags(['-b', 'B', '--help'])).toEqual(['-b', 'B', '--help']);
    expect(hoistGlobalFlags([])).toEqual([]);
  });

  it('take effect, and one given after the subcommand wins as in cobra', async () => {
    const o = await parsePopulate(['-b', 'assets', '-a', 'minio.svc', '-p', '9001', '-u', 'AK', '-c', 'SK', '-m', 's3', 'populate', ...required]);
    expect(resolveStorageSettings(o, {})).toMatchObject({ bucket: 'assets', endpoint: 'http://minio.svc:9001', credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } });
    const later = await parsePopulate(['--bucket', 'first', 'populate', ...required, '--bucket', 'second']);
    expect(resolveStorageSettings(later, {}).bucket).toBe('second');
  });
});

describe("valpop's environment names (viper: VALPOP_ prefix, AutomaticEnv, no key replacer)", () => {
  it('maps the hyphenated names to the underscore ones', () => {
    expect(valpopEnvAliases({ 'VALPOP_MIN-ASSET-RECORDS': '5', 'VALPOP_CACHE-MAX-AGE': '60', VALPOP_BUCKET: 'b', 'OTHER-X': '1' })).toEqual({
      VALPOP_MIN_ASSET_RECORDS: '5',
      VALPOP_CACHE_MAX_AGE: '60',
    });
    // Empty is unset, as in viper; the same value in both forms is fine.
    expect(valpopEnvAliases({ 'VALPOP_VALPOP-IMAGE': '' })).toEqual({});
    expect(valpopEnvAliases({ 'VALPOP_VALPOP-IMAGE': 'x', VALPOP_VALPOP_IMAGE: 'x' })).toEqual({ VALPOP_VALPOP_IMAGE: 'x' });
  });

  it('refuses the same setting in both forms with different values', () => {
    expect(() => valpopEnvAliases({ 'VALPOP_CACHE-MAX-AGE': '60', VALPOP_CACHE_MAX_AGE: '70' })).toThrow(ConfigError);
    expect(() => valpopEnvAliases({ 'VALPOP_CACHE-MAX-AGE': '60', VALPOP_CACHE_MAX_AGE: '70' })).toThrow(/VALPOP_CACHE-MAX-AGE and VALPOP_CACHE_MAX_AGE/);
  });

  it.each([
    ['VALPOP_MIN-ASSET-RECORDS', '7', (o: RawOptions) => resolvePublishSettings(o).minAssetRecords, 7],
    ['VALPOP_CACHE-MAX-AGE', '3600', (o: RawOptions) => resolvePublishSettings(o).cacheMaxAge, 3600],
    ['VALPOP_VALPOP-IMAGE', 'quay.io/pc:2', (o: RawOptions) => resolvePublishSettings(o).valpopImage, 'quay.io/pc:2'],
    ['VALPOP_MIN_ASSET_RECORDS', '8', (o: RawOptions) => resolvePublishSettings(o).minAssetRecords, 8],
    ['VALPOP_CACHE_MAX_AGE', '120', (o: RawOptions) => resolvePublishSettings(o).cacheMaxAge, 120],
    ['VALPOP_VALPOP_IMAGE', 'quay.io/pc:3', (o: RawOptions) => resolvePublishSettings(o).valpopImage, 'quay.io/pc:3'],
    ['VALPOP_TIMEOUT', '172800', (o: RawOptions) => resolvePublishSettings(o).timeout, 172800],
  ])('%s takes effect', async (name, value, read, expected) => {
    expect(read(await parsePopulate(['populate', ...required], { [name]: value }))).toEqual(expected);
  });

  it('the global ones too, and a flag still wins over a variable', async () => {
    const o = await parsePopulate(['populate', ...required, '-b', 'flag-bucket'], { VALPOP_HOSTNAME: 'h.svc', VALPOP_PORT: '9100', VALPOP_BUCKET: 'env-bucket' });
    expect(resolveStorageSettings(o, {})).toMatchObject({ endpoint: 'http://h.svc:9100', bucket: 'flag-bucket' });
  });
});

describe('standalone or cluster', () => {
  const home = () => mkdtempSync(path.join(os.tmpdir(), 'pushcache-home-'));

  it('is standalone when nothing configures Temporal', () => {
    expect(resolveTemporalMode({}, { HOME: home(), PATH: '/usr/bin' }, 'linux')).toEqual({ mode: 'standalone', forced: false });
  });

  it.each([
    [{}, { TEMPORAL_ADDRESS: 'temporal:7233' }, 'TEMPORAL_ADDRESS'],
    [{}, { TEMPORAL_NAMESPACE: 'ns' }, 'TEMPORAL_NAMESPACE'],
    [{}, { TEMPORAL_API_KEY: 'k' }, 'TEMPORAL_API_KEY'],
    [{}, { TEMPORAL_TLS: 'true' }, 'TEMPORAL_TLS'],
    [{}, { TEMPORAL_PROFILE: 'prod' }, 'TEMPORAL_PROFILE'],
    [{}, { TEMPORAL_CONFIG_FILE: '/etc/temporal.toml' }, 'TEMPORAL_CONFIG_FILE'],
    [{}, { TEMPORAL_GRPC_META_X_PORT: '1' }, 'TEMPORAL_GRPC_META_X_PORT'],
    // A misspelt variable still means someone meant a cluster: failing fast beats a silent standalone run.
    [{}, { TEMPORAL_ADRESS: 'x:1' }, 'TEMPORAL_ADRESS'],
    [{ temporalAddress: 'x:7233' }, {}, '--temporal-address'],
    [{ temporalTls: true }, {}, '--temporal-tls'],
    [{ temporalProfile: 'p' }, {}, '--temporal-profile'],
    [{ namespace: 'n' }, {}, '--namespace'],
  ])('is a cluster when %j / %j configure it', (options, env, by) => {
    expect(resolveTemporalMode(options, { HOME: home(), ...env }, 'linux')).toEqual({ mode: 'cluster', configuredBy: by });
  });

  it("ignores the variables Kubernetes adds for a Service named temporal*, which configure no client", () => {
    const links = {
      TEMPORAL_SERVICE_HOST: '10.0.0.1',
      TEMPORAL_SERVICE_PORT: '7233',
      TEMPORAL_SERVICE_PORT_GRPC: '7233',
      TEMPORAL_PORT: 'tcp://10.0.0.1:7233',
      TEMPORAL_PORT_7233_TCP: 'tcp://10.0.0.1:7233',
      TEMPORAL_PORT_7233_TCP_PROTO: 'tcp',
      TEMPORAL_PORT_7233_TCP_PORT: '7233',
      TEMPORAL_PORT_7233_TCP_ADDR: '10.0.0.1',
      TEMPORAL_FRONTEND_SERVICE_HOST: '10.0.0.2',
      TEMPORAL_FRONTEND_PORT_7233_TCP_ADDR: '10.0.0.2',
    };
    expect(resolveTemporalMode({}, { HOME: home(), ...links }, 'linux')).toEqual({ mode: 'standalone', forced: false });
  });

  it("is a cluster when envconfig's default file exists (XDG_CONFIG_HOME, else ~/.config)", () => {
    const h = home();
    expect(defaultTemporalConfigFile({ HOME: h }, 'linux')).toBe(path.join(h, '.config', 'temporalio', 'temporal.toml'));
    expect(defaultTemporalConfigFile({ HOME: h, XDG_CONFIG_HOME: '/xdg' }, 'linux')).toBe('/xdg/temporalio/temporal.toml');
    expect(defaultTemporalConfigFile({ HOME: h }, 'darwin')).toBe(path.join(h, 'Library', 'Application Support', 'temporalio', 'temporal.toml'));
    expect(defaultTemporalConfigFile({}, 'linux')).toBeUndefined();
    mkdirSync(path.join(h, '.config', 'temporalio'), { recursive: true });
    writeFileSync(path.join(h, '.config', 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "t:7233"\n');
    expect(resolveTemporalMode({}, { HOME: h }, 'linux')).toEqual({ mode: 'cluster', configuredBy: path.join(h, '.config', 'temporalio', 'temporal.toml') });
  });

  it('--standalone (or PUSHCACHE_STANDALONE) forces it, naming what it ignores', () => {
    expect(resolveTemporalMode({ standalone: true }, { HOME: home(), TEMPORAL_ADDRESS: 't:7233' }, 'linux')).toEqual({
      mode: 'standalone',
      forced: true,
      ignored: 'TEMPORAL_ADDRESS',
    });
    expect(resolveTemporalMode({}, { HOME: home(), PUSHCACHE_STANDALONE: 'true' }, 'linux')).toEqual({ mode: 'standalone', forced: true });
    expect(resolveTemporalMode({}, { HOME: home(), PUSHCACHE_STANDALONE: 'false', TEMPORAL_ADDRESS: 't:1' }, 'linux')).toEqual({ mode: 'cluster', configuredBy: 'TEMPORAL_ADDRESS' });
  });
});

describe('--no-copy', () => {
  it('turns server-side copies off, from the flag or PUSHCACHE_NO_COPY; they are on by default', async () => {
    expect(resolvePublishSettings(await parsePopulate(['populate', ...required])).copy).toBe(true);
    expect(resolvePublishSettings(await parsePopulate(['populate', ...required, '--no-copy'])).copy).toBe(false);
    expect(resolvePublishSettings(await parsePopulate(['populate', ...required], { PUSHCACHE_NO_COPY: 'true' })).copy).toBe(false);
  });
});
