/** The shared publishers that need no DNS server: zone fragment (atomic write + reload argv), hook (JSON on stdin), manual. */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hookPublisher, manualPublisher, zoneFilePublisher, PublishError, type RecordSet } from '../../src/publish/publisher.ts';

const set: RecordSet = {
  zone: 'example.test',
  owner: 'dkim:example.test',
  names: ['s1._domainkey.example.test', 'old._domainkey.example.test'],
  records: [{ name: 's1._domainkey.example.test', type: 'TXT', ttl: 300, data: ['v=DKIM1; k=rsa; p=', 'A'.repeat(300).slice(0, 255), 'B'] }],
};

let dir = '';
test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mailanchor-publish-'));
});
test.after.always(() => rm(dir, { recursive: true, force: true }));

test('zone-file: fragment written whole, then the reload command runs (argv, no shell)', async (t) => {
  const file = join(dir, 'frag.zone');
  const marker = join(dir, 'reloaded');
  await zoneFilePublisher({ file, reload: ['/usr/bin/touch', marker] }).publish(set);
  const text = await readFile(file, 'utf8');
  t.regex(text, /^s1\._domainkey\.example\.test\. 300 IN TXT \( "v=DKIM1; k=rsa; p=" "A{255}" "B" \)$/m);
  t.notRegex(text, /old\._domainkey/);
  t.truthy(await readFile(marker, 'utf8').then(() => true));
  const failing = zoneFilePublisher({ file, reload: ['/bin/false'] });
  const err = await t.throwsAsync(failing.publish(set), { instanceOf: PublishError });
  t.is(err?.code, 'reload-failed');
});

test('hook: gets the record set as JSON on stdin; a non-zero exit is an error with its stderr', async (t) => {
  const out = join(dir, 'hook.json');
  const script = join(dir, 'hook.sh');
  await writeFile(script, `#!/bin/sh\ncat > ${out}\n`);
  await chmod(script, 0o755);
  await hookPublisher([script]).publish(set);
  t.deepEqual(JSON.parse(await readFile(out, 'utf8')), { zone: set.zone, owner: set.owner, names: set.names, records: set.records });
  const bad = join(dir, 'bad.sh');
  await writeFile(bad, '#!/bin/sh\necho "provider API said no" >&2\nexit 3\n');
  await chmod(bad, 0o755);
  const err = await t.throwsAsync(hookPublisher([bad]).publish(set), { instanceOf: PublishError });
  t.regex(err?.message ?? '', /exited 3: provider API said no/);
});

test('manual: prints what to publish and says it is manual', async (t) => {
  let text = '';
  const p = manualPublisher((s) => (text += s));
  t.true(p.manual);
  await p.publish(set);
  t.regex(text, /publish in zone example\.test/);
  t.regex(text, /s1\._domainkey\.example\.test\. 300 IN TXT/);
});
