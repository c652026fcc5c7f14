// Messages on a document's Redis channel that no commit made
// (t/48-bus-forgery.t): two stock sharedb clients on distinct workers type
// into one document, forged messages are PUBLISHed on its channel, and the
// document must recover by itself: every client ends on PostgreSQL's text
// at PostgreSQL's head, new submits are acknowledged, the REST snapshot is
// PostgreSQL's and no acknowledged op is lost.
//
// The clients behave as an application should when the server closes with
// 4001 ("document reloaded"): the sharedb Doc never moves its version back,
// so a reconnect of the same Connection would resubscribe from the bogus
// version; the application opens a fresh connection and fetches again.
//
// usage: main(docName, async (doc, head, pub) => [payload, ...], opts)
//   the forger may publish (pub) and write to PostgreSQL itself, and
//   returns what is to be published next
//   opts.reload: the forgery is one the workers apply, so they must resync
//   and close their subscribers with 4001; otherwise nobody may be closed
//   opts.quiet: nobody types after the forgery (the head check notices)

'use strict';

const cp = require('child_process');
const C = require('./lib/collab-client');

const COLL = 't48';
const RELOADED = 4001;

// signed as the workers sign (collab_src_secret is the test default):
// what another deployment sharing Redis, the prefix and the secret sends;
// unsigned messages never reach a document (t/49-bus-signed.t)
function publish(channel, payload) {
  const [host, port] = C.env('COLLAB_REDIS').split(':');
  return new Promise((res, rej) => cp.execFile('redis-cli',
    ['-h', host, '-p', port, 'PUBLISH', channel, C.busSign(channel, payload)],
    (e, out) => (e ? rej(e) : res(Number(out.trim())))));
}

// one editing application: its connection and doc, reopened on 4001
class Writer {
  constructor(name, d, url) {
    this.name = name;
    this.d = d;
    this.url = url;
    this.closes = [];
    this.acked = [];
    this.k = 0;
    this.reopening = null;
  }

  async attach(client) {
    this.client = client;
    this.doc = client.doc(COLL, this.d);
    client.socket.on('close', (code, reason) => {
      if (client !== this.client) return;
      C.log(`${this.name}: closed ${code} ${reason}`);
      this.closes.push(code);
      if (code === RELOADED) this.reopening = this.reopen();
    });
    await C.within(C.subscribe(this.doc), 5000, `${this.name} subscribes`);
  }

  async reopen() {
    const old = this.client;
    old.closed = true;
    await this.attach(await C.Client.open(this.url, { name: this.name }));
    old.conn.close();
  }

  // one unique insert at a random place; resolves true if acknowledged
  async type(rng) {
    const token = `<${this.name}${this.k++}>`;
    const doc = this.doc;
    if (doc.connection.state !== 'connected' || doc.type == null) {
      return false;
    }
    // between tokens only, so that no token splits another
    const cuts = [0];
    let i = 0;
    for (const ch of doc.data) {
      i++;
      if (ch === '>' || ch === ' ') cuts.push(i);
    }
    const pos = rng.pick(cuts);
    try {
      await C.within(C.submit(doc, pos ? [pos, token] : [token]), 3000,
                     `${this.name} ack of ${token}`);
      this.acked.push(token);
      return true;
    } catch (e) {
      C.log(`${this.name}: ${token} not acknowledged: ${e.code || e.message}`);
      return false;
    }
  }

  async typeMany(rng, n) {
    for (let i = 0; i < n; i++) {
      await this.type(rng);
      await C.delay(rng.int(30));
    }
  }
}

async function pgState(d) {
  const rows = await C.opLog(COLL, d);
  C.checkLog(rows, `the op log of ${d}`);
  return { v: rows.length, text: C.replay(rows, d).text };
}

