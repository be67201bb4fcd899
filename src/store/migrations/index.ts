/**
 * Every migration, in order. Migrations are code in the package (not files found at run time), so a built phigate
 * carries exactly the schema history it was tested with. Never edit a released migration; add the next one.
 */
import type { Migration } from 'kysely';
import * as controlPlane from './0001-control-plane.js';
import * as tamperEvidentAudit from './0002-tamper-evident-audit.js';
import * as personKeys from './0003-person-keys.js';
import * as requestPatientsFound from './0004-request-patients-found.js';
import * as writerFrontier from './0005-writer-frontier.js';
import * as alertDelivery from './0006-alert-delivery.js';

export const migrations: Readonly<Record<string, Migration>> = Object.freeze({
  '0001-control-plane': controlPlane,
  '0002-tamper-evident-audit': tamperEvidentAudit,
  '0003-person-keys': personKeys,
  '0004-request-patients-found': requestPatientsFound,
  '0005-writer-frontier': writerFrontier,
  '0006-alert-delivery': alertDelivery,
});
