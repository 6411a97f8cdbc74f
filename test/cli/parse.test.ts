/**
 * Every command and subcommand, through `mailanchor` in-process: `--help`, `-h` and `help`
 * answer with exit 0 and the usage on stdout; an unknown option exits 64 (the audit: 2,
 * its contract) with the usage on stderr and nothing on stdout; every option the spec lists
 * is accepted, as given in the help; and no command parses argv any other way.
 */
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isExitCode } from '../../src/cli/exit-codes.ts';
import { leafHelp, leafOptions, programName, usageExit } from '../../src/cli/help.ts';
import { main, MODULES } from '../../src/cli/main.ts';
import { parseArgsOptions, parseCommand } from '../../src/cli/parse.ts';
import { COMMANDS } from '../../src/cli/specs/index.ts';
import { captureIo } from '../support/cli-io.ts';
import { groups, leaves } from './leaves.ts';

async function mailanchor(...argv: string[]) {
  const io = captureIo();
  const code = await main(argv, io);
  return { code, out: io.out(), err: io.err() };
}

test('every command and subcommand answers --help, -h and help with exit 0 and its usage on stdout', async (t) => {
  for (const leaf of leaves()) {
    const usage = `usage: ${programName(leaf.inv)}`;
    const help = await mailanchor(...leaf.argv, '--help');
    t.is(help.code, 0, `${leaf.name} --help: ${help.err}`);
    t.true(help.out.startsWith(usage), `${leaf.name}: ${help.out.split('\n')[0]}`);
    t.regex(help.out, /\nOptions:\n[\s\S]*\nExit status:\n/, leaf.name);
    t.is(help.err, '', leaf.name);
    t.is((await mailanchor(...leaf.argv, '-h')).out, help.out, `${leaf.name} -h`);
    t.is(help.out, leafHelp(leaf.inv));
    if (leaf.inv.parent) {
      const [command] = leaf.argv;
      t.is((await mailanchor(command!, 'help', leaf.inv.spec.name)).out, help.out, `${command} help ${leaf.inv.spec.name}`);
      t.is((await mailanchor('help', command!, leaf.inv.spec.name)).out, help.out, `help ${command} ${leaf.inv.spec.name}`);
    } else {
      t.is((await mailanchor('help', leaf.argv[0]!)).out, help.out);
    }
  }
  for (const g of groups()) {
    for (const argv of [[g.name, '--help'], [g.name, '-h'], [g.name, 'help'], ['help', g.name]]) {
      const r = await mailanchor(...argv);
      t.is(r.code, 0, argv.join(' '));
      t.true(r.out.startsWith('usage: mailanchor '), r.out);
      t.regex(r.out, /\nSubcommands:\n/);
      for (const s of g.subcommands!) t.regex(r.out, new RegExp(`\\n  ${s.name}\\b`), `${g.name} lists ${s.name}`);
    }
  }
});

test('the two commands issue 13 found broken: check-config --help and report read --help', async (t) => {
  const cc = await mailanchor('check-config', '--help');
  t.is(cc.code, 0);
  t.regex(cc.out, /^usage: mailanchor check-config /);
  const read = await mailanchor('report', 'read', '--help');
  t.is(read.code, 0);
  t.regex(read.out, /^usage: mailanchor report read [^\n]*(\n {30}[^\n]*)* PATH…\n/);
});

test('an unknown option exits 64 (audit: 2) with the reason and the usage on stderr, nothing on stdout', async (t) => {
  for (const leaf of leaves()) {
    const r = await mailanchor(...leaf.argv, '--no-such-option');
    t.is(r.code, usageExit(leaf.inv), leaf.name);
    t.is(r.code, leaf.name === 'audit' ? 2 : 64, leaf.name);
    t.is(r.out, '', leaf.name);
    t.regex(r.err, /Unknown option '--no-such-option'/, leaf.name);
    t.regex(r.err, new RegExp(`\\nusage: ${programName(leaf.inv).replace(/-/g, '\\-')}`), `${leaf.name}: ${r.err}`);
  }
  for (const g of groups()) {
    const r = await mailanchor(g.name, 'no-such-subcommand');
    if (g.defaultSubcommand) continue; // `tlsa FILE` is the default form: a file name, not a subcommand
    t.is(r.code, 64, g.name);
    t.regex(r.err, /unknown subcommand "no-such-subcommand"/);
    t.regex(r.err, /^usage: mailanchor /m);
  }
  const top = await mailanchor('no-such-command');
  t.is(top.code, 64);
  t.regex(top.err, /unknown command "no-such-command"/);
  const none = await mailanchor();
  t.is(none.code, 64);
  t.regex(none.err, /^usage: mailanchor <command>/);
  t.is((await mailanchor('help', 'keys', 'no-such-subcommand')).code, 64);
});

