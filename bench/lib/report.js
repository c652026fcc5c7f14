// Aggregates build/bench/results.jsonl (one JSON line per run, written by
// bench/run.sh) into the benchmark table: the median of the runs for each
// figure, the gain over the reference server, the target from
// shared/notes/performance.md and whether it is met.  Prints the table and
// writes docs/benchmarks.md and docs/bench-latency.png (gnuplot).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const {execSync} = require('child_process');

function arg(name, dflt) {
  const i = process.argv.indexOf('--' + name);
  return i > 0 ? process.argv[i + 1] : dflt;
}

const resultsFile = arg('results');
const quick = arg('quick', '0') === '1';
const runs = Number(arg('runs', '3'));
const otFile = arg('ot', '');
const servers = arg('servers', '').trim().split(/\s+/).filter(Boolean);
const refReplay = arg('ref-replay', '20000');
const oursReplay = arg('ours-replay', 'all');
// --no-docs (a BENCH_ONLY run): print the table, write nothing
const outDir = process.argv.includes('--no-docs') ? undefined :
  arg('out-dir');
const work = arg('work');

const rows = fs.readFileSync(resultsFile, 'utf8').split('\n')
  .filter((l) => l.trim()).map((l) => JSON.parse(l));

function get(o, p) {
  if (p === 'floor_pct') {
    const f = rows.filter((r) => r.scenario === 'pg_floor' && r.run === o.run)
      .map((r) => r.tps)[0];
    return f && o.ops_per_s ? 100 * o.ops_per_s / f : undefined;
  }
  return p.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o);
}

function median(xs) {
  xs = xs.filter((x) => typeof x === 'number' && isFinite(x))
    .sort((a, b) => a - b);
  if (!xs.length) return undefined;
  const m = xs.length >> 1;
  return xs.length % 2 ? xs[m] : (xs[m - 1] + xs[m]) / 2;
}

function pick(scenario, server, field) {
  return median(rows.filter((r) => r.scenario === scenario &&
    r.server === server && !r.failed).map((r) => get(r, field)));
}

function count(scenario, server) {
  return rows.filter((r) => r.scenario === scenario && r.server === server &&
    !r.failed).length;
}

function maxOf(scenario, field) {
  const xs = rows.filter((r) => r.scenario === scenario)
    .map((r) => get(r, field)).filter((x) => typeof x === 'number');
  return xs.length ? Math.max(...xs) : undefined;
}

function fmt(x, unit) {
  if (x === undefined) return '-';
  if (typeof x === 'boolean') return x ? 'yes' : 'NO';
  let s;
  if (Math.abs(x) >= 1000) s = Math.round(x).toLocaleString('en-US');
  else if (Math.abs(x) >= 100) s = x.toFixed(0);
  else if (Math.abs(x) >= 10) s = x.toFixed(1);
  else s = x.toFixed(2);
  return unit ? s + ' ' + unit : s;
}

// kind: 'up' (more is better) or 'down' (less is better)
// target: function(ours, ref) -> true/false, and its text
// PostgreSQL's single-client commit rate measured in the same session
const pgFloor = median(rows.filter((r) => r.scenario === 'pg_floor')
  .map((r) => r.tps));

