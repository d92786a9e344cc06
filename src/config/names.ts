// Name shapes more than one command checks: one pattern each, so a value the
// webhook accepts in an annotation is one the agent and bootstrap accept too.

/** A SPIFFE trust domain: lowercase letters, digits, "." and "-", at most 255 characters (cluster.local). */
export const TRUST_DOMAIN = /^[a-z0-9](?:[a-z0-9.-]{0,253}[a-z0-9])?$/;

/** The signals the agent sends a consumer after a rotation (`--on-rotate-signal`, annotation on-rotate-signal). */
export const RELOAD_SIGNALS = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'] as const;
