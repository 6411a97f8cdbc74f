/**
 * Every SMTP reply mailanchor makes, in one place: code, RFC 3463 enhanced status, and a text
 * a sender's postmaster can act on. Filters and the milter session take replies from here;
 * nothing else writes reply text.
 */
import type { SmtpReply } from '../milter/filter.ts';

export const REPLIES = {
  /** RFC 9989 §… "reject": 550 5.7.1, the text names the domain whose policy failed. */
  dmarcReject: (policyDomain: string): SmtpReply => ({
    code: 550,
    enhanced: '5.7.1',
    text: `Message rejected: DMARC policy of ${policyDomain} (p=reject) failed: not authenticated by an aligned SPF or DKIM`,
  }),
  /** Several From authors in different domains: DMARC cannot say whose policy applies. */
  severalAuthors: (): SmtpReply => ({ code: 550, enhanced: '5.7.1', text: 'Message rejected: several From authors (RFC 5322, DMARC)' }),
  /** No From domain we can evaluate DMARC for (no From, or no parseable address). */
  noAuthor: (why: string): SmtpReply => ({ code: 550, enhanced: '5.7.1', text: `Message rejected: no usable From author domain (${why})` }),
  /** A check that could have produced an aligned pass hit a DNS failure: the sender retries. */
  dmarcTemperror: (domain: string): SmtpReply => ({ code: 451, enhanced: '4.7.1', text: `DMARC check for ${domain} failed temporarily (DNS); try again later` }),
  /** The filter itself failed or timed out (milter.on_filter_error = tempfail). */
  filterFailure: (): SmtpReply => ({ code: 451, enhanced: '4.3.0', text: 'temporary mail filter failure, try again later' }),
  /** Our own mail while the keystore cannot be read (outbound.on_keystore_error = tempfail). */
  keysUnavailable: (): SmtpReply => ({ code: 451, enhanced: '4.3.0', text: 'signing keys unavailable, try again later' }),
} as const;
