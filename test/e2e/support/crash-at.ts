// Test-only preload (node --import) that kills the operator at a chosen point of a role change, as
// an operator killed there would die, with no fault hook in the product. RRO_TEST_CRASH_AT:
// - after-intent: once status.targetPrimary is written, before anything else is done;
// - before-role-status: after the promotion, instead of the status write that records the new primary.
import { CustomObjectsApi } from '@kubernetes/client-node';

type PatchStatus = CustomObjectsApi['patchNamespacedCustomObjectStatus'];
const point = process.env['RRO_TEST_CRASH_AT'];
const original: PatchStatus = CustomObjectsApi.prototype.patchNamespacedCustomObjectStatus;
let target: string | undefined;

CustomObjectsApi.prototype.patchNamespacedCustomObjectStatus = async function (this: CustomObjectsApi, ...args: Parameters<PatchStatus>) {
  const status = (args[0].body as { status?: Record<string, unknown> } | undefined)?.status ?? {};
  if (point === 'before-role-status' && target !== undefined && status['primary'] === target) process.kill(process.pid, 'SIGKILL');
  const result = await original.apply(this, args);
  if (typeof status['targetPrimary'] === 'string') {
    target = status['targetPrimary'];
    if (point === 'after-intent') process.kill(process.pid, 'SIGKILL');
  }
  return result;
} as PatchStatus;
