/** The maintenance DAGs the stories run: names and node names as obshell creates them (contract §5.4). */
import type { NodeSpec, TaskSpec } from './story.js';

const scaleOutNodes = (slow: number): NodeSpec[] => [
  { name: 'Integrate server config', seconds: 3 * slow, logs: ['integrate config of 10.0.0.14:2882'] },
  {
    name: 'Create local scale out dag',
    seconds: 3 * slow,
    logs: ['create local scale out dag success, genericID:21677721614028860001'],
  },
  {
    name: 'Wait scale out ready',
    seconds: 12 * slow,
    logs: ['local scale out dag task Be scaling agent is succeed'],
  },
  {
    name: 'Wait remote deploy finish',
    seconds: 30 * slow,
    perAgent: true,
    logs: ['wait remote deploy task on {ip}', 'remote deploy task is succeed'],
  },
  {
    name: 'Wait remote start finish',
    seconds: 45 * slow,
    perAgent: true,
    logs: ['wait remote start observer task on {ip}', 'remote start observer task is succeed'],
  },
  { name: 'Prev check for scale_out', seconds: 4 * slow, logs: ['PrevCheckTask execute'] },
  { name: 'Add server for scale_out', seconds: 8 * slow, logs: ['AddServerTask execute'] },
  // The double space is in obshell's task name (see the seed).
  { name: 'Add agent  for scale_out', seconds: 4 * slow },
  { name: 'Check cluster scale_out whether finished', seconds: 15 * slow, logs: ['FinishTask execute'] },
];

export const scaleOut: TaskSpec = {
  name: 'Cluster scale out',
  maintenanceType: 2,
  maintenanceKey: '',
  nodes: scaleOutNodes(1),
};

/** About 80 s per node, so the `running` story always has a DAG in progress. */
export const slowScaleOut: TaskSpec = { ...scaleOut, nodes: scaleOutNodes(6) };

export const createTenant = (tenant: string): TaskSpec => ({
  name: `Create tenant ${tenant}`,
  maintenanceType: 3,
  maintenanceKey: tenant,
  nodes: [
    { name: 'Create resource unit config', seconds: 2, logs: [`create unit config ${tenant}_unit`] },
    { name: 'Create resource pool', seconds: 3, logs: [`create resource pool ${tenant}_pool`] },
    { name: 'Create tenant', seconds: 40, logs: [`create tenant ${tenant}`, 'wait tenant created'] },
    { name: 'Set tenant parameter', seconds: 5 },
    { name: 'Modify tenant whitelist', seconds: 2 },
    { name: 'Set tenant root password', seconds: 3 },
  ],
});

export const rollingUpgrade: TaskSpec = {
  name: 'OB rolling upgrade 4.3.5.0-100000',
  maintenanceType: 2,
  maintenanceKey: '',
  nodes: [
    { name: 'Check env for upgrade', seconds: 5, perAgent: true },
    { name: 'Create upgrade dir', seconds: 3, perAgent: true },
    { name: 'Get all required packages', seconds: 6, logs: ['get oceanbase-ce-4.3.5.0-100000'] },
    { name: 'Check all required packages', seconds: 5, perAgent: true },
    {
      name: 'Install all required packages',
      seconds: 20,
      perAgent: true,
      logs: ['install packages on {ip}'],
    },
    { name: 'Execute upgrade pre script', seconds: 20, logs: ['exec upgrade_pre.py'] },
    {
      name: 'Upgrade observer zone by zone',
      seconds: 90,
      perAgent: true,
      logs: ['stop observer on {ip}', 'start observer on {ip}', 'observer on {ip} is active'],
    },
    { name: 'Execute upgrade post script', seconds: 30, logs: ['exec upgrade_post.py'] },
    { name: 'Remove upgrade dir', seconds: 3, perAgent: true },
  ],
};

export const scaleIn: TaskSpec = {
  name: 'Cluster scale in',
  maintenanceType: 2,
  maintenanceKey: '',
  nodes: [
    { name: 'Check scale in', seconds: 3, logs: ['check server 10.0.0.14:2882 can be deleted'] },
    { name: 'Delete server', seconds: 5, logs: ["alter system delete server '10.0.0.14:2882'"] },
    { name: 'Wait delete server finish', seconds: 60, logs: ['wait server 10.0.0.14:2882 deleted'] },
    { name: 'Stop remote agent', seconds: 6 },
    { name: 'Remove agent', seconds: 3 },
  ],
};

/** ERROR lines as obshell logs them on the failed sub-task. */
export const errors = {
  startObserver:
    'ERROR: [OB.Server.Process.NotExist]: Observer process does not exist: observer 10.0.0.14:2882 exited while starting',
  addServer: "ERROR: [MySQL.Error]: MySQL error: Error 4179 (HY000): server '10.0.0.14:2882' is not active",
  deleteServer:
    'ERROR: [Common.Unexpected]: Unexpected error: wait server 10.0.0.14:2882 deleted timeout: still hosting 12 replicas',
} as const;
