// A minimal Prometheus text-format registry: the handful of gauges, counters
// and histograms the agent and the webhook export. prom-client is not on the
// design card and would be one more library for this; promtool checks the output
// (test/agent/metrics-format.test.ts).

type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => (a < b ? -1 : 1)) // not localeCompare: ICU's collator costs ~10 ms at first use
    .map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`)
    .join(',');

interface Metric {
  render(): string;
}

class Series implements Metric {
  protected readonly values = new Map<string, number>();
  private readonly name: string;
  private readonly help: string;
  private readonly type: 'gauge' | 'counter';
  constructor(name: string, help: string, type: 'gauge' | 'counter') {
    this.name = name;
    this.help = help;
    this.type = type;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} ${this.type}`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ''} ${v}`);
    return lines.join('\n');
  }
}

export class Gauge extends Series {
  constructor(name: string, help: string) {
    super(name, help, 'gauge');
  }
  set(value: number, labels: Labels = {}): void {
    this.values.set(key(labels), value);
  }
  get(labels: Labels = {}): number | undefined {
    return this.values.get(key(labels));
  }
}

export class Counter extends Series {
  constructor(name: string, help: string) {
    super(name, help, 'counter');
  }
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}): number {
    return this.values.get(key(labels)) ?? 0;
  }
}

export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  private readonly name: string;
  private readonly help: string;
  private readonly buckets: number[];
  constructor(name: string, help: string, buckets: number[]) {
    this.name = name;
    this.help = help;
    this.buckets = buckets;
  }
  observe(value: number, labels: Labels = {}): void {
    const k = key(labels);
    let s = this.series.get(k);
    if (!s) this.series.set(k, (s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => value <= b && s.counts[i]!++);
    s.sum += value;
    s.count++;
  }
  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? `${k},` : '';
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${sep}le="${b}"} ${s.counts[i]}`));
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ''} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ''} ${s.count}`);
    }
    return lines.join('\n');
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return this.metrics.map((m) => m.render()).join('\n') + '\n' + processMetrics();
  }
}

const startTime = Date.now() / 1000 - process.uptime();

/** The process_* defaults Prometheus users expect from any exporter. */
function processMetrics(): string {
  const cpu = process.cpuUsage();
  const mem = process.memoryUsage();
  const metric = (name: string, type: 'counter' | 'gauge', help: string, value: number) => [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${value}`];
  return [
    ...metric('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', (cpu.user + cpu.system) / 1e6),
    ...metric('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', mem.rss),
    ...metric('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', Math.round(startTime)),
    ...metric('nodejs_heap_used_bytes', 'gauge', 'V8 heap in use, in bytes.', mem.heapUsed),
    '',
  ].join('\n');
}