// every writer's doc is PostgreSQL's text at PostgreSQL's head
async function convergedOnPg(writers, d, ms, what) {
  let pg = null;
  await C.waitFor(async () => {
    pg = await pgState(d);
    return writers.every((w) => w.doc.connection.state === 'connected'
      && !w.doc.hasWritePending() && w.doc.version === pg.v
      && w.doc.data === pg.text);
  }, ms, what, () => `PostgreSQL v${pg && pg.v} ${C.show(pg && pg.text)}`
    + writers.map((w) => `\n    ${w.name}: ${w.doc.connection.state} `
      + `v${w.doc.version} ${C.show(w.doc.data)} `
      + `pending=${w.doc.hasWritePending()} closes=${w.closes}`).join(''),
  50);
  return pg;
}

function main(d, forge, opts) {
  C.main(async () => {
    const url = C.env('COLLAB_WS_URL');
    const api = `${C.env('COLLAB_HTTP_URL')}/api/${COLL}/${d}`;
    const rng = C.prng(48);
    const channel = `collab:doc:${COLL.length}:${COLL}/${d}`;

    C.stage('two writers on distinct workers');
    const pair = await C.clientsOnDistinctWorkers(url, 2, { name: d });
    const a = new Writer('a', d, url);
    const b = new Writer('b', d, url);
    await C.within(C.create(pair[0].client.doc(COLL, d), 'hello ', C.URI),
                   5000, 'create');
    await a.attach(pair[0].client);
    await b.attach(pair[1].client);
    const writers = [a, b];

    C.stage('they type');
    await Promise.all(writers.map((w) => w.typeMany(rng, 6)));
    const before = await convergedOnPg(writers, d, 5000, 'typed');
    C.eq(a.acked.length + b.acked.length, 12, 'every op acknowledged');

    C.stage('the forgeries are published, then they type again');
    const pub = async (p) => {
      const n = await publish(channel, p);
      C.check(n === 2, `both workers hear the channel (${n} receivers)`);
    };
    for (const p of await forge(d, before.v, pub)) await pub(p);
    await C.delay(200);
    C.log(`a at v${a.doc.version}, b at v${b.doc.version}, PostgreSQL at `
          + `v${await C.headVersion(COLL, d)}`);
    if (!opts.quiet) {
      await Promise.all(writers.map((w) => w.typeMany(rng, 4)));
    }

    C.stage('the document recovers by itself');
    await convergedOnPg(writers, d, 10000, 'every client on PostgreSQL\'s '
                        + 'text at its head');
    for (const w of writers) {
      if (w.reopening) await w.reopening;
    }

    C.stage('new submits are acknowledged');
    for (const w of writers) {
      C.check(await w.type(rng), `${w.name}: a new submit is acknowledged`);
    }
    const pg = await convergedOnPg(writers, d, 5000, 'converged after it');

    C.stage('the REST snapshot is PostgreSQL\'s');
    let snap;
    await C.waitFor(async () => {
      const res = await fetch(api);
      snap = await res.json();
      return snap.v === pg.v;
    }, 5000, 'REST serves the head', () => C.show(snap));
    C.eq(snap, { v: pg.v, type: C.URI, data: pg.text }, 'REST snapshot');

    C.stage('no acknowledged op is lost, no forged text is kept');
    for (const w of writers) {
      for (const t of w.acked) {
        C.check(pg.text.includes(t), `${w.name}'s acknowledged ${t} is in `
                + 'PostgreSQL', pg.text);
      }
    }
    for (const bad of ['EVIL', 'FAR', 'OLD']) {
      C.check(!pg.text.includes(bad), `no ${bad} in PostgreSQL`, pg.text);
    }

    const reloaded = writers.filter((w) => w.closes.includes(RELOADED));
    if (opts.reload) {
      C.eq(reloaded.length, 2, 'both workers closed their subscriber '
           + 'with 4001');
    } else {
      C.eq(writers.map((w) => w.closes), [[], []], 'nobody was closed');
    }
    writers.forEach((w) => w.client.close());
  }, { timeout: 80000 });
}

module.exports = { main };
