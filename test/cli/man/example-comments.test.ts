/** The example file's comments by key (src/cli/man/example-comments.ts), on a small schema and the real file. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { readExampleDocs } from '../../../src/cli/man/example-comments.ts';
import { bool, duration, list, object, optional, record, required, str, withDefault } from '../../../src/config/schema.ts';
import { configSchema } from '../../../src/config/sections.ts';
import { schemaKeys } from '../../support/config-schema.ts';

const schema = object({
  server: withDefault(
    object({
      listen: withDefault(list(str()), () => []),
      mode: withDefault(str(), '0660'),
      owner: optional(str()),
      group: optional(str()),
      timeout: withDefault(duration(), 1000),
      tls: withDefault(object({ enabled: withDefault(bool(), false), cert: optional(str()) }), () => ({ enabled: false, cert: undefined })),
    }),
    () => ({ listen: [], mode: '0660', owner: undefined, group: undefined, timeout: 1000, tls: { enabled: false, cert: undefined } }),
  ),
  sites: withDefault(list(object({ host: required(str()), port: withDefault(str(), '25') })), () => []),
  domains: withDefault(record(object({ zone: optional(str()) })), () => ({})),
});

const TEXT = `# The file's own header.
# Not about any key.

# ------------------------------------------------ server
server:
  # What the section is for.
  #
  # Where to listen, e.g.
  #   listen: unix:/run/x.sock
  # and more prose: listen: is not a key here.
  listen: []
  # Socket mode; owner and group change it.
  mode: "0660"
  # owner: mail
  # group: mail
  timeout: 5s   # how long to wait

  # tls:
  #   enabled: false              # TLS at all
  #   # The certificate chain, PEM.
  #   cert: /etc/x.pem
sites:
  - # The host name.
    host: mx.example.org
    port: 25                # the port
domains: {}
# domains:
#   example.org:
#     zone: example.org       # the zone
`;

test('each key gets the block above it, or its trailing comment, or shares the one before', (t) => {
  const docs = readExampleDocs(TEXT, schema);
  const text = (path: string) => docs.keys.get(path)?.text;
  t.deepEqual(docs.intros.get('server'), [{ kind: 'prose', text: 'What the section is for.' }], 'before the empty comment line: the section');
  t.deepEqual(text('server.listen'), [
    { kind: 'prose', text: 'Where to listen, e.g.' },
    { kind: 'code', text: 'listen: unix:/run/x.sock' },
    { kind: 'prose', text: 'and more prose: listen: is not a key here.' },
  ]);
  t.deepEqual(text('server.mode'), [{ kind: 'prose', text: 'Socket mode; owner and group change it.' }]);
  t.like(docs.keys.get('server.owner'), { sharesWith: 'server.mode', text: [] });
  t.like(docs.keys.get('server.group'), { sharesWith: 'server.mode' }, 'a chain of sharers shares the first');
  t.deepEqual(text('server.timeout'), [{ kind: 'prose', text: 'how long to wait' }]);
  t.deepEqual(text('server.tls.enabled'), [{ kind: 'prose', text: 'TLS at all' }], 'inside a commented-out block');
  t.deepEqual(text('server.tls.cert'), [{ kind: 'prose', text: 'The certificate chain, PEM.' }], 'a comment inside a commented-out block');
  t.deepEqual(text('sites[].host'), [{ kind: 'prose', text: 'The host name.' }], 'a comment after the dash');
  t.deepEqual(text('sites[].port'), [{ kind: 'prose', text: 'the port' }]);
  t.deepEqual(text('domains.*.zone'), [{ kind: 'prose', text: 'the zone' }], 'under a free key of a record');
  t.is(docs.keys.get('server.listen')?.line, 11);
  t.is(docs.keys.get('server.tls')?.sharesWith, undefined, 'a mapping never shares a scalar\'s text');
});

test('a blank line ends a block unused: the key after it has nothing', (t) => {
  const docs = readExampleDocs('server:\n  # Orphan.\n\n  mode: "0600"\n', schema);
  t.deepEqual(docs.keys.get('server.mode')?.text, []);
  t.is(docs.keys.get('server.mode')?.sharesWith, undefined);
});

test('mailanchor.example.yml: every key of the schema is found where it is set or shown', (t) => {
  const docs = readExampleDocs(readFileSync(new URL('../../../mailanchor.example.yml', import.meta.url), 'utf8'), configSchema);
  const missing = schemaKeys().filter((k) => !docs.keys.has(k.path));
  t.deepEqual(missing.map((k) => k.path), []);
  t.deepEqual(docs.keys.get('milter.listen')?.text.find((p) => p.kind === 'code'), { kind: 'code', text: 'listen: unix:/var/spool/postfix/mailanchor/milter.sock' });
  t.regex(docs.intros.get('dane')?.[0]?.text ?? '', /^DANE TLSA sidecar/);
  t.regex(docs.keys.get('dane.state_dir')?.text[0]?.text ?? '', /^Rollover state/);
});
