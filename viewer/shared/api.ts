/**
 * The viewer's HTTP API: the JSON shapes the server sends and the browser reads. This file
 * is compiled twice, by the server (NodeNext) and by the client (bundler), so it imports
 * nothing and holds types and two tiny shared helpers.
 */

/** Who is logged in. Operators see everything; a carrier sees only its own open hop queries. */
export type Role = 'operator' | 'carrier';

export interface Me {
  user: string;
  role: Role;
  /** The carrier's provider id (carrier logins only). */
  provider?: string;
  /** True when the viewer runs in loopback demo mode (no login needed for operators). */
  demo: boolean;
}

/** A compact, already-decoded hop as the index keeps it. */
export interface HopSummary {
  hop: number;
  hopId: string;
  provider: string;
  downstream?: string;
  status: 'open' | 'answered' | 'missed' | 'cancelled';
  askedAt: number;
  deadline: number;
  answeredAt?: number;
  remindedAt: number[];
  /** `type` of the answer, when answered. */
  answerType?: string;
  /**
   * Where `askedAt`, `deadline` and `remindedAt` come from: the hop's `result` (the provider
   * reported them when the hop closed), the `provider` actor's open hop (sent, still open), or
   * the traceback's `estimate` (not sent yet, or the provider record is not in).
   */
  timing: 'result' | 'provider' | 'estimate';
  /** The provider actor holds this query back (in-flight limit): the carrier has not got it yet. */
  queued?: boolean;
  /** When the provider's clock started (business hours may move it past `askedAt`). Open hops only. */
  receivedAt?: number;
  /** Reminders still to send. Open hops only. */
  remindersDue?: number[];
}

/** One line of the tracebacks list. */
export interface TracebackRow {
  id: string;
  /** The machine state: `asking` or one of the final states (outcomes). */
  state: string;
  active: boolean;
  outcome?: string;
  reason?: string;
  campaign?: string;
  calling: string;
  called: string;
  callTime: number;
  requester: string;
  terminatingProvider: string;
  /** Provider of the last hop: the one being asked while active, the end of the trail when done. */
  currentProvider: string;
  currentHopId: string;
  hops: number;
  startedAt: number;
  updatedAt: number;
  endedAt?: number;
  /** Deadline of the current hop while it is open. */
  deadline?: number;
  /** `provider`: the real deadline from the provider actor; `estimate`: the traceback's, until the query is sent. */
  deadlineSource?: 'provider' | 'estimate';
  /** The current hop waits in the provider actor's queue (not sent to the carrier yet). */
  queued?: boolean;
  /** True when the stored record's machine version is not the one this viewer was built with. */
  versionMismatch?: boolean;
}

export type SortKey =
  | 'startedAt'
  | 'updatedAt'
  | 'deadline'
  | 'hops'
  | 'state'
  | 'outcome'
  | 'campaign'
  | 'currentProvider'
  | 'id';

export interface ListQuery {
  q?: string;
  state?: string;
  outcome?: string;
  campaign?: string;
  provider?: string;
  sort?: SortKey;
  dir?: 'asc' | 'desc';
  page?: number;
  size?: number;
}

/** Query parameters of `/api/tracebacks`, in the order the client writes them (also the boot-data key). */
export const LIST_PARAMS = ['q', 'state', 'outcome', 'campaign', 'provider', 'sort', 'dir', 'page', 'size'] as const;

/** `/api/tracebacks?…` for the list parameters among `params`: the same string on server and client. */
export function listPath(params: URLSearchParams): string {
  const query = new URLSearchParams();
  for (const key of LIST_PARAMS) {
    const value = params.get(key);
    if (value) query.set(key, value);
  }
  return `/api/tracebacks?${query.toString()}`;
}

/**
 * Data the server writes into the page it serves (`<script type="application/json" id="boot">`),
 * so the first screen needs no request: who is logged in and, on the list, its first page.
 */
export interface Boot {
  me: Me;
  /** API responses by path, used once in place of fetching them. */
  data: Record<string, unknown>;
}

