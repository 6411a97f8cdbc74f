/** The gzip attachment of a report message we generated, read with the same MIME parser `report read` uses. */
import { mailParts } from '../../src/reports/read/mail-attachments.ts';

export async function gzipAttachment(raw: Uint8Array): Promise<{ fileName: string; data: Buffer } | undefined> {
  const { parts } = await mailParts(raw, 'message');
  const p = parts.find((x) => x.mimeType === 'application/gzip');
  return p && { fileName: p.name, data: p.data };
}
