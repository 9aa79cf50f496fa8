#!/usr/bin/env node
// Consumer smoke test: packs every publishable package, then, in temporary folders outside the
// workspace, installs only a chosen subset from the tarballs (as a user would from npm), and
// type-checks (tsc, strict, skipLibCheck off for our packages) and runs each package README's
// quick start against it. Memory-only subsets must not pull in a Redis client or BullMQ.
// Every quick start also runs a second time switched to Redis by configuration only
// (`createBackend()` -> `createBackendFromEnv()` with REDIS_URL pointing at a throwaway
// redis-server this script starts). Prints a size report at the end.
//
// Usage: node scripts/consumer-smoke.mjs [--keep] [--only ratelimit,locks]
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(join(root, 'package.json'));
const { values: flags } = parseArgs({
  options: { keep: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const only = flags.only?.split(',').map((s) => s.trim());

/** Packages whose README quick start is not a standalone program. */
const NO_PROGRAM = new Set(['@redbrick/testkit']);
/** Bare imports a quick start may use besides our packages, and the versions users get. */
const THIRD_PARTY = { zod: '4.6.7' };
/** What a memory-only install must not contain. */
const REDIS_CLIENTS = ['ioredis', 'bullmq', '@redis/client', 'redis'];

const work = mkdtempSync(join(tmpdir(), 'redbrick-consumer-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);

function run(cmd, args, options = {}) {
  try {
    return execFileSync(cmd, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
  } catch (error) {
    const out = `${error.stdout ?? ''}${error.stderr ?? ''}`.trim();
    throw new Error(`${cmd} ${args.join(' ')} failed in ${options.cwd ?? root}:\n${out}`);
  }
}

// --- 1. pack -------------------------------------------------------------------------------
const packages = new Map();
for (const dir of readdirSync(join(root, 'packages'))) {
  const pkgDir = join(root, 'packages', dir);
  const manifestPath = join(pkgDir, 'package.json');
  if (!existsSync(manifestPath)) continue;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  if (manifest.private) continue;
  const before = new Set(readdirSync(tarballs));
  run('pnpm', ['pack', '--pack-destination', tarballs], { cwd: pkgDir });
  const file = readdirSync(tarballs).find((f) => !before.has(f));
  if (!file) throw new Error(`pnpm pack wrote no tarball for ${manifest.name}`);
  packages.set(manifest.name, { dir: pkgDir, manifest, tarball: join(tarballs, file) });
}

/** The package and every @redbrick package it depends on (the tarballs a user's install needs). */
function closure(names) {
  const out = new Set();
  const visit = (name) => {
    if (out.has(name)) return;
    const pkg = packages.get(name);
    if (!pkg) throw new Error(`no publishable package ${name}`);
    out.add(name);
    for (const dep of Object.keys(pkg.manifest.dependencies ?? {})) {
      if (dep.startsWith('@redbrick/')) visit(dep);
    }
  };
  names.forEach(visit);
  return out;
}

function quickStart(pkg) {
  if (!existsSync(join(pkg.dir, 'README.md'))) return undefined;
  const markdown = readFileSync(join(pkg.dir, 'README.md'), 'utf8');
  const start = markdown.search(/^#+\s+Quick start\s*$/m);
  if (start === -1) return undefined;
  return /```(?:ts|typescript)\n([\s\S]*?)```/.exec(markdown.slice(start))?.[1];
}

function importsOf(code) {
  return [...code.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]).filter((s) => !s.startsWith('.'));
}

/** The same program on Redis: only the backend configuration changes. */
function onRedis(code) {
  if (!/createBackend\(\)/.test(code)) return undefined;
  return code
    .replace(/createBackend\(\)/g, 'createBackendFromEnv()')
    .replace(
      /import \{([^}]*)\bcreateBackend\b([^}]*)\} from '@redbrick\/core';/,
      (_m, a, b) => `import {${a}createBackendFromEnv${b}} from '@redbrick/core';`,
    );
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

async function startRedis() {
  const port = await freePort();
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      if (run('redis-cli', ['-p', String(port), 'ping']).trim() === 'PONG') break;
    } catch {}
    if (Date.now() > deadline) throw new Error('redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url: `redis://127.0.0.1:${port}/0`, stop: () => child.kill('SIGKILL') };
}

function dirSize(path) {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    if (entry.isSymbolicLink()) continue;
    total += entry.isDirectory() ? dirSize(full) : statSync(full).size;
  }
  return total;
}

const tsc = require.resolve('typescript/bin/tsc');
const typesNode = JSON.parse(
  readFileSync(require.resolve('@types/node/package.json'), 'utf8'),
).version;

/** Installs `names` (+ closure) from tarballs into a fresh folder, compiles and runs `program`. */
function consumer(label, names, program, env, extra = {}) {
  const dir = join(work, label.replace(/[^a-z0-9]+/gi, '-'));
  mkdirSync(dir);
  const wanted = closure(names);
  const dependencies = {};
  for (const name of wanted) dependencies[name] = `file:${packages.get(name).tarball}`;
  for (const spec of importsOf(program)) {
    if (spec in THIRD_PARTY) dependencies[spec] = THIRD_PARTY[spec];
  }
  Object.assign(dependencies, extra);
  // Internal ranges (^0.0.0) resolve to the tarballs, never to the registry.
  const overrides = Object.fromEntries(
    [...wanted].map((n) => [n, `file:${packages.get(n).tarball}`]),
  );
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify(
      {
        name: 'consumer',
        private: true,
        type: 'module',
        dependencies,
        devDependencies: { '@types/node': typesNode },
        pnpm: { overrides },
      },
      null,
      2,
    ),
  );
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        outDir: 'dist',
        types: ['node'],
        skipLibCheck: false,
        lib: ['ES2023'],
      },
      include: ['index.ts'],
    }),
  );
  writeFileSync(join(dir, 'index.ts'), program);
  // pnpm's strict layout is the harder test: a package sees only what it declares.
  run(
    'pnpm',
    [
      'install',
      '--ignore-workspace',
      '--ignore-scripts',
      '--reporter=silent',
      '--config.auto-install-peers=false',
    ],
    { cwd: dir },
  );
  run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir });
  const output = run(process.execPath, ['dist/index.js'], {
    cwd: dir,
    env: { ...process.env, ...env },
    timeout: 30_000,
  });
  const tree = readdirSync(join(dir, 'node_modules', '.pnpm'))
    .filter(
      (d) =>
        d !== 'node_modules' &&
        !d.startsWith('lock') &&
        !d.startsWith('@types') &&
        !d.startsWith('undici-types'),
    )
    .map((d) =>
      d.replace(
        /^(@?[^@]+)@(file\+[^_]*|[^_]*).*$/,
        (_m, n, v) => `${n.replace('+', '/')}@${v.startsWith('file+') ? 'tarball' : v}`,
      ),
    );
  const installed = REDIS_CLIENTS.filter((c) =>
    tree.some((t) => t.startsWith(`${c.replace('/', '+')}@`)),
  );
  return {
    dir,
    output,
    installed,
    size: dirSize(join(dir, 'node_modules')) - dirSize(join(dir, 'node_modules', '@types')),
    tree,
  };
}

