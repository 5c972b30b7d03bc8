import { shardOf } from './shard-of.js';

/**
 * Which live engine should own each shard. Balanced rendezvous hashing: each shard ranks the
 * engines by a hash of (engine, shard) and goes to the best-ranked one that still has room
 * under its quota (⌊shards / engines⌋, one more for the first few). Every engine computes the same answer from the same member
 * list, the load differs by at most one shard, and a member joining or leaving moves
 * little more than its own share.
 */
export function assignShards(members: readonly string[], shardCount: number): string[] {
  const sorted = [...new Set(members)].sort();
  if (sorted.length === 0) return [];
  // Exact quotas: every member gets ⌊shards / members⌋, and the first `extra` to fill up one more.
  const base = Math.floor(shardCount / sorted.length);
  let extra = shardCount % sorted.length;
  const load = new Map(sorted.map((m) => [m, 0]));
  const owners: string[] = [];
  for (let shard = 0; shard < shardCount; shard++) {
    const ranked = sorted
      .map((member) => ({ member, score: shardOf(`${member}#${shard}`, 0x7fffffff) }))
      .sort((a, b) => b.score - a.score || (a.member < b.member ? -1 : 1));
    const room = (m: string) => (load.get(m) ?? 0) < (extra > 0 ? base + 1 : base);
    const owner = (ranked.find((r) => room(r.member)) ?? ranked[0])!.member;
    const now = (load.get(owner) ?? 0) + 1;
    load.set(owner, now);
    if (now === base + 1) extra--;
    owners.push(owner);
  }
  return owners;
}
