/**
 * Option negotiation, pure: the MTA's offer × what the filter declared → our SMFIC_OPTNEG
 * answer. We ask only for what is used: actions the filter may emit, stages it implements
 * (SMFIP_NO* for the rest), no-reply for stages whose verdict is always `continue`
 * (SMFIP_NR_*), SMFIP_HDR_LEADSPC so header values are byte-exact, and macro lists per stage.
 */
import { MILTER_VERSION, SMFIF, SMFIM, SMFIP, flagNames } from './constants.ts';
import { MilterProtocolError } from './errors.ts';
import type { ActionName, FilterRequirements, Stage } from './filter.ts';

export const ACTION_BITS: Readonly<Record<ActionName, number>> = {
  'add-header': SMFIF.ADDHDRS,
  'change-header': SMFIF.CHGHDRS,
  'change-body': SMFIF.CHGBODY,
  'add-rcpt': SMFIF.ADDRCPT,
  'delete-rcpt': SMFIF.DELRCPT,
  quarantine: SMFIF.QUARANTINE,
  'change-from': SMFIF.CHGFROM,
};

/** Stage → the SMFIP bit that switches it off, and the one that makes it no-reply. */
const STAGE_BITS: ReadonlyArray<readonly [Stage, number, number]> = [
  ['connect', SMFIP.NOCONNECT, SMFIP.NR_CONN],
  ['helo', SMFIP.NOHELO, SMFIP.NR_HELO],
  ['mail', SMFIP.NOMAIL, SMFIP.NR_MAIL],
  ['rcpt', SMFIP.NORCPT, SMFIP.NR_RCPT],
  ['data', SMFIP.NODATA, SMFIP.NR_DATA],
  ['header', SMFIP.NOHDRS, SMFIP.NR_HDR],
  ['eoh', SMFIP.NOEOH, SMFIP.NR_EOH],
  ['body', SMFIP.NOBODY, SMFIP.NR_BODY],
  ['unknown', SMFIP.NOUNKNOWN, SMFIP.NR_UNKN],
];

const MACRO_STAGES = {
  connect: SMFIM.CONNECT,
  helo: SMFIM.HELO,
  mail: SMFIM.ENVFROM,
  rcpt: SMFIM.ENVRCPT,
  data: SMFIM.DATA,
  eoh: SMFIM.EOH,
  eom: SMFIM.EOM,
} as const;

/** Always asked for: the queue id for the per-message log line. */
const ALWAYS_MACROS: FilterRequirements['macros'] = { eom: ['i'], mail: ['i'] };

export interface Negotiated {
  readonly version: number;
  readonly actions: number;
  readonly protocol: number;
  /** Macro requests per SMFIM stage; empty when the MTA cannot take them (no SETSYMLIST). */
  readonly macros: ReadonlyArray<readonly [number, string]>;
  /** Stages the MTA will send without waiting for a reply. */
  readonly noReply: ReadonlySet<Stage>;
  /** Stages switched off (SMFIP_NO*): the MTA will not send them at all. */
  readonly off: ReadonlySet<Stage>;
  readonly leadingSpace: boolean;
}

export function actionsMask(actions: readonly ActionName[]): number {
  return actions.reduce((m, a) => m | ACTION_BITS[a], 0);
}

export function negotiate(offer: { version: number; actions: number; protocol: number }, req: FilterRequirements): Negotiated {
  if (offer.version < 2) {
    throw new MilterProtocolError('negotiation-failed', `MTA speaks milter version ${offer.version}; version 6 is needed`, { version: offer.version });
  }
  const wantActions = actionsMask(req.actions);
  const missing = wantActions & ~offer.actions;
  if (missing) {
    throw new MilterProtocolError('negotiation-failed', `MTA does not offer actions ${flagNames(missing, SMFIF).join(',')}`, { offered: flagNames(offer.actions, SMFIF), version: offer.version, actions: offer.actions, protocol: offer.protocol });
  }
  const stages = new Set<Stage>(req.stages);
  const noReplyWanted = new Set<Stage>(req.noReplyStages);
  let protocol = 0;
  const noReply = new Set<Stage>();
  for (const [stage, offBit, nrBit] of STAGE_BITS) {
    if (!stages.has(stage)) {
      if (offer.protocol & offBit) protocol |= offBit;
      // A stage we do not use but the MTA will still send: no reply needed either.
      if (offer.protocol & nrBit) {
        protocol |= nrBit;
        noReply.add(stage);
      }
    } else if (noReplyWanted.has(stage) && offer.protocol & nrBit) {
      protocol |= nrBit;
      noReply.add(stage);
    }
  }
  // A stage switched off need not be no-reply; keep only one of the two bits per stage.
  for (const [stage, offBit, nrBit] of STAGE_BITS) {
    if (protocol & offBit && protocol & nrBit) {
      protocol &= ~nrBit;
      noReply.delete(stage);
    }
  }
  const leadingSpace = (offer.protocol & SMFIP.HDR_LEADSPC) !== 0;
  if (leadingSpace) protocol |= SMFIP.HDR_LEADSPC;

  let actions = wantActions;
  const macros: Array<readonly [number, string]> = [];
  if (offer.actions & SMFIF.SETSYMLIST && offer.version >= 6) {
    for (const [stage, code] of Object.entries(MACRO_STAGES) as Array<[keyof typeof MACRO_STAGES, number]>) {
      const names = new Set([...(ALWAYS_MACROS[stage] ?? []), ...(req.macros[stage] ?? [])]);
      if (names.size) macros.push([code, [...names].map(macroRequestName).join(' ')]);
    }
    if (macros.length) actions |= SMFIF.SETSYMLIST;
  }
  const off = new Set<Stage>(STAGE_BITS.filter(([, offBit]) => protocol & offBit).map(([stage]) => stage));
  return { version: Math.min(offer.version, MILTER_VERSION), actions, protocol, macros, noReply, off, leadingSpace };
}

/** `auth_authen` or `{auth_authen}` → `{auth_authen}`; one-letter macros stay bare. */
function macroRequestName(name: string): string {
  if (name.startsWith('{')) return name;
  return name.length === 1 ? name : `{${name}}`;
}
