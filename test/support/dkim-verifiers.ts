/** Independent DKIM verifiers for tests: python3-dkim (Debian) and mailauth, with the key records handed in. */
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** `{ 'sel._domainkey.example.test': 'v=DKIM1; k=rsa; p=…' }` */
export type KeyRecords = Readonly<Record<string, string>>;

const PY = `
import sys, json, dkim
records = json.loads(sys.argv[1])
msg = sys.stdin.buffer.read()
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return records.get(n.rstrip('.'), '').encode()
d = dkim.DKIM(msg)
results = []
for i in range(len([l for l in msg.split(b'\\r\\n\\r\\n')[0].split(b'\\r\\n') if l.lower().startswith(b'dkim-signature:')])):
    try:
        results.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
    except dkim.ValidationError:
        results.append(False)
print(json.dumps(results))
`;

/** python3-dkim's verdict for each DKIM-Signature (top first). */
export function pythonDkimVerify(message: Buffer, records: KeyRecords): Promise<boolean[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PY, JSON.stringify(records)], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } }, (err, stdout, stderr) =>
      err ? reject(new Error(`python3-dkim: ${stderr}`)) : resolve(JSON.parse(stdout) as boolean[]),
    );
    child.stdin!.end(message);
  });
}

/** mailauth's per-signature results. */
export async function mailauthVerify(message: Buffer, records: KeyRecords): Promise<string[]> {
  const { dkimVerify } = require('mailauth') as { dkimVerify(m: Buffer, o: object): Promise<{ results: Array<{ status: { result: string } }> }> };
  const resolver = async (name: string): Promise<string[][]> => {
    const v = records[name.replace(/\.$/, '')];
    if (!v) throw Object.assign(new Error('no record'), { code: 'ENOTFOUND' });
    return [[v]];
  };
  const r = await dkimVerify(message, { resolver });
  return r.results.map((x) => x.status.result);
}

const PY_DNS = `
import sys, json, dkim, dns.resolver
r = dns.resolver.Resolver(configure=False)
r.nameservers = [sys.argv[1]]
r.port = int(sys.argv[2])
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    try:
        a = r.resolve(n, 'TXT', lifetime=timeout)
    except Exception:
        return b''
    return b''.join(b''.join(rr.strings) for rr in a)
msg = sys.stdin.buffer.read()
d = dkim.DKIM(msg)
n = len([l for l in msg.split(b'\\r\\n\\r\\n')[0].split(b'\\r\\n') if l.lower().startswith(b'dkim-signature:')])
results = []
for i in range(n):
    try:
        results.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
    except dkim.ValidationError:
        results.append(False)
print(json.dumps(results))
`;

/** python3-dkim's verdict for each DKIM-Signature, keys read from a DNS server (dnspython, no cache). */
export function pythonDkimVerifyDns(message: Buffer, server: { readonly host: string; readonly port: number }): Promise<boolean[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PY_DNS, server.host, String(server.port)], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`python3-dkim: ${stderr}`)) : resolve(JSON.parse(stdout) as boolean[]),
    );
    child.stdin!.end(message);
  });
}

const PY_BATCH_VERIFY = `
import sys, json, base64, dkim
job = json.load(sys.stdin)
records = job['records']
def dnsfunc(name, timeout=5):
    n = (name.decode() if isinstance(name, bytes) else name).rstrip('.')
    v = records.get(n)
    if v == '!SERVFAIL':
        raise Exception('servfail')
    return (v or '').encode()
out = []
for m in job['messages']:
    msg = base64.b64decode(m)
    res = []
    try:
        d = dkim.DKIM(msg, minkey=job['minkey'])
        n = len([h for h in d.headers if h[0].lower() == b'dkim-signature'])
    except Exception:
        out.append([])
        continue
    for i in range(n):
        try:
            res.append(bool(d.verify(idx=i, dnsfunc=dnsfunc)))
        except Exception:
            res.append(False)
    out.append(res)
print(json.dumps(out))
`;

/**
 * python3-dkim's verdict for each DKIM-Signature of many messages in one process (top first),
 * keys from `records` (a value of `!SERVFAIL` raises, as a DNS failure would).
 */
export function pythonDkimVerifyBatch(messages: readonly Buffer[], records: KeyRecords, minkey = 1024): Promise<boolean[][]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PY_BATCH_VERIFY], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`python3-dkim: ${stderr}`)) : resolve(JSON.parse(stdout) as boolean[][]),
    );
    child.stdin!.end(JSON.stringify({ records, minkey, messages: messages.map((m) => m.toString('base64')) }));
  });
}

export interface PythonSignJob {
  readonly message: Buffer;
  readonly selector: string;
  readonly domain: string;
  /** PEM (RSA) or base64 of the 32-octet seed (Ed25519), as dkimpy takes them. */
  readonly privateKey: string;
  readonly algorithm: 'rsa-sha256' | 'rsa-sha1' | 'ed25519-sha256';
  readonly canonicalization: string;
  readonly headers?: readonly string[];
  readonly identity?: string;
  /** l= over the whole body (dkimpy `length=True`). */
  readonly length?: boolean;
}

const PY_BATCH_SIGN = `
import sys, json, base64, dkim
out = []
for j in json.load(sys.stdin):
    msg = base64.b64decode(j['message'])
    h, b = j['canonicalization'].split('/')
    sig = dkim.sign(msg, j['selector'].encode(), j['domain'].encode(), j['privateKey'].encode(),
        identity=j['identity'].encode() if j.get('identity') else None,
        canonicalize=(h.encode(), b.encode()), signature_algorithm=j['algorithm'].encode(),
        include_headers=[x.encode() for x in j['headers']] if j.get('headers') else None,
        length=bool(j.get('length')))
    out.append(base64.b64encode(sig + msg).decode())
print(json.dumps(out))
`;

/** Messages signed by python3-dkim's `dkim.sign` (the DKIM-Signature prepended), in one process. */
export function pythonDkimSignBatch(jobs: readonly PythonSignJob[]): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', PY_BATCH_SIGN], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, maxBuffer: 64 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`python3-dkim: ${stderr}`)) : resolve((JSON.parse(stdout) as string[]).map((s) => Buffer.from(s, 'base64'))),
    );
    child.stdin!.end(JSON.stringify(jobs.map((j) => ({ ...j, message: j.message.toString('base64') }))));
  });
}
