/** The part of a server's `/jsz` answer that tells whether the JetStream meta group has formed. */
export interface MetaCluster {
  /** Meta group name (the cluster name). */
  name?: string;
  /** `server_name` of the meta leader, as this server sees it; absent or empty while there is none. */
  leader?: string;
  /** Only on the leader: every other peer and whether it has caught up. */
  replicas?: { name: string; current: boolean; offline?: boolean }[];
  cluster_size?: number;
}

/**
 * Reads `meta_cluster` from a server's monitoring endpoint (`GET <monitorUrl>/jsz`).
 *
 * The monitoring endpoint is used rather than the JetStream API because a follower's view of the
 * leader, and the leader's view of who is current, are only exposed there on 2.9.
 *
 * @throws Error when the server does not answer within `timeoutMs` or answers without JetStream.
 */
export async function fetchMetaCluster(monitorUrl: string, timeoutMs: number): Promise<MetaCluster> {
  const res = await fetch(`${monitorUrl}/jsz`, { signal: AbortSignal.timeout(timeoutMs) });
  if (!res.ok) throw new Error(`${monitorUrl}/jsz answered HTTP ${res.status}`);
  const body = (await res.json()) as { meta_cluster?: MetaCluster; disabled?: boolean };
  if (body.meta_cluster === undefined) throw new Error(`${monitorUrl}/jsz has no meta_cluster (JetStream not clustered?)`);
  return body.meta_cluster;
}
