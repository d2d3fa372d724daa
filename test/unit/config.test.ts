import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { redact, shortSecretWarning, withoutUserInfo } from '../../src/config/redact.js';
import { ConfigError } from '../../src/core/errors.js';
import { tempDir } from '../helpers/tmp.js';

describe('qdrant.nodes (distributed Qdrant)', () => {
  test('QDRANT_NODE_URLS comma-separated, config file list, repeatable --qdrant-node; bad URL named', async (t) => {
    const cwd = await tempDir(t);
    assert.deepEqual(loadConfig({ env: {}, cwd }).config.qdrant.nodes, []);
    const env = loadConfig({ env: { QDRANT_NODE_URLS: 'http://n1:6333/, http://n2:6333,' }, cwd });
    assert.deepEqual(env.config.qdrant.nodes, ['http://n1:6333', 'http://n2:6333']);
    const flag = loadConfig({ env: {}, cwd, flags: { '--qdrant-node': ['http://a:1', 'http://b:2'] } });
    assert.deepEqual(flag.config.qdrant.nodes, ['http://a:1', 'http://b:2']);
    await writeFile(join(cwd, 'qnb.config.yaml'), 'qdrant:\n  nodes: [http://f1:6333, http://f2:6333]\n');
    assert.deepEqual(loadConfig({ env: {}, cwd }).config.qdrant.nodes, ['http://f1:6333', 'http://f2:6333']);
    assert.throws(
      () => loadConfig({ env: { QDRANT_NODE_URLS: 'http://ok:1,node2:6333' }, cwd }),
      (e: unknown) => e instanceof ConfigError && /QDRANT_NODE_URLS/.test(e.message),
    );
  });
});

describe('config layers: defaults < file < env < flags', () => {
  test('defaults when nothing is set', async (t) => {
    const cwd = await tempDir(t);
    const { config, sources } = loadConfig({ env: {}, cwd });
    assert.equal(config.qdrant.url, 'http://localhost:6333');
    assert.equal(config.neo4j.uri, 'bolt://localhost:7687');
    assert.equal(config.keepLast, 5);
    assert.equal(config.backupDir, join(cwd, 'backups'));
    assert.deepEqual(config.qdrant.collections, []);
    assert.equal(sources['qdrant.url'], 'default');
  });

  test('file < env < flag, each source recorded', async (t) => {
    const cwd = await tempDir(t);
    await writeFile(
      join(cwd, 'qnb.config.yaml'),
      'qdrant:\n  url: http://file:1\n  collections: [a, b]\nkeepLast: 7\nbackupDir: fromfile\n',
    );
    const fileOnly = loadConfig({ env: {}, cwd });
    assert.equal(fileOnly.config.qdrant.url, 'http://file:1');
    assert.deepEqual(fileOnly.config.qdrant.collections, ['a', 'b']);
    assert.equal(fileOnly.config.keepLast, 7);
    assert.equal(fileOnly.config.backupDir, join(cwd, 'fromfile'));
    const withEnv = loadConfig({ env: { QDRANT_URL: 'http://env:2', QNB_KEEP_LAST: '9' }, cwd });
    assert.equal(withEnv.config.qdrant.url, 'http://env:2');
    assert.equal(withEnv.sources['qdrant.url'], 'env');
    assert.equal(withEnv.config.keepLast, 9);
    const withFlag = loadConfig({
      env: { QDRANT_URL: 'http://env:2' },
      cwd,
      flags: { '--qdrant-url': 'http://flag:3' },
    });
    assert.equal(withFlag.config.qdrant.url, 'http://flag:3');
    assert.equal(withFlag.sources['qdrant.url'], 'flag');
    assert.ok(Object.isFrozen(withFlag.config.qdrant));
  });

  test('explicit --config JSON file; missing file is a ConfigError', async (t) => {
    const cwd = await tempDir(t);
    await writeFile(join(cwd, 'my.json'), JSON.stringify({ neo4j: { database: 'graph', mode: 'export' } }));
    const { config, file } = loadConfig({ env: {}, cwd, configFile: 'my.json' });
    assert.equal(config.neo4j.database, 'graph');
    assert.equal(config.neo4j.mode, 'export');
    assert.equal(file, join(cwd, 'my.json'));
    assert.throws(
      () => loadConfig({ env: {}, cwd, configFile: 'nope.json' }),
      (e: ConfigError) => /--config nope\.json: file not found/.test(e.message),
    );
  });

  test('secrets from *_FILE variables', async (t) => {
    const cwd = await tempDir(t);
    await writeFile(join(cwd, 'key'), 's3cret-key\n');
    const { config, secrets } = loadConfig({ env: { QDRANT_API_KEY_FILE: join(cwd, 'key') }, cwd });
    assert.equal(config.qdrant.apiKey, 's3cret-key');
    assert.deepEqual(secrets, ['s3cret-key']);
  });
});

