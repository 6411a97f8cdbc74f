/**
 * The README's test command: type-checks, runs every ava test (unit, component and the
 * integration tests against real Postfix, Knot DNS, Unbound, miltertest, python3-dkim …)
 * and ends with the line `N passed, N failed[, N skipped]` that CI reads.
 * Extra arguments go to ava (e.g. a file glob: `npm test -- test/milter/**`).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const args = process.argv.slice(2);
const here = new URL('..', import.meta.url).pathname;

function run(cmd: string, argv: string[], onLine: (line: string) => void): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: here, stdio: ['ignore', 'pipe', 'inherit'], env: process.env });
    createInterface({ input: child.stdout }).on('line', onLine);
    child.on('close', (code) => resolve(code ?? 1));
  });
}

let passed = 0;
let failed = 0;
let skipped = 0;

const tsc = await run(`${here}node_modules/.bin/tsc`, ['--noEmit', '-p', '.'], (l) => console.log(l));
if (tsc === 0) {
  passed++;
  console.log('ok - typecheck (tsc --noEmit)');
} else {
  failed++;
  console.log('not ok - typecheck (tsc --noEmit)');
}

const ava = await run(`${here}node_modules/.bin/ava`, ['--tap', ...args], (line) => {
  console.log(line);
  if (/^ok \d+/.test(line)) {
    if (/# SKIP/i.test(line)) skipped++;
    else passed++;
  } else if (/^not ok \d+/.test(line)) {
    if (/# TODO/i.test(line)) skipped++;
    else failed++;
  }
});
if (ava !== 0 && failed === 0) {
  // ava failed without a failing test line (uncaught error in a test file, timeout …).
  failed++;
  console.log(`not ok - ava exited with code ${ava}`);
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed > 0 ? 1 : 0;
