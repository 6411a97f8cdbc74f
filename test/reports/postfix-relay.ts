/** The reports tests' Postfix: sendmail → pickup → relay to smtp-sink (the shared harness, no smtpd). */
import { startPostfix, type Postfix } from '../support/postfix.ts';

export { postfixMissing } from '../support/postfix.ts';
export type PostfixRelay = Postfix;

export function startPostfixRelay(relayPort: number): Promise<PostfixRelay> {
  return startPostfix({ relayPort });
}