describe('invalid configuration names the key and the fix', () => {
  const cases: [string, NodeJS.ProcessEnv, RegExp, RegExp][] = [
    ['bad URL', { QDRANT_URL: 'localhost:6333' }, /^QDRANT_URL: /, /http:\/\/localhost:6333/],
    ['ftp URL', { QDRANT_URL: 'ftp://x' }, /^QDRANT_URL: "ftp:\/\/x" is not an http\(s\) URL/, /URL/],
    ['keep-last zero', { QNB_KEEP_LAST: '0' }, /^QNB_KEEP_LAST: /, /whole number/],
    ['keep-last text', { QNB_KEEP_LAST: 'five' }, /^QNB_KEEP_LAST: /, /whole number/],
    [
      'snapshots in flight zero',
      { QDRANT_SNAPSHOTS_IN_FLIGHT: '0' },
      /^QDRANT_SNAPSHOTS_IN_FLIGHT: /,
      /one collection after another/,
    ],
    ['neo4j mode', { NEO4J_MODE: 'backup' }, /^NEO4J_MODE: /, /dump or export/],
    ['bolt uri', { NEO4J_URI: 'http://localhost:7474' }, /^NEO4J_URI: /, /bolt:\/\//],
    [
      'collection name',
      { QDRANT_COLLECTIONS: 'ok,bad/name' },
      /^QDRANT_COLLECTIONS: "bad\/name"/,
      /comma-separated/,
    ],
  ];
  for (const [name, env, msg, hint] of cases) {
    test(name, async (t) => {
      const cwd = await tempDir(t);
      assert.throws(
        () => loadConfig({ env, cwd }),
        (e: unknown) => e instanceof ConfigError && msg.test(e.message) && hint.test(e.hint ?? ''),
      );
    });
  }

  test('unknown key in the config file', async (t) => {
    const cwd = await tempDir(t);
    await writeFile(join(cwd, 'qnb.config.json'), JSON.stringify({ qdrant: { ulr: 'http://x' } }));
    assert.throws(
      () => loadConfig({ env: {}, cwd }),
      (e: ConfigError) => /unknown or misplaced key "qdrant\.ulr"/.test(e.message),
    );
  });

  test('broken YAML', async (t) => {
    const cwd = await tempDir(t);
    await writeFile(join(cwd, 'qnb.config.yaml'), 'qdrant: [unclosed\n');
    assert.throws(
      () => loadConfig({ env: {}, cwd }),
      (e: ConfigError) => /cannot parse/.test(e.message),
    );
  });

  test('a config file that does not parse: the line and column, never the text (an unquoted password)', async (t) => {
    const cwd = await tempDir(t);
    await writeFile(
      join(cwd, 'qnb.config.json'),
      '{\n  "backupDir": "./b",\n  "neo4j": { "password": s3cr3t-pass-9 }\n}\n',
    );
    assert.throws(
      () => loadConfig({ env: {}, cwd }),
      (e: ConfigError) =>
        e.message === 'qnb.config: cannot parse: not valid JSON at line 3, column 26' &&
        !`${e.message} ${e.hint}`.includes('s3cr3t'),
    );
    // a file that cannot be read is named with the system's error, not taken for bad syntax
    await rm(join(cwd, 'qnb.config.json'));
    await mkdir(join(cwd, 'qnb.config.json'));
    assert.throws(
      () => loadConfig({ env: {}, cwd }),
      (e: ConfigError) => /^qnb\.config: cannot read: EISDIR/.test(e.message),
    );
    await rm(join(cwd, 'qnb.config.json'), { recursive: true });
    await writeFile(join(cwd, 'qnb.config.yaml'), 'neo4j:\n  password: [s3cr3t-pass-9\n');
    assert.throws(
      () => loadConfig({ env: {}, cwd }),
      (e: ConfigError) =>
        /^qnb\.config: cannot parse: not valid YAML \(\w+\) at line \d+, column \d+$/.test(e.message) &&
        !e.message.includes('s3cr3t'),
    );
  });

  test('a bad flag value names the flag', async (t) => {
    const cwd = await tempDir(t);
    assert.throws(
      () => loadConfig({ env: {}, cwd, flags: { '--keep-last': '-1' } }),
      (e: ConfigError) => /^--keep-last: /.test(e.message),
    );
  });
});

describe('withoutUserInfo (URLs as manifests record them)', () => {
  test('drops user:password@ and keeps the rest; other URLs unchanged', () => {
    assert.equal(
      withoutUserInfo('https://backup:s3cret@qdrant.example:6333/prefix'),
      'https://qdrant.example:6333/prefix',
    );
    assert.equal(withoutUserInfo('bolt://neo4j:pw@127.0.0.1:7687'), 'bolt://127.0.0.1:7687');
    assert.equal(withoutUserInfo('http://user@[::1]:6333'), 'http://[::1]:6333');
    assert.equal(withoutUserInfo('http://127.0.0.1:6333/a@b'), 'http://127.0.0.1:6333/a@b');
  });
});

describe('redact', () => {
  test('removes secrets and URL passwords', () => {
    assert.equal(redact('key=abc123 and abc123', ['abc123']), 'key=*** and ***');
    assert.equal(redact('bolt://neo4j:pw@host:7687', []), 'bolt://neo4j:***@host:7687');
    assert.equal(redact('nothing here', ['secret']), 'nothing here');
  });

  test('a short secret is hidden where it stands alone, never inside other words', () => {
    const line =
      '0 2 * * * cd /work/scratch/k && /usr/bin/node /x/main.js backup-all >> /tmp/qnb-backup.log 2>&1';
    assert.equal(redact(line, ['k']), line.replace('/k &&', '/*** &&'));
    assert.equal(redact('cd /work/backups && qnb backup-all', ['k']), 'cd /work/backups && qnb backup-all');
    assert.equal(redact('QDRANT_API_KEY=k', ['k']), 'QDRANT_API_KEY=***');
    assert.equal(redact('{"apiKey": "k"}', ['k']), '{"apiKey": "***"}');
    assert.equal(redact('http://h:6333/x?api-key=k&y=1', ['k']), 'http://h:6333/x?api-key=***&y=1');
    assert.equal(redact('api-key: k', ['k']), 'api-key: ***');
  });

  test('a long secret is hidden everywhere, also URL-encoded and JSON-escaped', () => {
    const s = 'p@ss"word/12';
    assert.equal(redact(`x${s}y`, [s]), 'x***y');
    assert.equal(redact(`?pw=${encodeURIComponent(s)}`, [s]), '?pw=***');
    assert.equal(redact(JSON.stringify({ pw: s }), [s]), '{"pw":"***"}');
  });

  test('shortSecretWarning names the short secrets only', () => {
    assert.equal(
      shortSecretWarning({ QDRANT_API_KEY: 'long-enough-key', NEO4J_PASSWORD: undefined }),
      undefined,
    );
    const w = shortSecretWarning({ QDRANT_API_KEY: 'k', NEO4J_PASSWORD: 'long-enough-password' });
    assert.match(w ?? '', /^⚠ QDRANT_API_KEY is shorter than 8 characters: .*use a longer secret$/);
    assert.ok(!w?.includes('long-enough-password'));
  });
});
