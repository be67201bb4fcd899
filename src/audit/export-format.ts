/**
 * The export formats besides the archive (export-jsonl.ts): FHIR R4 AuditEvent resources as NDJSON (the FHIR bulk
 * data convention) and CSV for spreadsheets. Both are renderings for people and other systems; the JSONL archive is
 * the one that verifies. Neither carries a raw bidirectional override or C1 control from a justification: FHIR's
 * JSON writes them as \u escapes (lib/inert-json.ts), CSV as visible escapes (export/safe-text.ts).
 */
import { inertJson } from '../lib/inert-json.js';
import type { Db } from '../store/database.js';
import { parseStored } from './event-query.js';
import { CSV_HEADER, csvRow } from './export/csv.js';
import { toFhirAuditEvent } from './export/fhir-audit-event.js';
import { readEvents } from './store-reader.js';

export const EXPORT_FORMATS = ['jsonl', 'fhir', 'csv'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export async function* exportLinesOf(db: Db, format: 'fhir' | 'csv', origin: string): AsyncGenerator<string> {
  if (format === 'csv') yield CSV_HEADER;
  for await (const page of readEvents(db)) {
    yield page
      .map((raw) => {
        const event = parseStored(raw.seq, raw.canonical);
        return format === 'csv'
          ? csvRow(event)
          : `${inertJson(JSON.stringify(toFhirAuditEvent(event, { observer: origin })))}\n`;
      })
      .join('');
  }
}