const metrics = [
  ['ack latency, 10 writers x 5 ops/s, 1 doc: p50', 'ack', 'ack.p50_ms',
    'ms', 'down', (o, r) => o <= 0.4 && (r === undefined || r >= 5 * o),
    '<= 0.4 ms and >= 5x ref'],
  ['  same: p99', 'ack', 'ack.p99_ms', 'ms', 'down', (o) => o <= 1.5,
    '<= 1.5 ms'],
  ['  same: p99.9', 'ack', 'ack.p999_ms', 'ms', 'down'],
  ['  same, collab_auth_jwt on (HS256, owner role): p50', 'ack_auth',
    'ack.p50_ms', 'ms', 'down', (o) => authCost(o, 'ack', 'ack.p50_ms', 'down'),
    '<= 5% over auth off'],
  ['hot doc, 1 writer: committed ops/s', 'hot1', 'ops_per_s', '', 'up'],
  ['  same: ack p99', 'hot1', 'ack.p99_ms', 'ms', 'down'],
  ['hot doc, 10 writers: committed ops/s', 'hot10', 'ops_per_s', '', 'up',
    (o) => o >= 15000, '>= 15,000'],
  ['  same: ack p99', 'hot10', 'ack.p99_ms', 'ms', 'down'],
  ['  same, collab_auth_jwt on (HS256, owner role): ops/s', 'hot10_auth',
    'ops_per_s', '', 'up', (o) => authCost(o, 'hot10', 'ops_per_s', 'up'),
    '>= 95% of auth off'],
  ['hot doc, 50 writers: committed ops/s', 'hot50', 'ops_per_s', '', 'up',
    (o) => o >= 10000, '>= 10,000'],
  ['  same: ack p99', 'hot50', 'ack.p99_ms', 'ms', 'down'],
  ['1,000 docs, 1 writer each: committed ops/s', 'agg1000', 'ops_per_s', '',
    'up', (o) => o >= 20000, '>= 20,000'],
  ['  same: ack p99', 'agg1000', 'ack.p99_ms', 'ms', 'down', (o) => o <= 20,
    '<= 20 ms'],
  ['fan-out 1 writer x 20 ops/s -> 100 subs: delivery p50', 'fanout100',
    'delivery.p50_ms', 'ms', 'down'],
  ['  same: delivery p99', 'fanout100', 'delivery.p99_ms', 'ms', 'down'],
  ['fan-out -> 1,000 subs: delivery p50', 'fanout1000', 'delivery.p50_ms',
    'ms', 'down'],
  ['  same: delivery p99', 'fanout1000', 'delivery.p99_ms', 'ms', 'down',
    (o) => o <= 5, '<= 5 ms'],
  ['idle connections held (ours 20,000; ref 19,000)', 'idle', 'connected', '',
    'up', (o) => o >= 20000, '20,000'],
  ['  same: server RSS per idle connection', 'idle', 'kib_per_conn', 'KiB',
    'down', (o) => o <= 4, '<= 4 KiB'],
  ['  same: server CPU while idle', 'idle', 'idle_cpu_pct', '%', 'down'],
  ['automerge-paper replay, 1 op per ack: ops/s', 'replay', 'ops_per_s', '',
    'up', (o) => o >= 6000, '>= 6,000'],
  ['  same: % of PostgreSQL\'s 1-client commit rate, same session'
    + (pgFloor ? ` (${Math.round(pgFloor).toLocaleString('en-US')}/s)` : ''),
    'replay', 'floor_pct', '%', 'up', (o) => o >= 75, '>= 75%'],
  ['  same: total time (ref: ' + (refReplay === 'all' ? 'whole trace' :
    'first ' + refReplay + ' ops') + '; ours: ' + (oursReplay === 'all' ?
    'whole trace' : 'first ' + oursReplay + ' ops') + ')', 'replay',
  'total_s', 's', 'down',
  (o) => oursReplay === 'all' && o <= 45, '<= 45 s, 259,778 ops'],
  ['  same: final text exact', 'replay', 'match', '', 'bool',
    (o) => o === true, 'byte-exact'],
  ['REST snapshot read, GET /api/c/d of a ~10 KB doc: requests/s',
    'snapshot', 'rps', '', 'up'],
  ['  same: static file of the same bytes, same nginx: requests/s',
    'snapshot', 'static_rps', '', 'up'],
  ['  same: snapshot / static', 'snapshot', 'ratio_pct', '%', 'up',
    (o) => o >= 50, '>= 50% of static'],
  ['Cold REST reads (no worker holds the doc), collab_cache off: reads/s',
    'coldread_off', 'rps', '', 'up'],
  ['  same, collab_cache on: reads/s', 'coldread_on', 'rps', '', 'up'],
  ['  same, cache off: PostgreSQL statements per 1,000 cold reads',
    'coldread_off', 'pg_per_1000', '', 'down'],
  ['  same, cache on: PostgreSQL statements per 1,000 cold reads',
    'coldread_on', 'pg_per_1000', '', 'down', (o) => o <= 10, '<= 10'],
];

