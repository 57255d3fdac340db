// The metrics phase through the real reconcile: the per-resource series the alert rules read follow
// what happens to the pods (helm/.../prometheusrule.yaml, test/rules/).
import { describe, expect, it } from 'vitest';
import { MEMORY_POLL_MS } from '../../src/controller/measure.js';
import { World } from '../support/world.js';

const r = 'namespace="ns",resource="cache"';
const series = async (world: World) => world.deps.metrics.registry.metrics();

describe('metrics of a resource', () => {
  it('say what the alerts read, and follow a replica that stops answering and comes back', async () => {
    const { world, rr } = World.withResource({ replicas: 2, writeQuorum: { minReplicas: 1 } });
    await world.settle(rr, () => world.ready(rr));
    let text = await series(world);
    for (const line of [
      `rro_primary_available{${r}} 1`,
      `rro_writable_pods{${r}} 1`,
      `rro_replicas_desired{${r},tier="1"} 2`,
      `rro_replicas_linked{${r},tier="1"} 2`,
      `rro_write_quorum_min_replicas{${r}} 1`,
      `rro_write_quorum_replicas_in_sync{${r}} 2`,
      `rro_read_max_lag_seconds{${r}} 5`,
      `rro_rolling_update_stalled{${r}} 0`,
      `rro_last_reconcile_timestamp_seconds{${r}} ${(world.nowMs - 1000) / 1000}`,
    ]) {
      expect(text).toContain(line);
    }
    await world.passes(rr, MEMORY_POLL_MS / 1000);
    expect(await series(world)).toMatch(new RegExp(`rro_redis_memory_used_bytes\\{${r},pod="cache-\\d"\\} 1000000`));
    const replica = world.status(rr)!.nodes!.find((n) => n.role === 'replica')!.name;
    world.kube.serverOf('ns', replica)!.unreachable = true;
    await world.passes(rr, 2);
    text = await series(world);
    expect(text).toContain(`rro_replicas_linked{${r},tier="1"} 1`);
    expect(text).toContain(`rro_write_quorum_replicas_in_sync{${r}} 1`);
    expect(text).toContain(`rro_primary_available{${r}} 1`);
    world.kube.serverOf('ns', replica)!.unreachable = false;
    await world.passes(rr, 3);
    expect(await series(world)).toContain(`rro_replicas_linked{${r},tier="1"} 2`);
  });

  it('a lost primary: not available; the failover is the last one, with its reason', async () => {
    const { world, rr } = World.withResource({ replicas: 2 });
    await world.settle(rr, () => world.ready(rr));
    const primary = world.status(rr)!.primary!;
    world.kube.serverOf('ns', primary)!.unreachable = true;
    await world.passes(rr, 1);
    expect(await series(world)).toContain(`rro_primary_available{${r}} 0`);
    await world.settle(rr, () => world.status(rr)?.primary !== primary);
    await world.passes(rr, 2);
    const text = await series(world);
    expect(text).toContain(`rro_primary_available{${r}} 1`);
    expect(text).toMatch(new RegExp(`rro_last_failover_timestamp_seconds\\{${r},reason="\\w+"\\} \\d+`));
  });

  it('asks each pod its memory once per MEMORY_POLL_MS, not at every pass', async () => {
    const { world, rr } = World.withResource({ replicas: 1 });
    await world.settle(rr, () => world.ready(rr));
    const asked = () => world.redis.sent.filter((c) => c.endsWith('INFO memory')).length;
    const before = asked();
    await world.passes(rr, MEMORY_POLL_MS / 1000 - 1);
    expect(asked() - before).toBeLessThanOrEqual(2);
    await world.passes(rr, MEMORY_POLL_MS / 1000);
    expect(asked() - before).toBeGreaterThanOrEqual(2);
  });
});
