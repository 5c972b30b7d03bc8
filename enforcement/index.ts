/**
 * The enforcement SDK: durable per-agency trail subscriptions on `TB_TRAILS`, bounded reads and
 * live follows, one trail and its audit events by id, CSV / JSON Lines export, and printable HTML
 * reports. Depends on `protocol` and `evidence` only (never on the engine), so an agency can run it
 * with nothing but NATS access to the trail and event streams.
 */
export { subscribeTrails, deleteTrailSubscription } from './src/subscribe.js';
export { readTrails, followTrails, fetchTrail, fetchEvents } from './src/read.js';
export type { TrailFollower, Stored } from './src/read.js';
export { trailSubject, trailConsumerName, parseFilter } from './src/filter.js';
export { exportTrails, CSV_COLUMNS, csvValues, csvField, csvLine, jsonLine } from './src/export.js';
export type { ExportOptions } from './src/export.js';
export { renderReport, escapeHtml } from './src/report.js';
export type { ReportOptions } from './src/report.js';
export { EnforcementError, EnforcementErrorCode } from './src/errors.js';
export type {
  TrailFilter,
  TrailStart,
  TrailDelivery,
  TrailMessage,
  TrailHandler,
  TrailSubscription,
  TrailIterator,
  SubscribeOptions,
  ReadOptions,
  VerificationKeys,
} from './src/types.js';
