// Where our server's commit time goes: its collab_status "commit_latency"
// section (per worker) summed over the workers, before and after a run.
//
//   node stages.js snap <port> <workers> <file>   write a snapshot
//   node stages.js diff <before> <after> <scenario>
//       one results line: {"scenario","server":"ours","stages":{name:
//       {"count","mean_us"}}} (stage means over that run's acks)

'use strict';

const fs = require('fs');
const http = require('http');

function get(port) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/collab_status',
                           agent: false, headers: { Connection: 'close' } },
    (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        try { resolve(JSON.parse(body)); } catch (e) { reject(e); }
      });
    });
    req.on('error', reject);
    req.setTimeout(3000, () => req.destroy(new Error('timeout')));
  });
}

// each worker answers some of the connections: ask until all were heard
async function snap(port, workers) {
  const by = {};
  for (let i = 0; i < 60 && Object.keys(by).length < workers; i++) {
    const st = await get(port);
    if (st && st.pid && st.commit_latency) by[st.pid] = st.commit_latency;
  }
  return by;
}

function sum(by) {
  const out = {};
  for (const lat of Object.values(by)) {
    for (const [stage, v] of Object.entries(lat)) {
      out[stage] = out[stage] || { count: 0, sum_us: 0 };
      out[stage].count += v.count;
      out[stage].sum_us += v.sum_us;
    }
  }
  return out;
}

async function main() {
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'snap') {
    fs.writeFileSync(a[2], JSON.stringify(await snap(Number(a[0]),
                                                     Number(a[1]))));
    return;
  }
  if (cmd === 'diff') {
    const before = sum(JSON.parse(fs.readFileSync(a[0], 'utf8')));
    const after = sum(JSON.parse(fs.readFileSync(a[1], 'utf8')));
    const stages = {};
    for (const [stage, v] of Object.entries(after)) {
      const b = before[stage] || { count: 0, sum_us: 0 };
      const n = v.count - b.count;
      stages[stage] = { count: n,
                        mean_us: n > 0 ? Math.round((v.sum_us - b.sum_us) / n)
                                       : null };
    }
    console.log(JSON.stringify({ scenario: a[2], server: 'ours', stages }));
    return;
  }
  throw new Error('usage: stages.js snap|diff ...');
}

main().catch((e) => { console.error('stages: ' + e.message); process.exit(1); });
