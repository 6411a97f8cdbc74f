/**
 * A trivial filter for tests and benchmarks, not a product feature: adds
 * `X-Mailanchor-Test: <session id>` to every message and accepts it.
 */
import type { FilterFactory } from './filter.ts';

export const TEST_HEADER = 'X-Mailanchor-Test';

export function createTestHeaderFilterFactory(): FilterFactory {
  return {
    name: 'test-header',
    requirements: { actions: ['add-header'], stages: [], noReplyStages: [], macros: { eom: ['i'] } },
    create(ctx) {
      return {
        endOfMessage: () => ({
          verdict: { kind: 'continue' },
          modifications: [{ kind: 'add-header', name: TEST_HEADER, value: ctx.sessionId }],
          summary: { test_header: true },
        }),
      };
    },
  };
}
