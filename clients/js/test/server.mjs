// server.mjs - starts a real jwtd for the client's tests and the browser e2e tests: an
// ephemeral port on 127.0.0.1, a temp data dir, users created with `jwtd user create`
// before the server starts, the web UI from web/app. Also a tiny browser-like fetch with a
// cookie jar (Path-aware, Max-Age=0 deletes) that sends Origin on unsafe methods, as a
// browser does, so the client can be tested under Node against jwtd's CSRF check.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const TEST_PASSWORD = 'testpass123';

export function jwtdBin() {
  const p = process.env.JWTD_BIN || 'build/jwtd';
  return isAbsolute(p) ? p : join(ROOT, p);
}

/**
 * Starts jwtd. env: extra JWTD_* settings (undefined removes a default). users: names to create (password testpass123).
 * Resolves to { url, dir, env, cli(args, stdin), stop() }.
 */
export async function startJwtd({ env = {}, users = ['testuser'] } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'jwtd-js-'));
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('JWTD_')));
  const fullEnv = {
    ...base,
    JWTD_LISTEN: '127.0.0.1:0',
    JWTD_WORKERS: '2',
    JWTD_DATA_DIR: dir,
    JWTD_DATABASE_URL: `sqlite:${dir}/jwtd.db`,
    JWTD_SECRET_KEY: 'js-client-test-hs256-secret-0123456789abcdef',
    JWTD_ARGON2_MEMORY_KIB: '64',
    JWTD_ARGON2_ITERATIONS: '1',
    JWTD_ARGON2_PARALLELISM: '1',
    JWTD_RATE_LIMIT_LOGIN: '0',
    JWTD_RATE_LIMIT_ANON: '0',
    JWTD_RATE_LIMIT_USER: '0',
    JWTD_LOG_LEVEL: 'warn',
    JWTD_WEB_DIR: join(ROOT, 'web', 'app'),
    ...env,
  };
  // a setting given as undefined is removed (e.g. JWTD_SECRET_KEY with an asymmetric key)
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const cli = (args, stdin) => {
    const r = spawnSync(jwtdBin(), args, { env: fullEnv, cwd: dir, input: stdin, encoding: 'utf8' });
    if (r.error) throw new Error(`cannot run ${jwtdBin()} (set JWTD_BIN): ${r.error.message}`);
    if (r.status !== 0) throw new Error(`jwtd ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
    return r.stdout;
  };
  try {
    for (const u of users) {
      cli(['user', 'create', u, '--email', `${u}@example.com`, '--password-stdin'], TEST_PASSWORD);
    }
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const proc = spawn(jwtdBin(), ['serve'], { env: fullEnv, cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => {
    stderr += d;
  });
  const url = await new Promise((res, rej) => {
    let out = '';
    const timer = setTimeout(() => rej(new Error('jwtd did not start:\n' + stderr)), 20000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/jwtd listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`jwtd exited (${code}):\n${stderr}`));
    });
  }).catch((e) => {
    proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  const exited = new Promise((res) => proc.on('exit', (code, sig) => res({ code, sig })));
  return {
    url,
    dir,
    env: fullEnv,
    cli,
    stderr: () => stderr,
    async stop() {
      proc.kill('SIGTERM');
      const st = await exited;
      rmSync(dir, { recursive: true, force: true });
      if (st.code !== 0) throw new Error(`jwtd exit ${st.code} ${st.sig}\n${stderr}`);
    },
  };
}

/**
 * A browser-like fetch for Node: one cookie jar (shared by the "tabs" that use it), Origin
 * on unsafe methods. counts[path] counts requests per path.
 */
export function browserFetch(origin) {
  const jar = new Map(); // name -> { value, path }
  const counts = {};
  async function f(input, init = {}) {
    const url = new URL(typeof input === 'string' ? input : input.url, origin);
    const headers = new Headers(init.headers || {});
    const cookies = [...jar.entries()].filter(([, c]) => url.pathname.startsWith(c.path));
    if (cookies.length) headers.set('Cookie', cookies.map(([n, c]) => `${n}=${c.value}`).join('; '));
    const method = (init.method || 'GET').toUpperCase();
    if (!['GET', 'HEAD'].includes(method)) headers.set('Origin', origin);
    counts[url.pathname] = (counts[url.pathname] || 0) + 1;
    const { credentials, ...rest } = init; // eslint-disable-line no-unused-vars
    const res = await fetch(url, { ...rest, headers });
    for (const sc of res.headers.getSetCookie()) {
      const [pair, ...attrs] = sc.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = Object.fromEntries(
        attrs.map((a) => {
          const i = a.indexOf('=');
          return i < 0 ? [a.toLowerCase(), true] : [a.slice(0, i).toLowerCase(), a.slice(i + 1)];
        }),
      );
      if (attr['max-age'] === '0' || value === '') jar.delete(name);
      else jar.set(name, { value, path: attr.path || '/' });
    }
    return res;
  }
  return { fetch: f, jar, counts };
}
