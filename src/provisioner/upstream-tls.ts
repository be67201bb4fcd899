/**
 * How phigate speaks TLS to a protected database: verify-full always (`rejectUnauthorized` stays on), so only the CA,
 * the name to verify and a client certificate may be given. Shared by the provisioning pools and the gateway's
 * logins as a grant's role; it lives here, below both, so that no import points from the provisioner to the gateway.
 */
import type { ConnectionOptions } from 'node:tls';

export type UpstreamTls = Pick<ConnectionOptions, 'ca' | 'servername' | 'cert' | 'key'>;
