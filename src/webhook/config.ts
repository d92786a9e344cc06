// Annotations → a typed, frozen injection config. Pure: every problem is
// collected and reported at once, each naming its annotation and a fix.

import { ANNOTATIONS, PREFIX, USER_KEYS, type AnnotationName } from './annotations.ts';
import type { WebhookDefaults } from './defaults.ts';
import { parseDuration } from '../config/duration.ts';
import { RELOAD_SIGNALS, TRUST_DOMAIN } from '../config/names.ts';

export type Layout = 'istio' | 'spiffe' | 'tls';
export type Mode = 'issue' | 'sign';

export interface InjectConfig {
  authMount: string;
  authRole: string;
  pkiMount: string;
  pkiRole: string;
  /** absent: the agent's own default */
  rootMount?: string;
  ttl: string;
  /** absent: the agent's own default (run only) */
  bundleRefresh?: string;
  trustDomain: string;
  layout: Layout;
  mode: Mode;
  outDir: string;
  dnsSans: readonly string[];
  /** container names that mount the credentials; `'all'` = every app container, `istio-proxy` included */
  containers: readonly string[] | 'all';
  sidecar: boolean;
  onRotateSignal?: string;
  signalProcess?: string;
  signalPidFile?: string;
}

export type ParseResult = { ok: true; config: InjectConfig } | { ok: false; problems: string[] };

const NAME = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9])?$/;
const MOUNT = /^[A-Za-z0-9](?:[A-Za-z0-9_./-]{0,126}[A-Za-z0-9])?$/;
const DNS_NAME = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const CONTAINER = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const SIGNALS: readonly string[] = RELOAD_SIGNALS;
/** Paths the injected containers already use; the credentials volume must not shadow them. */
const RESERVED_DIRS = ['/var/run/secrets/vault-pki-agent', '/var/run/secrets/kubernetes.io'];

/** Where a container that Istio injects after us will be; it may be named before it exists. */
export const ISTIO_PROXY = 'istio-proxy';


function absolutePath(v: string): string | undefined {
  if (!v.startsWith('/') || v === '/' || v.length > 255) return undefined;
  if (v.split('/').some((seg, i) => (i > 0 && seg === '') || seg === '.' || seg === '..')) return undefined;
  return v.endsWith('/') ? undefined : v;
}

function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/**
 * Reads the `vault-pki-agent.io/*` annotations of a pod whose injection was
 * asked for. `containerNames` are the pod's current containers (init and app).
 */
