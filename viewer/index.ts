/**
 * The trace viewer: a web app for operators (every traceback live, its statechart, timeline,
 * timers and trail; start and cancel) and carriers (an inbox of their own open hop queries).
 * It talks to the engine over NATS only.
 */
export { startViewer, compileViewerOptions } from './server/viewer.js';
export type { Viewer, ViewerOptions } from './server/viewer.js';
export { hashPassword, verifyPassword, loadLogins, parseLogins } from './server/auth.js';
export type { Login, Principal } from './server/auth.js';
export { ViewerError, ViewerErrorCode } from './server/errors.js';
export { TracebackIndex } from './server/index-store.js';
export { machineGraph, tracebackGraph } from './server/statechart.js';
export { encodeStoredRecord, decodeStoredRecord } from './server/records.js';
export type { StoredRecord } from './server/records.js';
export type * from './shared/api.js';
