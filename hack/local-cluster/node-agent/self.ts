// The node this agent is: its NodeSpec comes in RRO_NODE (set by cluster:up); alone, the first default node.
import { nodeSpecs, type NodeSpec } from '../common.js';

export const SELF: NodeSpec = process.env.RRO_NODE ? (JSON.parse(process.env.RRO_NODE) as NodeSpec) : nodeSpecs(1)[0]!;
