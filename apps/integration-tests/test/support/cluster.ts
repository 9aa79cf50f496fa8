import { sleep } from '@redbrick/testkit';
import type { RedisClusterHandle, RedisServerHandle } from '@redbrick/testkit/servers';

/** Sends an admin command to one node; an error reply becomes an exception. */
export async function admin(
  handle: RedisServerHandle,
  ...args: Array<string | number>
): Promise<unknown> {
  const reply = await handle.command(...args);
  if (typeof reply === 'object' && reply !== null && !Array.isArray(reply) && 'message' in reply) {
    throw new Error(`${args.join(' ')} on port ${handle.port}: ${String(reply.message)}`);
  }
  return reply;
}

/** One node as `CLUSTER NODES` describes it. */
export interface ClusterNode {
  id: string;
  port: number;
  master: boolean;
  /** The master this node replicates (replicas only). */
  masterId: string | undefined;
  /** Slot ranges served (masters only). */
  slots: Array<[number, number]>;
  handle: RedisServerHandle;
}

/** The cluster's topology as one node currently sees it. */
export async function topology(cluster: RedisClusterHandle): Promise<ClusterNode[]> {
  const first = cluster.servers.find((s) => s.running);
  if (!first) throw new Error('no cluster node is running');
  const text = String(await admin(first, 'CLUSTER', 'NODES'));
  const nodes: ClusterNode[] = [];
  for (const line of text.split('\n')) {
    const parts = line.trim().split(' ');
    const [id, address, flags, masterId] = parts;
    if (!id || !address || !flags) continue;
    const port = Number(address.split('@')[0]?.split(':')[1]);
    const handle = cluster.servers.find((s) => s.port === port);
    if (!handle) continue;
    const slots: Array<[number, number]> = [];
    for (const range of parts.slice(8)) {
      if (range.startsWith('[')) continue; // a slot being migrated/imported
      const [from, to] = range.split('-').map(Number);
      if (from !== undefined) slots.push([from, to ?? from]);
    }
    nodes.push({
      id,
      port,
      master: flags.includes('master'),
      masterId: masterId === '-' ? undefined : masterId,
      slots,
      handle,
    });
  }
  return nodes;
}

/** The master serving `slot`. */
export async function masterOf(cluster: RedisClusterHandle, slot: number): Promise<ClusterNode> {
  const nodes = await topology(cluster);
  const master = nodes.find((n) => n.master && n.slots.some(([a, b]) => slot >= a && slot <= b));
  if (!master) throw new Error(`no master serves slot ${slot}`);
  return master;
}

/**
 * A replica of the master serving `slot` takes over (`CLUSTER FAILOVER` on
 * the replica: the master stops writes, the replica catches up and is
 * promoted — no acknowledged write is lost). Resolves when every node
 * agrees on the new master. Returns the old and the new master's ports.
 */
export async function failover(
  cluster: RedisClusterHandle,
  slot: number,
): Promise<{ from: number; to: number }> {
  const master = await masterOf(cluster, slot);
  const replica = (await topology(cluster)).find((n) => n.masterId === master.id);
  if (!replica) throw new Error(`the master on port ${master.port} has no replica`);
  await admin(replica.handle, 'CLUSTER', 'FAILOVER');
  const deadline = Date.now() + 30_000;
  for (;;) {
    const views = await Promise.all(
      cluster.servers
        .filter((s) => s.running)
        .map(async (s) => {
          const text = String(await admin(s, 'CLUSTER', 'NODES'));
          const flags = (id: string) =>
            text
              .split('\n')
              .find((l) => l.startsWith(id))
              ?.split(' ')[2] ?? '';
          return flags(replica.id).includes('master') && flags(master.id).includes('slave');
        }),
    );
    if (views.every(Boolean)) break;
    if (Date.now() > deadline) throw new Error('the failover did not complete in 30 s');
    await sleep(50);
  }
  return { from: master.port, to: replica.port };
}

/**
 * Moves `slot` to another master the way `redis-cli --cluster reshard`
 * does: IMPORTING / MIGRATING, then MIGRATE key by key (`pauseMs` between
 * keys) and `holdMs` more with every key moved and the slot still
 * migrating — clients meet ASK redirections all that time — then SETSLOT
 * NODE everywhere (MOVED from then on). Returns the ports and the keys moved.
 */
export async function migrateSlot(
  cluster: RedisClusterHandle,
  slot: number,
  pauseMs: number,
  holdMs: number,
): Promise<{ from: number; to: number; keys: number }> {
  const source = await masterOf(cluster, slot);
  const target = (await topology(cluster)).find((n) => n.master && n.id !== source.id);
  if (!target) throw new Error('no other master to migrate to');
  await admin(target.handle, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', source.id);
  await admin(source.handle, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', target.id);
  let moved = 0;
  for (;;) {
    const keys = (await admin(source.handle, 'CLUSTER', 'GETKEYSINSLOT', slot, 1)) as string[];
    const [key] = keys;
    if (key === undefined) break;
    await admin(source.handle, 'MIGRATE', '127.0.0.1', target.port, key, 0, 5_000);
    moved++;
    await sleep(pauseMs);
  }
  // Every key has moved, but the slot is still MIGRATING/IMPORTING: the source answers ASK for
  // all of it, so for a while every client must follow ASK (ASKING on the target).
  await sleep(holdMs);
  // Every master learns the new owner (each asked for its own role: views can lag).
  for (const server of cluster.servers.filter((s) => s.running)) {
    const role = (await admin(server, 'ROLE')) as unknown[];
    if (role[0] === 'master') await admin(server, 'CLUSTER', 'SETSLOT', slot, 'NODE', target.id);
  }
  return { from: source.port, to: target.port, keys: moved };
}