// auth on may cost at most 5% against the same scenario with auth off
function authCost(on, scenario, field, kind) {
  const off = pick(scenario, 'ours', field);
  if (off === undefined) return false;
  return kind === 'up' ? on >= 0.95 * off : on <= 1.05 * off;
}

// scenarios only our server has (the reference has no REST snapshot, and
// no tokens)
const oursOnly = new Set(['snapshot', 'ack_auth', 'hot10_auth',
  'coldread_off', 'coldread_on']);

const haveRef = servers.includes('ref');
const haveOurs = servers.includes('ours');

function medianBool(scenario, server) {
  const xs = rows.filter((r) => r.scenario === scenario &&
    r.server === server && !r.failed).map((r) => r.match);
  if (!xs.length) return undefined;
  return xs.every((x) => x === true);
}

const table = [];
for (const [name, sc, field, unit, kind, target, ttext] of metrics) {
  if (!rows.some((r) => r.scenario === sc)) continue;
  const ref = kind === 'bool' ? medianBool(sc, 'ref') : pick(sc, 'ref', field);
  const ours = kind === 'bool' ? medianBool(sc, 'ours') :
    pick(sc, 'ours', field);
  let gain = '-';
  if (kind !== 'bool' && ref !== undefined && ours !== undefined &&
      ref > 0 && ours > 0) {
    gain = (kind === 'up' ? ours / ref : ref / ours).toFixed(1) + 'x';
  }
  let status = '';
  if (target) {
    status = ours === undefined ? 'pending' :
      (target(ours, ref) ? 'met' : 'missed');
  }
  const lgcpu = maxOf(sc, 'cpu_pct');
  table.push({
    name, ref: oursOnly.has(sc) ? '—' : fmt(ref, unit), ours: fmt(ours, unit),
    gain, target: ttext || '', status,
    n: oursOnly.has(sc) ? count(sc, 'ours') :
      Math.min(...servers.map((s) => count(sc, s))),
    lgcpu: lgcpu === undefined ? '-' : lgcpu.toFixed(0) + '%',
  });
}

// the OT engine row: bench/ot/run.sh prints "apply: N M ops/s"
if (otFile && fs.existsSync(otFile)) {
  const m = /^apply:\s*([\d.]+)\s*M ops\/s/m.exec(fs.readFileSync(otFile,
    'utf8'));
  if (m) {
    const v = Number(m[1]);
    table.push({name: 'OT engine in-process, apply automerge-paper: M ops/s',
      ref: '-', ours: fmt(v), gain: '-', target: '>= 5M ops/s',
      status: v >= 5 ? 'met' : 'missed', n: 'median of 7', lgcpu: '-'});
  }
}

function mdTable() {
  const head = '| metric | reference ShareDB | ours (nginx) | gain | target |' +
    ' status | runs | loadgen CPU (max) |\n|---|---:|---:|---:|---|---|---:|---:|\n';
  return head + table.map((t) => `| ${t.name.trim()} | ${t.ref} | ${t.ours} |` +
    ` ${t.gain} | ${t.target} | ${t.status} | ${t.n} | ${t.lgcpu} |`)
    .join('\n') + '\n';
}

