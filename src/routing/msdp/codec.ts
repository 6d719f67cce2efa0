// SPDX-License-Identifier: MIT
// MSDP messages (RFC 3618 section 12): TLVs of type (1 byte), length (2 bytes, the whole TLV,
// header included) and value, over a TCP stream. Pure functions from bytes to typed messages and
// back, and MsdpReader, which cuts a stream arriving in arbitrary chunks into messages. Parsing
// never throws: a malformed message becomes a named reason, after which the stream cannot be
// trusted to be in step, so the peer resets the session (RFC 3618 section 12: "the connection
// MUST be closed" on a bad TLV is the common practice, FRR's too).
import { addressAt, writeAddress } from '../../lib/ipv4-packet';

export const MSDP_PORT = 639;

export const MSDP_TYPE = {
  sourceActive: 1,
  saRequest: 2,
  saResponse: 3,
  keepAlive: 4,
  /** Reserved in RFC 3618 ("previously: Notification"); still parsed, as its draft defined it. */
  notification: 5,
} as const;

export const MSDP_HEADER = 3;
/** An SA's header: type, length, entry count, RP address. */
const SA_HEADER = 8;
const SA_ENTRY = 12;
/** Sprefix Len of every SA entry: a host route (RFC 3618 12.2.1). */
export const SA_PREFIX_LENGTH = 32;
/**
 * The largest TLV accepted. RFC 3618 sets none beyond the 16-bit length; FRR's pimd caps its
 * stream at 9192 bytes, and a bigger length from a peer is far more likely a stream out of step.
 */
export const MSDP_MAX_MESSAGE = 9192;
/** An SA carries at most 255 entries (8-bit count). */
export const SA_MAX_ENTRIES = 255;

export interface SaEntry {
  source: string;
  group: string;
}

export interface MsdpSourceActive {
  type: 'source_active';
  rp: string;
  entries: SaEntry[];
  /** The encapsulated data packet after the entries, when there is one (not interpreted). */
  data?: Uint8Array;
}

/** SA-Response (type 3) has the SA's format. */
export interface MsdpSaResponse {
  type: 'sa_response';
  rp: string;
  entries: SaEntry[];
  data?: Uint8Array;
}

export interface MsdpSaRequest {
  type: 'sa_request';
  group: string;
}

export interface MsdpKeepAlive {
  type: 'keepalive';
}

export interface MsdpNotification {
  type: 'notification';
  /** The O bit: the sender closes the connection. */
  open: boolean;
  errorCode: number;
  errorSubcode: number;
  data: Uint8Array;
}

export type MsdpMessage = MsdpSourceActive | MsdpSaResponse | MsdpSaRequest | MsdpKeepAlive | MsdpNotification;

export const MSDP_PARSE_ERRORS = [
  /** The length field is below the header, above MSDP_MAX_MESSAGE, or wrong for the type. */
  'bad_length',
  /** An SA's length is too short for its entry count. */
  'truncated_entries',
  'unknown_type',
  /** An SA entry's Sprefix Len is not 32. */
  'bad_prefix_length',
  /** parseMsdpMessage only: fewer bytes than the length field says. */
  'truncated',
] as const;
export type MsdpParseError = (typeof MSDP_PARSE_ERRORS)[number];

export type MsdpParseResult = { ok: true; message: MsdpMessage } | { ok: false; reason: MsdpParseError };

const fail = (reason: MsdpParseError): MsdpParseResult => ({ ok: false, reason });

/**
 * The length a TLV starting with these 3 header bytes must have, or a reason it is unacceptable
 * already: the reader decides from the header alone whether to wait for the body.
 */
function checkHeader(type: number, length: number): MsdpParseError | null {
  if (length < MSDP_HEADER || length > MSDP_MAX_MESSAGE) return 'bad_length';
  switch (type) {
    case MSDP_TYPE.sourceActive:
    case MSDP_TYPE.saResponse:
      return length < SA_HEADER ? 'bad_length' : null;
    case MSDP_TYPE.saRequest:
      return length !== 8 ? 'bad_length' : null;
    case MSDP_TYPE.keepAlive:
      return length !== MSDP_HEADER ? 'bad_length' : null;
    case MSDP_TYPE.notification:
      return length < 5 ? 'bad_length' : null;
    default:
      return 'unknown_type';
  }
}

/** One whole TLV (its length field equal to bytes.length or less; trailing bytes are ignored). */
export function parseMsdpMessage(bytes: Uint8Array): MsdpParseResult {
  if (bytes.length < MSDP_HEADER) return fail('truncated');
  const type = bytes[0] as number;
  const length = ((bytes[1] as number) << 8) | (bytes[2] as number);
  const bad = checkHeader(type, length);
  if (bad) return fail(bad);
  if (bytes.length < length) return fail('truncated');
  const body = bytes.subarray(0, length);
  switch (type) {
    case MSDP_TYPE.sourceActive:
    case MSDP_TYPE.saResponse: {
      const count = body[3] as number;
      if (length < SA_HEADER + count * SA_ENTRY) return fail('truncated_entries');
      const entries: SaEntry[] = [];
      for (let i = 0; i < count; i++) {
        const at = SA_HEADER + i * SA_ENTRY;
        if (body[at + 3] !== SA_PREFIX_LENGTH) return fail('bad_prefix_length');
        entries.push({ group: addressAt(body, at + 4), source: addressAt(body, at + 8) });
      }
      const rp = addressAt(body, 4);
      const end = SA_HEADER + count * SA_ENTRY;
      const message: MsdpSourceActive | MsdpSaResponse = {
        type: type === MSDP_TYPE.sourceActive ? 'source_active' : 'sa_response',
        rp,
        entries,
      };
      if (end < length) message.data = new Uint8Array(body.subarray(end));
      return { ok: true, message };
    }
    case MSDP_TYPE.saRequest:
      return { ok: true, message: { type: 'sa_request', group: addressAt(body, 4) } };
    case MSDP_TYPE.keepAlive:
      return { ok: true, message: { type: 'keepalive' } };
    default: {
      // notification: O bit and error code in one byte, subcode, data
      const first = body[3] as number;
      return {
        ok: true,
        message: {
          type: 'notification',
          open: (first & 0x80) !== 0,
          errorCode: first & 0x7f,
          errorSubcode: body[4] as number,
          data: new Uint8Array(body.subarray(5)),
        },
      };
    }
  }
}

