/**
 * An independent ARC implementation for tests (owner: arc): Debian's python3-dkim
 * (dkimpy, `dkim.arc_verify` / `dkim.arc_sign`; sealing needs python3-authres), run with
 * Debian's /usr/bin/python3 and the key records handed in, no DNS.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';

/** `{ 'sel._domainkey.example.test': 'v=DKIM1; k=rsa; p=…' }` */
export type KeyRecords = Readonly<Record<string, string>>;

/** Why the oracle cannot run here, or undefined. */
export function arcOracleMissing(): string | undefined {
  if (!existsSync('/usr/bin/python3')) return '/usr/bin/python3 not found';
  if (!existsSync('/usr/lib/python3/dist-packages/dkim/__init__.py')) return 'python3-dkim not installed';
  if (!existsSync('/usr/lib/python3/dist-packages/authres')) return 'python3-authres not installed';
  return undefined;
}

const VERIFY = `
import sys, json, dkim
records = json.loads(sys.argv[1])
def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return records.get(n.rstrip('.').lower(), '').encode()
cv, results, reason = dkim.arc_verify(sys.stdin.buffer.read(), dnsfunc=dnsfunc)
print(json.dumps({
  'cv': cv.decode() if isinstance(cv, bytes) else cv,
  'reason': reason,
  'instances': [{'instance': r['instance'], 'ams': bool(r.get('ams-valid')), 'as': bool(r.get('as-valid')), 'cv': r['cv'].decode()} for r in results],
}))
`;

const SIGN = `
import sys, json, dkim
a = json.loads(sys.argv[1])
out = dkim.arc_sign(sys.stdin.buffer.read(), a['selector'].encode(), a['domain'].encode(), a['key'].encode(), a['srv_id'].encode(),
                    include_headers=[h.encode() for h in a['headers']], timestamp=a['timestamp'])
print(json.dumps([h.decode('latin1') for h in out]))
`;

function python<T>(script: string, arg: string, input: Buffer): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = execFile('/usr/bin/python3', ['-c', script, arg], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' }, maxBuffer: 1 << 22 }, (err, stdout, stderr) =>
      err ? reject(new Error(`python3-dkim: ${stderr || err.message}`)) : resolve(JSON.parse(stdout) as T),
    );
    child.stdin!.end(input);
  });
}

export interface PythonArcVerdict {
  /** 'pass' | 'fail' | 'none', or null when dkimpy says the chain was terminated by a cv=fail seal. */
  readonly cv: 'pass' | 'fail' | 'none' | null;
  readonly reason: string;
  readonly instances: readonly { instance: number; ams: boolean; as: boolean; cv: string }[];
}

/** dkimpy's chain validation of a whole message (CRLF). */
export function pythonArcVerify(message: Buffer, records: KeyRecords): Promise<PythonArcVerdict> {
  return python(VERIFY, JSON.stringify(Object.fromEntries(Object.entries(records).map(([k, v]) => [k.toLowerCase(), v]))), message);
}

/** dkimpy's ARC set for the next instance (header lines `Name: value\\r\\n`, top first); empty when it would not seal. */
export function pythonArcSign(message: Buffer, o: { selector: string; domain: string; privateKeyPem: string; srvId: string; headers: readonly string[]; timestamp: number }): Promise<string[]> {
  return python(SIGN, JSON.stringify({ selector: o.selector, domain: o.domain, key: o.privateKeyPem, srv_id: o.srvId, headers: o.headers, timestamp: o.timestamp }), message);
}