function textTable() {
  const cols = ['name', 'ref', 'ours', 'gain', 'target', 'status', 'lgcpu'];
  const heads = {name: 'metric (median of runs)', ref: 'reference',
    ours: 'ours', gain: 'gain', target: 'target', status: 'status',
    lgcpu: 'loadgen cpu'};
  const w = {};
  for (const c of cols) {
    w[c] = Math.max(heads[c].length, ...table.map((t) => String(t[c]).length));
  }
  const line = (o) => cols.map((c) => c === 'name' ? String(o[c]).padEnd(w[c]) :
    String(o[c]).padStart(w[c])).join('  ');
  return [line(heads), cols.map((c) => '-'.repeat(w[c])).join('  '),
    ...table.map(line)].join('\n') + '\n';
}

// -- the plot: ack latency percentiles against offered load -----------------

let plotted = false;
const sweep = rows.filter((r) => /^sweep\d+$/.test(r.scenario) && !r.failed);
if (sweep.length && outDir) {
  const dat = path.join(work, 'sweep.dat');
  const lines = [];
  for (const s of servers) {
    lines.push('# ' + s + ': offered_ops_s achieved_ops_s p50 p99 p999');
    const rs = sweep.filter((r) => r.server === s)
      .sort((a, b) => a.rate - b.rate);
    for (const r of rs) {
      // a point with no ack inside the window (collapse) has no percentile
      if (!r.acks) continue;
      lines.push([r.rate * r.writers, r.ops_per_s, r.ack.p50_ms, r.ack.p99_ms,
        r.ack.p999_ms].join(' '));
    }
    lines.push('', '');
  }
  fs.writeFileSync(dat, lines.join('\n'));
  const idx = {};
  servers.forEach((s, i) => { idx[s] = i; });
  const title = {ref: 'ShareDB', ours: 'nginx module'};
  const plots = [];
  for (const s of servers) {
    const lt = s === 'ref' ? 'dt 2' : 'dt 1';
    plots.push(`'${dat}' index ${idx[s]} using 1:3 with linespoints ${lt} ` +
      `lc rgb '${s === 'ref' ? '#1f77b4' : '#d62728'}' pt 7 title '${title[s]} p50'`);
    plots.push(`'${dat}' index ${idx[s]} using 1:4 with linespoints ${lt} ` +
      `lc rgb '${s === 'ref' ? '#6baed6' : '#fc9272'}' pt 5 title '${title[s]} p99'`);
  }
  const gp = path.join(work, 'sweep.gp');
  fs.writeFileSync(gp, [
    "set terminal png size 900,560 font ',10'",
    `set output '${path.join(outDir, 'bench-latency.png')}'`,
    "set title 'Ack latency vs offered load: 10 writers on one document, " +
      "one op in flight each'",
    "set xlabel 'offered load (ops/s, all writers)'",
    "set ylabel 'ack latency (ms, from the time each op was due)'",
    'set logscale xy', 'set grid', 'set key top left',
    'plot ' + plots.join(', \\\n  '),
  ].join('\n') + '\n');
  try {
    execSync(`gnuplot '${gp}'`, {stdio: 'inherit'});
    plotted = true;
  } catch (e) {
    console.error('bench: gnuplot failed: no plot');
  }
}

// -- the machine ----------------------------------------------------------------

function sh(cmd) {
  try {
    return execSync(cmd, {encoding: 'utf8'}).trim();
  } catch (e) {
    return '?';
  }
}

const machine = [
  `- CPU: ${os.cpus().length} x ${os.cpus()[0].model}`,
  `- memory: ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB; kernel ` +
    `${os.release()}`,
  `- nginx: ${sh('/usr/sbin/nginx -v 2>&1 | cut -d/ -f2')}; Node ` +
    `${process.version}; PostgreSQL ` +
    `${sh('/usr/lib/postgresql/15/bin/postgres --version | cut -d" " -f3')}` +
    ` (fsync and synchronous_commit on); Redis ` +
    `${sh("redis-server --version | sed 's/.*v=\\([^ ]*\\).*/\\1/'")}`,
  `- reference: sharedb 7.0.0, sharedb-postgres 5.0.1, ` +
    'sharedb-redis-pubsub 5.1.0, ws 8.23.0, @teamwork/websocket-json-stream ' +
    '2.0.0, one Node process (bench/reference/package-lock.json)',
  `- date: ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`,
].join('\n');

