/**
 * Which shard an actor belongs to: FNV-1a (32 bit) of its id, modulo the shard count.
 * Every engine and every tool must agree on this, so it never changes for a store; the
 * shard count is fixed when the store is created (see `ShardMap`).
 */
export function shardOf(id: string, shardCount: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) {
    hash ^= id.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shardCount;
}