/** The TLV's bytes. Throws RangeError on an unencodable message (bad address, > 255 entries, too long). */
export function encodeMsdpMessage(m: MsdpMessage): Uint8Array {
  let bytes: Uint8Array;
  switch (m.type) {
    case 'source_active':
    case 'sa_response': {
      if (m.entries.length > SA_MAX_ENTRIES) throw new RangeError(`MSDP SA: ${m.entries.length} entries, at most ${SA_MAX_ENTRIES}`);
      const dataLength = m.data?.length ?? 0;
      bytes = new Uint8Array(SA_HEADER + m.entries.length * SA_ENTRY + dataLength);
      bytes[0] = m.type === 'source_active' ? MSDP_TYPE.sourceActive : MSDP_TYPE.saResponse;
      bytes[3] = m.entries.length;
      writeAddress(bytes, 4, m.rp, 'MSDP SA RP address');
      m.entries.forEach((e, i) => {
        const at = SA_HEADER + i * SA_ENTRY;
        bytes[at + 3] = SA_PREFIX_LENGTH;
        writeAddress(bytes, at + 4, e.group, 'MSDP SA group');
        writeAddress(bytes, at + 8, e.source, 'MSDP SA source');
      });
      if (m.data) bytes.set(m.data, SA_HEADER + m.entries.length * SA_ENTRY);
      break;
    }
    case 'sa_request':
      bytes = new Uint8Array(8);
      bytes[0] = MSDP_TYPE.saRequest;
      writeAddress(bytes, 4, m.group, 'MSDP SA-Request group');
      break;
    case 'keepalive':
      bytes = new Uint8Array(MSDP_HEADER);
      bytes[0] = MSDP_TYPE.keepAlive;
      break;
    case 'notification':
      bytes = new Uint8Array(5 + m.data.length);
      bytes[0] = MSDP_TYPE.notification;
      bytes[3] = (m.open ? 0x80 : 0) | (m.errorCode & 0x7f);
      bytes[4] = m.errorSubcode & 0xff;
      bytes.set(m.data, 5);
      break;
  }
  if (bytes.length > MSDP_MAX_MESSAGE) throw new RangeError(`MSDP ${m.type}: ${bytes.length} bytes, at most ${MSDP_MAX_MESSAGE}`);
  bytes[1] = bytes.length >> 8;
  bytes[2] = bytes.length & 0xff;
  return bytes;
}

/** SA messages for these entries, split at SA_MAX_ENTRIES (and so within MSDP_MAX_MESSAGE). */
export function encodeSourceActive(rp: string, entries: readonly SaEntry[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < entries.length; i += SA_MAX_ENTRIES)
    out.push(encodeMsdpMessage({ type: 'source_active', rp, entries: entries.slice(i, i + SA_MAX_ENTRIES) }));
  return out;
}

export type MsdpReadResult = MsdpParseResult;

/**
 * Cuts a TCP stream into MSDP messages. push() takes the next chunk (any size, any boundary) and
 * returns the messages it completed, in order; a malformed one ends the list with its reason, and
 * from then on the reader is failed and returns nothing (the caller resets the session and makes a
 * new reader). Never throws. Buffered bytes are bounded by MSDP_MAX_MESSAGE.
 */
export class MsdpReader {
  private buffer = new Uint8Array(0);
  private failedWith: MsdpParseError | null = null;

  get failed(): MsdpParseError | null {
    return this.failedWith;
  }

  /** Bytes held waiting for the rest of a message. */
  get pending(): number {
    return this.buffer.length;
  }

  push(chunk: Uint8Array): MsdpReadResult[] {
    if (this.failedWith) return [];
    let data: Uint8Array;
    if (this.buffer.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.buffer.length + chunk.length);
      data.set(this.buffer);
      data.set(chunk, this.buffer.length);
    }
    const out: MsdpReadResult[] = [];
    let at = 0;
    while (data.length - at >= MSDP_HEADER) {
      const type = data[at] as number;
      const length = ((data[at + 1] as number) << 8) | (data[at + 2] as number);
      const bad = checkHeader(type, length);
      if (bad) return this.fail(out, bad);
      if (data.length - at < length) break;
      const result = parseMsdpMessage(data.subarray(at, at + length));
      if (!result.ok) return this.fail(out, result.reason);
      out.push(result);
      at += length;
    }
    // copy the remainder (new Uint8Array copies; Buffer's slice would not): the chunk belongs to
    // the caller, and a socket's Buffer may be pooled
    this.buffer = new Uint8Array(data.subarray(at));
    return out;
  }

  private fail(out: MsdpReadResult[], reason: MsdpParseError): MsdpReadResult[] {
    this.failedWith = reason;
    this.buffer = new Uint8Array(0);
    out.push({ ok: false, reason });
    return out;
  }
}