let ot = '';
if (otFile && fs.existsSync(otFile)) {
  ot = fs.readFileSync(otFile, 'utf8').trim();
}

console.log('');
console.log(textTable());
if (!haveOurs) {
  console.log('bench: our server did not answer the protocol: the side-by-side' +
    ' comparison is pending (reference figures only).');
}
if (ot) console.log('OT engine in-process (bench/ot/run.sh):\n' + ot + '\n');

/*
 * Where our commit time went, per scenario (bench/lib/stages.js): the
 * median over the runs of each stage's mean, in ms.
 */
const STAGES = ['queue', 'transform', 'prepare', 'store', 'deliver', 'total',
                'lock_acquire', 'publish'];
const stagesFile = work ? path.join(arg('stages-dir', '/tmp/collab-bench'),
                                    'stages.jsonl') : '';
const stageRows = stagesFile && fs.existsSync(stagesFile)
  ? fs.readFileSync(stagesFile, 'utf8').split('\n').filter((l) => l.trim())
    .map((l) => JSON.parse(l))
  : [];

function stageTable() {
  const scs = [...new Set(stageRows.map((r) => r.scenario))]
    .filter((sc) => stageRows.some((r) => r.scenario === sc
                                   && r.stages.total && r.stages.total.count));
  if (!scs.length) return '';
  const cell = (sc, st) => {
    const m = median(stageRows.filter((r) => r.scenario === sc)
      .map((r) => r.stages[st] && r.stages[st].mean_us));
    return m === undefined ? '-' : (m / 1000).toFixed(3);
  };
  let t = '| scenario | ' + STAGES.join(' | ') + ' |\n|---|'
    + STAGES.map(() => '---:').join('|') + '|\n';
  for (const sc of scs) {
    t += `| ${sc} | ` + STAGES.map((st) => cell(sc, st)).join(' | ') + ' |\n';
  }
  return t;
}

const stages = stageTable();
if (stages) console.log('Where our commit time goes (mean ms per op):\n' + stages);

if (!outDir) process.exit(0);

const notesFile = path.join(__dirname, '..', 'NOTES.md');
const notes = fs.existsSync(notesFile) ? fs.readFileSync(notesFile, 'utf8') :
  '';

const md = `# Benchmarks

Generated by \`${quick ? 'make bench-quick' : 'make bench'}\` (bench/run.sh):
every figure is the median of ${runs} run(s), the two servers measured
side by side in one session, runs alternating between them.
${haveOurs ? '' : '\n**Our server did not answer the ShareDB protocol when this was ' +
  'generated: only the reference server was measured; the side-by-side ' +
  'comparison is pending.**\n'}
## Results

${mdTable()}
"gain" is how many times better ours is than the reference (throughput
ours/ref, latency and memory ref/ours). Targets are those of
shared/notes/performance.md. "loadgen CPU" is the load generator's own CPU
use during the measured window, in % of one core (it is single-threaded, so
100% would mean it is the bottleneck).

${plotted ? '![ack latency percentiles against offered load](bench-latency.png)\n' : ''}
${stages ? `### Where our commit time goes

Mean milliseconds per acknowledged op, from the workers' collab_status
(section commit_latency) before and after each run: **queue** received to
taken into a batch (waiting for the lock, the commit before it, history),
**transform** its own transform and apply, **prepare** taken to the
statement sent, **store** PostgreSQL's answer (pool wait included),
**deliver** answer to ack written (publish, subscribers), **total**
received to ack written; per batch, the Redis round trips of
**lock_acquire** (only when the lock was not held already) and of its
last **publish**.