test('every option the spec lists is accepted, long and short, and nothing else is given to parseArgs', async (t) => {
  for (const leaf of leaves()) {
    const options = leafOptions(leaf.inv);
    t.deepEqual(Object.keys(parseArgsOptions(options)).sort(), [...new Set([...Object.keys(leaf.inv.spec.options ?? {}), ...Object.keys(leaf.inv.parent?.options ?? {}), 'help'])].sort(), leaf.name);
    for (const [name, o] of Object.entries(options)) {
      if (name === 'help' || name === leaf.inv.spec.selectedBy) continue;
      const forms = [[`--${name}`], ...(o.short ? [[`-${o.short}`]] : [])];
      for (const form of forms) {
        const given = o.type === 'string' ? [...form, 'x'] : form;
        const args = o.multiple ? [...given, ...given] : given;
        const r = await mailanchor(...leaf.argv, ...args, '--help');
        t.is(r.code, 0, `${leaf.name} ${args.join(' ')}: ${r.err}`);
        t.true(r.out.includes(`--${name}`), `${leaf.name}: --${name} is in its help`);
      }
    }
  }
});

test('no command parses its argv itself: parseArgs is called in parse.ts only', (t) => {
  const dir = new URL('../../src/cli/', import.meta.url).pathname;
  const files = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(d, e.name)) : e.name.endsWith('.ts') ? [join(d, e.name)] : []));
  const callers = files(dir).filter((f) => /\bparseArgs\s*\(/.test(readFileSync(f, 'utf8')));
  t.deepEqual(callers.map((f) => f.slice(dir.length)), ['parse.ts']);
});

test('the specs are complete and consistent', (t) => {
  t.deepEqual(Object.keys(MODULES).sort(), COMMANDS.map((c) => c.name).sort(), 'a module per command');
  for (const leaf of leaves()) {
    for (const [name, o] of Object.entries(leafOptions(leaf.inv))) {
      t.true(/^[a-z][a-z0-9-]*$/.test(name), `${leaf.name} --${name}`);
      t.true(o.help.length > 10 && o.help.trim() === o.help, `${leaf.name} --${name} has help`);
      t.is(o.type === 'string', o.arg !== undefined, `${leaf.name} --${name}: a string option names its argument, a boolean none`);
    }
    const exits = leaf.inv.spec.exits ?? leaf.inv.parent?.exits ?? [];
    t.true(exits.some((e) => e.code === 0), `${leaf.name} says what 0 means`);
    for (const e of exits) t.true(isExitCode(e.code) && e.meaning.length > 3, `${leaf.name}: ${e.code}`);
    t.true(leaf.inv.spec.summary.length <= 80, leaf.name);
  }
  for (const g of groups()) {
    // One name, one type, in every subcommand: the parsed values are shared.
    const seen = new Map<string, string>();
    for (const s of g.subcommands!) {
      for (const [name, o] of Object.entries({ ...s.options, ...g.options })) {
        const shape = `${o.type}${o.multiple ? '[]' : ''}`;
        t.is(seen.get(name) ?? shape, shape, `${g.name} --${name}`);
        seen.set(name, shape);
      }
    }
    t.is(new Set(g.subcommands!.map((s) => s.name)).size, g.subcommands!.length);
  }
});

test('help lines fit 80 columns', async (t) => {
  for (const leaf of leaves()) {
    for (const line of leafHelp(leaf.inv).split('\n')) t.true(line.length <= 80, `${leaf.name}: ${line}`);
  }
});

test('shared options go before or after the subcommand; the default and selected subcommands', (t) => {
  const report = COMMANDS.find((c) => c.name === 'report')!;
  for (const argv of [['--config', 'f.yml', 'send', '--dry-run'], ['send', '--config=f.yml', '--dry-run'], ['send', '--dry-run', '--config', 'f.yml']]) {
    const p = parseCommand(report, argv);
    t.is(p.kind, 'run', argv.join(' '));
    if (p.kind === 'run') t.like(p, { sub: 'send', values: { config: 'f.yml', 'dry-run': true } });
  }
  const tlsa = COMMANDS.find((c) => c.name === 'tlsa')!;
  const compute = parseCommand(tlsa, ['--host', 'mx.example.org', 'chain.pem']);
  t.like(compute, { kind: 'run', sub: 'compute', positionals: ['chain.pem'] });
  t.like(parseCommand(tlsa, ['compute', 'chain.pem']), { kind: 'run', sub: 'compute', positionals: ['chain.pem'] });
  t.like(parseCommand(tlsa, ['--deploy-check', 'new.pem', '--host', 'mx.example.org']), { kind: 'run', sub: 'deploy-check', values: { 'deploy-check': 'new.pem' } });
  t.like(parseCommand(tlsa, ['--help']), { kind: 'help' });
  // An option of another subcommand is not one of this one.
  t.like(parseCommand(tlsa, ['check', 'mx.example.org', '--next', 'x.pem']), { kind: 'usage', exit: 64 });
  // `--` ends the options: what follows is an operand, even `--help`.
  t.like(parseCommand(tlsa, ['compute', '--', '--help']), { kind: 'run', positionals: ['--help'] });
});
