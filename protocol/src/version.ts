/**
 * The wire protocol version carried in the `v` field of every message.
 * A receiver rejects any other value with `UNSUPPORTED_VERSION`; a future version bump
 * will be accepted side by side during migration, never silently reinterpreted.
 */
export const PROTOCOL_VERSION = 1 as const;
export type ProtocolVersion = typeof PROTOCOL_VERSION;

/** The versions this build decodes. */
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];

/**
 * Largest encoded message accepted on any subject, in bytes. Transcripts are the only
 * large field; 64 KiB holds a several-minute transcript and stays far below the
 * server's default 1 MiB `max_payload`.
 */
export const MAX_MESSAGE_BYTES = 64 * 1024;
