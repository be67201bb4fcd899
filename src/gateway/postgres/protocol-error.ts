/**
 * A violation of the PostgreSQL v3 protocol by the peer. It carries the SQLSTATE the gateway answers with
 * (08P01 protocol_violation unless said otherwise) and a message safe to show the client: it names what was wrong,
 * never echoes the bytes.
 */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
  constructor(
    message: string,
    readonly sqlState = '08P01',
  ) {
    super(message);
  }
}
