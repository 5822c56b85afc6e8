/**
 * Schemas for obshell's answers (contract §3, §4). Strict on the fields the exporter uses,
 * tolerant of everything else: in the DAG, fields it does not read (task_logs, additional_data,
 * anything new) are dropped unchecked, since every target's last DAG stays in memory; `null`
 * nodes and sub-tasks become empty, and older obshell versions without
 * maintenance_type/maintenance_key or with `{code,message}` errors still parse.
 */
import { z } from 'zod';
import { parseObshellTime } from './time.js';

export const taskStates = ['PENDING', 'READY', 'RUNNING', 'FAILED', 'SUCCEED'] as const;
export const taskOperators = ['RUN', 'RETRY', 'ROLLBACK', 'CANCEL', 'PASS'] as const;

/** Fallback for a state or operator string this version does not know (newer obshell). */
export const unknownEnumValue = 'UNKNOWN' as const;

export type TaskState = (typeof taskStates)[number] | typeof unknownEnumValue;
export type TaskOperator = (typeof taskOperators)[number] | typeof unknownEnumValue;

function enumWithFallback<const T extends readonly string[]>(values: T) {
  const known = new Set<string>(values);
  return z
    .string()
    .transform((s): T[number] | typeof unknownEnumValue => (known.has(s) ? s : unknownEnumValue));
}

const stateSchema = enumWithFallback(taskStates);
const operatorSchema = enumWithFallback(taskOperators);

/** RFC 3339 time → Unix seconds. The epoch reset value parses; callers decide what it means. */
const timeSchema = z.string().transform((text, ctx) => {
  const seconds = parseObshellTime(text);
  if (seconds === undefined) {
    // Not quoted: an agent may echo anything here (a password longer than any cut would slip
    // past the scrub), and the length tells a date of another format from garbage.
    ctx.addIssue({ code: 'custom', message: `not an RFC 3339 time (${text.length} characters, not shown)` });
    return z.NEVER;
  }
  return seconds;
});

const nullableList = <T extends z.ZodType>(item: T, max?: { items: number; what: string }) =>
  (max ? z.array(item).max(max.items, `more than ${max.items} ${max.what}`) : z.array(item))
    .nullish()
    .transform((list) => list ?? []);

/**
 * Far above any real DAG (the seed's scale-out has 9 nodes of one sub-task each), so only a
 * broken or hostile agent reaches them: each node is a set of series and of work per poll, and
 * 10 000 of them held the event loop ~0.5 s per answer.
 */
export const maxDagNodes = 2000;
export const maxSubTasksPerNode = 1000;

const count = z.number().int().nonnegative();

export const executeAgentSchema = z.object({ ip: z.string(), port: z.number().int() });

export const subTaskSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: stateSchema,
  operator: operatorSchema,
  start_time: timeSchema,
  end_time: timeSchema,
  execute_times: count,
  execute_agent: executeAgentSchema,
  /** Typed for the wire (simulator, fixtures), never checked nor kept: long, and nothing reads them. */
  task_logs: z
    .custom<string[] | null>()
    .optional()
    .transform(() => undefined),
});

export const nodeSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: stateSchema,
  operator: operatorSchema,
  start_time: timeSchema,
  end_time: timeSchema,
  sub_tasks: nullableList(subTaskSchema, { items: maxSubTasksPerNode, what: 'sub-tasks in a node' }),
});

export const dagSchema = z.object({
  id: z.string(),
  name: z.string(),
  stage: count,
  max_stage: count,
  maintenance_type: z.number().int().optional(),
  maintenance_key: z.string().optional(),
  state: stateSchema,
  operator: operatorSchema,
  start_time: timeSchema,
  end_time: timeSchema,
  nodes: nullableList(nodeSchema, { items: maxDagNodes, what: 'nodes in a task' }),
});

/** `error` of the envelope: `{code?, errCode, message, subErrors?}` (≥4.3.1) or `{code, message}` (older). */
export const apiErrorSchema = z.looseObject({
  code: z.number().optional(),
  errCode: z.string().optional(),
  message: z.string().optional(),
});

export const envelopeSchema = z.looseObject({
  successful: z.boolean(),
  status: z.number().int().optional(),
  traceId: z.string().optional(),
  data: z.unknown().optional(),
  error: apiErrorSchema.nullish(),
});

export const secretSchema = z.looseObject({ public_key: z.string().min(1) });

export const agentInfoSchema = z.looseObject({
  identity: z.string().optional(),
  version: z.string().optional(),
  supportedAuth: z.array(z.string()).nullish(),
  security: z.boolean().optional(),
});

export type Dag = z.output<typeof dagSchema>;
export type DagNode = z.output<typeof nodeSchema>;
export type SubTask = z.output<typeof subTaskSchema>;
export type Envelope = z.output<typeof envelopeSchema>;
export type ApiError = z.output<typeof apiErrorSchema>;
export type AgentInfo = z.output<typeof agentInfoSchema>;

/** A wire object: the fields the exporter reads, plus whatever else obshell sends. */
type Wire<T> = T extends readonly (infer U)[]
  ? Wire<U>[]
  : T extends object
    ? { [K in keyof T]: Wire<T[K]> } & Record<string, unknown>
    : T;

/** The DAG as obshell sends it (input side, extra fields included), for the simulator and fixtures. */
export type DagJson = Wire<z.input<typeof dagSchema>>;
export type DagNodeJson = Wire<z.input<typeof nodeSchema>>;
export type SubTaskJson = Wire<z.input<typeof subTaskSchema>>;

/** Human-readable summary of schema issues: "nodes.3.state: expected string, received number". */
export function describeIssues(error: z.ZodError, limit = 5): string {
  const parts = error.issues
    .slice(0, limit)
    .map((issue) => `${issue.path.map(String).join('.') || '(root)'}: ${issue.message}`);
  const more = error.issues.length > limit ? ` (+${error.issues.length - limit} more)` : '';
  return parts.join('; ') + more;
}
