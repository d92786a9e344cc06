// Calls `onChange` (debounced) when something in a folder changes: the out dir
// for self-healing, the token's folder for the kubelet's `..data` swap. The
// folder itself is watched again if it is removed and comes back.

import { watch } from 'chokidar';

export interface FolderWatch {
  /** resolves once the initial scan is done: changes from then on are seen */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function watchFolder(dir: string, onChange: () => void, onError: (err: Error) => void, debounceMs = 50): FolderWatch {
  let pending: NodeJS.Timeout | undefined;
  // depth 0 and no symlink following: `..data` and the per-file links are
  // events of this folder; what they point to is read by whoever reacts.
  const watcher = watch(dir, { ignoreInitial: true, depth: 0, followSymlinks: false });
  watcher.on('all', (event, path) => {
    if (path === dir && (event === 'unlinkDir' || event === 'addDir')) {
      // chokidar stops at a removed root and watches for it to reappear only
      // when (re-)added; once back, add it again to see inside it.
      watcher.unwatch(dir);
      watcher.add(dir);
    }
    clearTimeout(pending);
    pending = setTimeout(onChange, debounceMs);
  });
  // A watch that fails (inotify limits, say) must not stop the agent: renewals do not depend on it.
  watcher.on('error', (err) => onError(err as Error));
  return {
    ready: new Promise((resolve) => watcher.once('ready', () => resolve())),
    close: async () => {
      clearTimeout(pending);
      await watcher.close();
    },
  };
}