${stages}
` : ''}${ot ? '### OT engine in-process (bench/ot/run.sh)\n\n```\n' + ot + '\n```\n' : ''}
## Machine

${machine}

## Method

- Load generator: \`bench/loadgen/collab_loadgen\` (C, one thread, epoll
  edge-triggered, non-blocking sockets, many WebSocket connections in one
  loop; masked client frames; a top-level JSON scanner on the hot path and
  yajl for snapshots). Each connection is a ShareDB client: handshake,
  subscribe, then one op in flight (\`{a:'op',v,src,seq,op:[pos,"x"]}\` at a
  random position valid at the version it knows; the server transforms).
  Latencies go into log-linear histograms (1.6% resolution, every sample
  kept), reported as p50/p90/p99/p99.9/max. Open-loop writers (a rate) time
  an op from when it was due if the previous ack made it late, so a slow
  server is not hidden by coordinated omission; closed-loop writers (hot doc,
  replay) time from the write. Delivery latency: each reader looks up the
  send time of every op it receives by (src, seq). It reports its own CPU
  (getrusage) for the measured window. Many connections bind to several
  127.0.0.x source addresses; the 20,000-connection test uses two loadgen
  processes (the open-file limit is 20,000 a process) on 16 addresses.
- Scenarios (each run: create fresh documents, subscribe, 1 s warm-up, then
  measure): **ack** 10 writers at 5 ops/s each on one document, 10 s;
  **hotN** N closed-loop writers on one document, 6 s; **agg1000** 1,000
  documents with one closed-loop writer each (writers not subscribed), 5 s;
  **fanoutN** one writer at 20 ops/s and N subscribers of its document,
  10 s; **idle** N connections after the handshake, server RSS (Node
  process; nginx workers) before/after and server CPU over 5 s while idle;
  **replay** the automerge-paper trace (259,778 patches, one op per patch,
  one op in flight), then a fetch compared byte for byte with the trace's
  final text. Documents start as "." because the reference cannot edit a
  document created empty.${refReplay === 'all' ? '' : ' The reference ' +
  'replays the first ' + refReplay + ' ops only (at ~260 ops/s the whole ' +
  'trace takes about 17 minutes a run); its ops/s is compared, and the text ' +
  'after those ops is checked exactly.'}
- REST snapshot reads (**snapshot**, ours only: ShareDB has no REST
  snapshot): \`wrk -t2 -c64\` (keep-alive) on \`GET /api/bench/snap10k\`,
  a ~10 KB document (ASCII, accents, CJK, emoji) created through the
  WebSocket and served from the worker's copy, and on
  \`/static/snap10k.json\`, the very bytes of that response as a file
  from the same nginx (\`sendfile on\`), in alternating ${quick ? 1 : 2} s
  slices, about ${quick ? 3 : 10} s on each a run; the ratio is the mean
  requests/s of one over the other's. A run with any non-2xx answer counts
  as failed. wrk shares the 2 cores with nginx in both.
- Reference server: \`bench/reference/server.js\`, stock ShareDB over \`ws\` +
  websocket-json-stream, its own database \`sharedb_ref\` in the same
  PostgreSQL (sharedb-postgres's structure.sql) and Redis db 1. The npm
  \`overrides\` make sharedb-postgres and sharedb-redis-pubsub use sharedb 7:
  with their own nested sharedb 5.2 the pub/sub layer subscribed a channel
  twice under concurrent subscribes and delivered every op twice to each
  subscriber, which would have penalised the reference unfairly.
- Our server: nginx 1.22.1 (Debian) with the module, 2 workers,
  \`reuseport\`, same PostgreSQL (schema sql/) and Redis.
- The sweep behind the plot: 10 writers on one document at 5 to 500 ops/s
  each (50 to 5,000 ops/s offered), one 4 s run per point.

${notes}`;

fs.writeFileSync(path.join(outDir, 'benchmarks.md'), md);
console.log('bench: wrote ' + path.join(outDir, 'benchmarks.md') +
  (plotted ? ' and bench-latency.png' : ''));