// --- 2. consumers --------------------------------------------------------------------------
const redis = await startRedis();
const failures = [];
const report = [];
try {
  for (const [name, pkg] of packages) {
    if (NO_PROGRAM.has(name)) continue;
    if (only && !only.some((o) => name.endsWith(`/${o}`))) continue;
    const program = quickStart(pkg);
    if (!program) {
      failures.push(`${name}: README has no "Quick start" ts block`);
      continue;
    }
    const usesRedis = name === '@redbrick/redis-backend';
    const base = usesRedis ? [name] : [name, '@redbrick/memory-backend'];
    try {
      const memory = consumer(
        `${name} memory`,
        base,
        program,
        usesRedis ? { REDIS_URL: redis.url } : {},
      );
      // A package that depends on the Redis backend itself (the CLI) brings its client by design.
      const bringsRedis = closure([name]).has('@redbrick/redis-backend');
      if (!usesRedis && !bringsRedis && memory.installed.length > 0) {
        failures.push(`${name}: a memory-only install pulled in ${memory.installed.join(', ')}`);
      }
      report.push({
        name,
        subset: [...closure(base)].join(' + '),
        lines: memory.output.trim().split('\n').length,
        size: memory.size,
        tree: memory.tree,
      });
      console.log(
        `ok  ${name} quick start on memory (${[...closure(base)].join(', ')}): ${memory.output.trim().replaceAll('\n', ' | ')}`,
      );
      const redisProgram = usesRedis ? undefined : onRedis(program);
      if (redisProgram) {
        // Optional peers a Redis user adds (bullmq for the queue), at the version we test with.
        const peers = Object.keys(pkg.manifest.peerDependenciesMeta ?? {});
        const extra = Object.fromEntries(
          peers.map((p) => [
            p,
            pkg.manifest.devDependencies?.[p] ?? pkg.manifest.peerDependencies[p],
          ]),
        );
        const onRedisBackend = consumer(
          `${name} redis`,
          [name, '@redbrick/redis-backend', '@redbrick/memory-backend'],
          redisProgram,
          { REDIS_URL: redis.url },
          extra,
        );
        console.log(
          `ok  ${name} quick start on Redis (REDIS_URL): ${onRedisBackend.output.trim().replaceAll('\n', ' | ')}`,
        );
      }
    } catch (error) {
      failures.push(`${name}: ${error.message}`);
    }
  }
} finally {
  redis.stop();
}

// --- 3. size report ------------------------------------------------------------------------
console.log('\npackage                      packed     installed (memory subset, without @types)');
for (const [name, pkg] of packages) {
  const row = report.find((r) => r.name === name);
  const packed = `${(statSync(pkg.tarball).size / 1024).toFixed(1)} KiB`;
  const installed = row ? `${(row.size / 1024 / 1024).toFixed(2)} MiB  ${row.subset}` : '-';
  console.log(`${name.padEnd(28)} ${packed.padStart(10)}  ${installed}`);
}
const ratelimit = report.find((r) => r.name === '@redbrick/ratelimit');
if (ratelimit)
  console.log(
    `\nmemory-only install of @redbrick/ratelimit pulls in: ${ratelimit.tree.join(', ')}`,
  );

if (!flags.keep) rmSync(work, { recursive: true, force: true });
else console.log(`\nkept ${work}`);
if (failures.length > 0) {
  console.error(`\nconsumer smoke test FAILED:\n- ${failures.join('\n- ')}`);
  process.exit(1);
}
console.log(`\nconsumer smoke test passed (${report.length} packages)`);