export interface ListPage {
  rows: TracebackRow[];
  /** Rows matching the filters (all pages). */
  total: number;
  /** Tracebacks in the index. */
  indexed: number;
  page: number;
  size: number;
  /** Index version; it grows with every change the viewer has seen. */
  version: number;
  /** False while the index is still loading the stored records. */
  ready: boolean;
  /** Server time, ms since epoch, so countdowns do not depend on the browser's clock. */
  now: number;
}

export interface FacetCount {
  value: string;
  count: number;
}

export interface Facets {
  states: FacetCount[];
  outcomes: FacetCount[];
  campaigns: FacetCount[];
  providers: FacetCount[];
}

/** A traceback event as published on `tb.events.<id>`. */
export interface TimelineEvent {
  seq: number;
  at: number;
  type: string;
  state: string;
  hopId?: string;
  provider?: string;
  outcome?: string;
  answer?: Record<string, unknown>;
}

export interface PendingTimer {
  /** Timer name within its actor, e.g. `h.tb-…-h2` (a provider actor's timer for hop 2). */
  timer: string;
  /** Key in `tb_timers`: `provider.<provider>.h.<hopId>`. */
  key: string;
  dueAt: number;
  /** `reminder` when it falls before the hop's deadline, `deadline` at it. */
  purpose: 'reminder' | 'deadline' | 'unknown';
  /** The provider actor that owns the timer. */
  provider?: string;
  /** The hop it keeps the clock of. */
  hopId?: string;
}

/** One command of an actor record's outbox (`{ id, command }`), with the command's type pulled out. */
export interface OutboxEntryView {
  id: number;
  type: string;
  command: unknown;
}

/** An actor record as stored in `tb_actors`, decoded. */
export interface RecordView {
  key: string;
  revision: number;
  kind: string;
  machineVersion: number;
  updatedAt: number;
  status: string;
  value: unknown;
  context: Record<string, unknown>;
  /** Commands written with the last transitions and not yet known to be carried out. */
  outbox: OutboxEntryView[];
  nextCommandId: number;
  /** Kind-specific state kept beside the snapshot: a traceback's evidence hash chain. */
  extra?: unknown;
}

export interface TracebackDetail {
  row: TracebackRow;
  record: RecordView;
  hops: HopSummary[];
  events: TimelineEvent[];
  timers: PendingTimer[];
  /** The published trail (from `TB_TRAILS`), once the traceback is done. */
  trail?: Record<string, unknown>;
  trailSubject?: string;
  now: number;
}

/** The traceback machine as a graph, derived from its XState definition. */
export interface MachineGraph {
  id: string;
  initial: string;
  version: number;
  states: { id: string; key: string; type: string; entry: string[] }[];
  transitions: {
    source: string;
    /** Absent for a targetless transition (an action without a state change). */
    target?: string;
    event: string;
    guard?: string;
    actions: string[];
    reenter: boolean;
  }[];
}

/** What the traceback records say about a provider: the hops it was asked, where trails ended. */
export interface ProviderStats {
  provider: string;
  asked: number;
  open: number;
  answered: number;
  missed: number;
  cancelled: number;
  /** Mean time from question to answer, ms, over answered hops. */
  meanResponseMs?: number;
  /** Tracebacks that ended at this provider, by outcome. */
  endedHere: Record<string, number>;
}

/** The provider actor's directory entry. */
export interface ProviderDirectory {
  name?: string;
  /** FCC Registration Number. */
  frn?: string;
  /** Operating Company Number. */
  ocn?: string;
  contact?: string;
  rmdStatus: string;
  roles: string[];
  /** False for a provider first named in an answer and not in the imported directory. */
  verified: boolean;
}

/** The provider actor's deadline policy. */
export interface ProviderPolicyView {
  /** `fixed`: the clock starts on receipt; `business`: at the next business-hours opening. */
  deadlineKind: string;
  deadlineMs: number;
  timeZone?: string;
  opensAt?: number;
  closesAt?: number;
  businessDays?: number[];
  holidays?: string[];
  reminderFractions: number[];
  maxInFlight: number;
}

