import path from 'node:path';
import { resolvePopSettings, resolveStorageSettings } from '../../src/config';
import { ConfigError } from '../../src/errors';

describe('storage mode', () => {
  it('is s3 unless told otherwise, with no filesystem root', () => {
    expect(resolveStorageSettings({}, {}).filesystemRoot).toBeUndefined();
    expect(resolveStorageSettings({ mode: 's3', root: '/ignored' }, {}).filesystemRoot).toBeUndefined();
  });

  it('takes -m filesystem with --root or PUSHCACHE_FS_ROOT, flag first, as an absolute path', () => {
    expect(resolveStorageSettings({ mode: 'filesystem', root: '/srv/cache' }, { PUSHCACHE_FS_ROOT: '/env' }).filesystemRoot).toBe('/srv/cache');
    expect(resolveStorageSettings({ mode: 'filesystem' }, { PUSHCACHE_FS_ROOT: 'rel/cache' }).filesystemRoot).toBe(path.resolve('rel/cache'));
  });

  it('needs a root in filesystem mode and names both modes when given another', () => {
    expect(() => resolveStorageSettings({ mode: 'filesystem' }, {})).toThrow('-m filesystem needs --root DIR (or PUSHCACHE_FS_ROOT)');
    const err = (() => {
      try {
        resolveStorageSettings({ mode: 'valkey' }, {});
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems).toEqual(["-m/--mode must be 's3' or 'filesystem'"]);
  });
});

describe('pop settings', () => {
  it('needs an app name and a destination, and resolves the destination', () => {
    expect(resolvePopSettings({ prefix: 'app', dest: 'out' })).toEqual({ app: 'app', dest: path.resolve('out') });
    expect(() => resolvePopSettings({ dest: 'out' })).toThrow('-r/--prefix (the app name) is required');
    expect(() => resolvePopSettings({ prefix: '../x', dest: 'out' })).toThrow(/-r\/--prefix: app name "..\/x" is not allowed/);
    expect(() => resolvePopSettings({ prefix: 'app' })).toThrow('-d/--dest (the directory to write into) is required');
  });
});
