/**
 * The data half of every node type, keyed by type: starting config, card summary and cheap
 * checks. Kept apart from the components (nodes/index.ts) so checks run without React.
 */
import { defaults as agentTask } from "./agent_task/defaults";
import { defaults as approval } from "./approval/defaults";
import { defaults as condition } from "./condition/defaults";
import { defaults as delay } from "./delay/defaults";
import { defaults as end } from "./end/defaults";
import { defaults as http } from "./http/defaults";
import { defaults as join } from "./join/defaults";
import { defaults as loop } from "./loop/defaults";
import { defaults as parallel } from "./parallel/defaults";
import { defaults as prompt } from "./prompt/defaults";
import { defaults as start } from "./start/defaults";
import { defaults as subworkflow } from "./subworkflow/defaults";
import { defaults as switchNode } from "./switch/defaults";
import { defaults as transform } from "./transform/defaults";
import type { NodeDefaults } from "./types";

export const NODE_DEFAULTS: Record<string, NodeDefaults | undefined> = {
  start,
  end,
  prompt,
  condition,
  switch: switchNode,
  loop,
  parallel,
  join,
  approval,
  delay,
  transform,
  agent_task: agentTask,
  http,
  subworkflow,
};
