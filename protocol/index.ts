/**
 * The robotrace wire contract: message types, MessagePack codec, subjects, stream and
 * bucket names, validation with typed errors. No I/O.
 */
export { PROTOCOL_VERSION, SUPPORTED_VERSIONS, MAX_MESSAGE_BYTES } from './src/version.js';
export type { ProtocolVersion } from './src/version.js';
export { ErrorCode, ProtocolError, isErrorCode } from './src/errors.js';
export {
  Subjects,
  SubjectWildcards,
  Streams,
  Buckets,
  carrierConsumerName,
  campaignToken,
  isSubjectToken,
} from './src/subjects.js';
export { OUTCOMES, ATTESTATIONS, STIR_SHAKEN_CHECKS } from './src/messages.js';
export type {
  E164,
  TracebackId,
  HopId,
  ProviderId,
  CallData,
  StartTraceback,
  TracebackStarted,
  CancelTraceback,
  TracebackCancelled,
  HopQuery,
  HopAnswer,
  Answer,
  AnswerType,
  UpstreamAnswer,
  OriginatorAnswer,
  ForeignEntryAnswer,
  NotFoundAnswer,
  DisputeAnswer,
  Attestation,
  StirShaken,
  ProviderInfo,
  ProviderFlagSnapshot,
  StirShakenCheck,
  StirShakenFinding,
  PassportClaims,
  TrailStirShaken,
  ProtocolErrorMessage,
  Outcome,
  HopStatus,
  Trail,
  TrailHop,
  TracebackEvent,
  StatusRequest,
  StatusReply,
  Message,
  MessageKind,
} from './src/messages.js';
export { encodeMessage, decodeMap } from './src/codec.js';
export {
  decodeStartTraceback,
  decodeTracebackStarted,
  decodeCancelTraceback,
  decodeTracebackCancelled,
  decodeHopQuery,
  decodeHopAnswer,
  decodeProtocolError,
  decodeStatusRequest,
  decodeStatusReply,
  decodeTrail,
  decodeTracebackEvent,
  validateAnswer,
} from './src/validate.js';
export { normalizeE164 } from './src/phone.js';
export { parsePassport, checkPassport, trailStirShaken, isUuid, ANSWER_IDENTITY_MAX, IAT_TOLERANCE_MS } from './src/passport.js';
export { newTracebackId, tracebackIdForRequest, parseTracebackId, parseHopId, hopIdOf } from './src/ids.js';
export { errorMessage } from './src/error-message.js';
export {
  PROVIDER_FLAGS,
  decodeClearProviderFlag,
  decodeProviderFlagCleared,
  decodeUpsertProviders,
  decodeProvidersUpserted,
  decodeProviderFlag,
} from './src/provider-messages.js';
export type {
  ProviderFlagName,
  DirectoryDeadline,
  DirectoryProvider,
  UpsertProviders,
  ProvidersUpserted,
  ClearProviderFlag,
  ProviderFlagCleared,
  ProviderFlagMessage,
} from './src/provider-messages.js';
