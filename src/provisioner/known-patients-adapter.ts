/**
 * Whether named patients exist, looked up through the provisioning account of each protected database (the same
 * upstreams the gateway and care-relation look-ups use). A resource phigate has no provisioning account for cannot be
 * asked — nor reached through the gateway, so a grant on it has nothing to disclose.
 */
import type { PatientDirectory } from '../access/types.js';
import { isPhigateError } from '../lib/errors.js';
import { countKnownPatients, patientKeyColumns } from './known-patients.js';
import type { Upstream, Upstreams } from './upstreams.js';

export function createPatientDirectory(upstreams: Pick<Upstreams, 'get'>): PatientDirectory {
  return {
    async countExisting(resource, role, ids) {
      const keys = patientKeyColumns(resource, role);
      if (keys.length === 0) return undefined;
      let upstream: Upstream;
      try {
        upstream = upstreams.get(resource);
      } catch (err) {
        if (isPhigateError(err) && err.code === 'gateway.resource-unconfigured') return undefined;
        throw err;
      }
      return countKnownPatients(upstream.lookups(), keys, ids);
    },
  };
}