export function parseAnnotations(annotations: Readonly<Record<string, string>>, containerNames: readonly string[], defaults: WebhookDefaults): ParseResult {
  const problems: string[] = [];
  const bad = (name: AnnotationName, value: string, fix: string): void => {
    problems.push(`annotation ${ANNOTATIONS[name].key}: ${JSON.stringify(value)} ${fix}`);
  };
  const get = (name: AnnotationName): string | undefined => annotations[ANNOTATIONS[name].key];

  for (const key of Object.keys(annotations)) {
    if (key.startsWith(PREFIX) && key !== ANNOTATIONS.status.key && !USER_KEYS.includes(key)) {
      problems.push(`annotation ${key} is not one vault-pki-agent knows; the keys are ${USER_KEYS.join(', ')}`);
    }
  }

  const pick = (name: AnnotationName, fallback: string, re: RegExp, fix: string): string => {
    const v = get(name);
    if (v === undefined) return fallback;
    if (!re.test(v)) bad(name, v, fix);
    return v;
  };
  const authRole = pick('role', defaults.authRole, NAME, 'is not a Vault role name; use letters, digits, "-", "_" or "."');
  const authMount = pick('authMount', defaults.authMount, MOUNT, 'is not a Vault mount path; use letters, digits, "-", "_", "." or "/"');
  const pkiMount = pick('pkiMount', defaults.pkiMount, MOUNT, 'is not a Vault mount path; use letters, digits, "-", "_", "." or "/"');
  const pkiRole = pick('pkiRole', defaults.pkiRole, NAME, 'is not a Vault role name; use letters, digits, "-", "_" or "."');
  const rootMount = get('rootMount');
  if (rootMount !== undefined && !MOUNT.test(rootMount)) bad('rootMount', rootMount, 'is not a Vault mount path; use letters, digits, "-", "_", "." or "/"');
  const trustDomain = pick('trustDomain', defaults.trustDomain, TRUST_DOMAIN, 'is not a SPIFFE trust domain; use lowercase letters, digits, "." or "-", such as cluster.local');

  const ttl = get('ttl') ?? defaults.ttl;
  // The agent's own parser, so an annotation the webhook accepts is one the injected agent accepts.
  if (get('ttl') !== undefined && (parseDuration(ttl) ?? 0) < 60) {
    bad('ttl', ttl, 'is not a duration of at least one minute; write it like 24h, 90m or 1h30m');
  }

  const bundleRefresh = get('bundleRefresh');
  // 1 s floor: each refresh is a Vault read per root issuer, from every pod
  if (bundleRefresh !== undefined && (parseDuration(bundleRefresh) ?? 0) < 1) {
    bad('bundleRefresh', bundleRefresh, 'is not a duration of at least one second; write it like 5m or 30s');
  }

  const layout = get('layout') ?? defaults.layout;
  if (!['istio', 'spiffe', 'tls'].includes(layout)) bad('layout', layout, 'is not a layout; use istio, spiffe or tls');
  const mode = get('mode') ?? defaults.mode;
  if (mode !== 'issue' && mode !== 'sign') bad('mode', mode, 'is not a mode; use issue or sign');

  const outDirRaw = get('outDir') ?? defaults.outDir;
  const outDir = absolutePath(outDirRaw);
  if (!outDir) bad('outDir', outDirRaw, 'is not an absolute, normalized directory path; write it like /var/run/secrets/workload-spiffe-credentials');
  else if (RESERVED_DIRS.some((r) => outDir === r || outDir.startsWith(r + '/') || r.startsWith(outDir + '/'))) {
    bad('outDir', outDirRaw, `overlaps a path the injected containers use (${RESERVED_DIRS.join(', ')}); choose another directory`);
  }

  const dnsSans = list(get('dnsSans') ?? '');
  for (const san of dnsSans) {
    if (!DNS_NAME.test(san) || san.length > 253) bad('dnsSans', san, 'is not a lowercase DNS name; list names like web.shop.svc,web.shop.svc.cluster.local');
  }
  if (dnsSans.length > 100) bad('dnsSans', `${dnsSans.length} names`, 'is too many; request at most 100');

  let containers: readonly string[] | 'all' = 'all';
  const containersRaw = get('containers');
  if (containersRaw !== undefined) {
    containers = list(containersRaw);
    if (containers.length === 0) bad('containers', containersRaw, 'names no container; list container names or remove the annotation (default: all)');
    for (const c of containers) {
      if (!CONTAINER.test(c)) bad('containers', c, 'is not a container name');
      else if (!containerNames.includes(c) && c !== ISTIO_PROXY) bad('containers', c, `is not a container of this pod; its containers are ${containerNames.join(', ') || '(none)'}`);
    }
  }

  const sidecarRaw = get('sidecar') ?? 'true';
  if (sidecarRaw !== 'true' && sidecarRaw !== 'false') bad('sidecar', sidecarRaw, 'must be "true" or "false" ("false" = init container only, for Jobs)');

  let onRotateSignal = get('onRotateSignal');
  if (onRotateSignal !== undefined) {
    const normalized = onRotateSignal.toUpperCase().replace(/^(?!SIG)/, 'SIG');
    if (!SIGNALS.includes(normalized)) bad('onRotateSignal', onRotateSignal, `is not a signal the agent sends; use one of ${SIGNALS.join(', ')}`);
    else if (sidecarRaw === 'false') bad('onRotateSignal', onRotateSignal, `needs the sidecar, but ${ANNOTATIONS.sidecar.key} is "false"; remove one of the two`);
    onRotateSignal = normalized;
  }
  const signalPidFileRaw = get('signalPidFile');
  let signalPidFile: string | undefined;
  if (signalPidFileRaw !== undefined) {
    signalPidFile = absolutePath(signalPidFileRaw);
    if (!signalPidFile) bad('signalPidFile', signalPidFileRaw, 'is not an absolute file path');
    if (onRotateSignal === undefined) bad('signalPidFile', signalPidFileRaw, `has no effect without ${ANNOTATIONS.onRotateSignal.key}; set it (such as SIGHUP) or remove this one`);
  }
  const signalProcess = get('signalProcess');
  if (signalProcess !== undefined) {
    if (!/^[\w.+-]{1,64}$/.test(signalProcess)) bad('signalProcess', signalProcess, 'is not a process name (such as nginx)');
    if (onRotateSignal === undefined) bad('signalProcess', signalProcess, `has no effect without ${ANNOTATIONS.onRotateSignal.key}; set it (such as SIGHUP) or remove this one`);
  }
  if (onRotateSignal !== undefined && signalProcess === undefined && signalPidFileRaw === undefined) {
    bad('onRotateSignal', onRotateSignal, `needs a target: set ${ANNOTATIONS.signalProcess.key} (a process name) or ${ANNOTATIONS.signalPidFile.key}`);
  }

  if (problems.length > 0) return { ok: false, problems };
  const config: InjectConfig = {
    authMount,
    authRole,
    pkiMount,
    pkiRole,
    ...(rootMount !== undefined ? { rootMount } : {}),
    ttl,
    ...(bundleRefresh !== undefined ? { bundleRefresh } : {}),
    trustDomain,
    layout: layout as Layout,
    mode: mode as Mode,
    outDir: outDir!,
    dnsSans: Object.freeze(dnsSans),
    containers: containers === 'all' ? 'all' : Object.freeze([...containers]),
    sidecar: sidecarRaw === 'true',
    ...(onRotateSignal !== undefined ? { onRotateSignal } : {}),
    ...(signalProcess !== undefined ? { signalProcess } : {}),
    ...(signalPidFile !== undefined ? { signalPidFile } : {}),
  };
  return { ok: true, config: Object.freeze(config) };
}
