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