/** The provider actor's response statistics. */
export interface ProviderScore {
  asked: number;
  answered: number;
  missed: number;
  /** Answered after the deadline. */
  late: number;
  notFound: number;
  /** answered / (answered + missed), 0–1; absent before any hop closed. */
  answerRate?: number;
  /** Percentiles of the recent answer times (from the clock's start to the answer), ms. */
  p50Ms?: number;
  p90Ms?: number;
  /** Answer times the percentiles are computed from. */
  samples: number;
}

/** One strike behind a flag: which traceback, when. */
export interface EvidenceView {
  tracebackId: string;
  hopId?: string;
  at: number;
  campaign?: string;
}

export interface FlagView {
  name: string;
  raisedAt: number;
  reason: string;
  evidence: EvidenceView[];
}

export interface ClearedFlagView extends FlagView {
  clearedAt: number;
  clearedBy: string;
  clearReason: string;
}

/** One provider: its actor record (directory, policy, scorecard, flags) and what the tracebacks show. */
export interface ProviderSummary {
  id: string;
  /** True when a provider actor record `provider.<id>` exists in `tb_actors`. */
  actor: boolean;
  revision?: number;
  updatedAt?: number;
  machineVersion?: number;
  /** Set when the record could not be read. */
  error?: string;
  directory?: ProviderDirectory;
  policy?: ProviderPolicyView;
  score?: ProviderScore;
  /** Queries sent and not yet answered, missed or cancelled. */
  open: number;
  /** Queries waiting for room under the in-flight limit. */
  queued: number;
  /** Strikes within their windows, per flag. */
  strikes: Record<string, number>;
  thresholds?: Record<string, { count: number; windowMs: number }>;
  flags: FlagView[];
  /** Flags cleared by an operator, oldest first (the actor keeps the last 50). */
  clearedFlags: ClearedFlagView[];
  /** From the traceback records (also for providers without an actor). */
  tracebacks?: ProviderStats;
}

export interface ProvidersPage {
  /** Flagged first, then by hops asked. */
  providers: ProviderSummary[];
  /** Every raised flag, newest first. */
  flags: { provider: string; flag: FlagView }[];
  version: number;
  now: number;
}

/** A hop query open at a carrier, as its provider actor sent it. */
export interface OpenHopView extends InboxItem {
  receivedAt: number;
  remindersDue: number[];
  remindedAt: number[];
}

export interface ProviderDetail {
  summary: ProviderSummary;
  open: OpenHopView[];
  queue: { hopId: string; tracebackId: string; hop: number; requestedAt: number }[];
  record?: RecordView;
  now: number;
}

/** An open hop query as the carrier inbox shows it. */
export interface InboxItem {
  hopId: string;
  tracebackId: string;
  hop: number;
  provider: string;
  downstream?: string;
  call: { calling: string; called: string; time: number; campaign?: string; transcript?: string; identity?: string };
  askedAt: number;
  deadline: number;
  /** Reminders sent so far for this hop. */
  reminders: number;
  /** When the provider's clock started (business hours may move it past `askedAt`). */
  receivedAt?: number;
}

export interface Rejection {
  at: number;
  code: string;
  message: string;
  path?: string;
  hopId?: string;
}

export interface InboxPage {
  provider: string;
  items: InboxItem[];
  rejections: Rejection[];
  now: number;
  version: number;
}

/** The body of every error response. */
export interface ApiErrorBody {
  error: { code: string; message: string; path?: string };
}

export interface StartBody {
  calling: string;
  called: string;
  /** Call time, ms since epoch UTC. */
  time: number;
  campaign?: string;
  transcript?: string;
  terminatingProvider: string;
  requester?: string;
  /** Idempotency key; the form generates one per submission attempt. */
  requestId?: string;
}

export interface StartResult {
  tracebackId: string;
  existing: boolean;
}

export interface AnswerResult {
  hopId: string;
  /** True when the server had already stored an answer with this hop id in the last 10 minutes. */
  duplicate: boolean;
  stream: string;
  seq: number;
}

export interface Health {
  nats: 'connected' | 'reconnecting' | 'closed';
  ready: boolean;
  indexed: number;
  providers: number;
  version: number;
  engine?: { total: number; active: number; byOutcome: Record<string, number> } | { error: string };
}
