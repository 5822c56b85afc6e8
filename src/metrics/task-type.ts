/**
 * task_type: a DAG name with its variable parts (tenant names, versions, zones) removed, so
 * histograms and counters keep a bounded number of series (contract §5.4).
 */

export type TaskTypeRule = { readonly pattern: RegExp; readonly taskType: string };

const fixed = (name: string): TaskTypeRule => ({
  pattern: new RegExp(`^${name}$`),
  taskType: name,
});
const prefixed = (prefix: string, taskType = prefix): TaskTypeRule => ({
  pattern: new RegExp(`^${prefix}(?:\\s|_|$)`),
  taskType,
});

/** Every cluster maintenance DAG name obshell (4.2.3 … 4.5.0) can return from /maintain/ob. */
export const builtInTaskTypeRules: readonly TaskTypeRule[] = [
  fixed('Cluster scale out'),
  fixed('Cluster scale in'),
  fixed('Delete zone'),
  prefixed('Upgrade obshell'),
  prefixed('OB stop service upgrade'),
  prefixed('OB rolling upgrade'),
  prefixed('Create tenant'),
  prefixed('Drop tenant'),
  prefixed('Scale out tenant replicas'),
  prefixed('Scale in tenant replicas'),
  prefixed('Modify tenant replicas'),
  prefixed('Modify tenant primary zone'),
  prefixed('Wait tenant purge finished'),
  prefixed('Restore backup'),
  prefixed('Cancel restore'),
  prefixed('Set obcluster backup config'),
];

/** First matching rule wins: user rules are placed before the built-in ones. Unknown names pass through. */
export function normaliseTaskType(name: string, rules: readonly TaskTypeRule[]): string {
  for (const rule of rules) {
    if (rule.pattern.test(name)) return rule.taskType;
  }
  return name;
}
