# Acceptance with the unmodified sharedb 7 client: create, subscribe, submit,
# fetch, errors, snapshots at a version, queries, delete, and the op log in
# PostgreSQL.  Black-box: only the ShareDB protocol and the schema are known.
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
my %defaults = (
    http_config => <<'END',
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
END
    config => <<'END',
    location /ws { collab_websocket; }
END
);

# blocks without these sections get them
run_tests(defaults => \%defaults);
__DATA__

=== TEST 1: create (by name and by URI), subscribe, edit from two clients, fetch, op log
--- http_config
    collab_postgres "$TEST_COLLAB_PG";
    collab_redis $TEST_COLLAB_REDIS;
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
--- config
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  C.stage('handshake: two sharedb connections');
  const a = await C.Client.open(url, { name: 'a' });
  const b = await C.Client.open(url, { name: 'b' });
  C.check(a.id !== b.id, 'two connections get distinct src ids', [a.id, b.id]);

  for (const [tag, type] of [['name', 'text-unicode'], ['uri', C.URI]]) {
    const coll = 't40';
    const id = 'basic-' + tag;
    const da = a.doc(coll, id);
    const db = b.doc(coll, id);

    C.stage(`${id}: create with type ${JSON.stringify(type)}`);
    await C.within(C.create(da, 'héllo', type), 5000, 'the create ack');
    C.eq(da.version, 1, 'version after create');
    C.eq(da.type && da.type.uri, C.URI, 'created doc type');
    await C.within(C.subscribe(da), 5000, 'a subscribe reply');

    C.stage(`${id}: subscribe from b`);
    await C.within(C.subscribe(db), 5000, 'b subscribe reply');
    C.eq(db.type && db.type.uri, C.URI, 'b sees the text-unicode type');
    C.eq(db.data, 'héllo', 'b sees the created text');
    C.eq(db.version, 1, 'b sees version 1');
    const remote = [];
    db.on('op', (op, source) => { if (!source) remote.push(op); });

    // insert, delete, non-BMP inserts and a non-BMP delete; positions
    // count code points
    const script = [
      [a, da, [5, ' wörld']],        // héllo wörld
      [a, da, [1, { d: 4 }]],        // h wörld
      [a, da, ['😀']],               // 😀h wörld
      [a, da, [1, '🎉']],            // 😀🎉h wörld
      [b, db, [3, '漢字']],          // 😀🎉h漢字 wörld
      [b, db, [2, { d: 1 }]],        // 😀🎉漢字 wörld
      [b, db, [{ d: 1 }]],           // 🎉漢字 wörld
      [a, da, [3, 'e\u0301']],       // 🎉漢字é wörld (combining mark)
    ];
    let want = 'héllo';
    const aOps = [];
    for (const [who, doc, op] of script) {
      C.stage(`${id}: ${who.name} submits ${JSON.stringify(op)}`);
      // each submit waits for the previous op to reach the other side, so
      // every op is made against the latest text
      await C.within(C.submit(doc, op), 5000, `the ack of ${JSON.stringify(op)}`);
      want = C.TYPE.apply(want, op);
      if (who === a) aOps.push(op);
      await C.converge([da, db], 5000, 'a and b converge after the op');
    }
    C.eq(want, '🎉漢字e\u0301 wörld', 'the oracle agrees with the script');
    C.eq(da.data, want, 'a\'s text');
    C.eq(db.data, want, 'b\'s text');
    C.eq(da.version, 1 + script.length, 'a\'s version');
    C.eq(db.version, 1 + script.length, 'b\'s version');
    C.eq(remote.length, aOps.length, 'b received a\'s ops as remote ops');

    C.stage(`${id}: fetch from a third connection`);
    const c = await C.Client.open(url, { name: 'c' });
    const dc = c.doc(coll, id);
    await C.within(C.fetch(dc), 5000, 'fetch reply');
    C.eq(dc.data, want, 'fetched text');
    C.eq(dc.version, 1 + script.length, 'fetched version');
    C.eq(dc.type && dc.type.uri, C.URI, 'fetched type');
    c.close();

    C.stage(`${id}: the op log in PostgreSQL`);
    const rows = await C.opLog(coll, id);
    C.eq(rows.length, 1 + script.length, 'op log rows');
    C.checkLog(rows, id);
    C.eq(rows[0].kind, 'create', 'v1 is the create');
    C.eq(rows[0].type, C.URI, 'create type is stored as the URI');
    C.eq(rows[0].data, 'héllo', 'create data');
    C.eq(rows.slice(1).map((r) => r.op), script.map((s) => s[2]),
         'the committed ops are the submitted ones, in order');
    C.eq(rows.slice(1).map((r) => r.src),
         script.map((s) => s[0].id), 'each op carries its submitter\'s src');
    C.eq(C.replay(rows, id).text, want, 'replaying the op log');
    const head = await C.docRow(coll, id);
    C.eq(head && head.version, 1 + script.length, 'collab_docs head version');

    C.stage(`${id}: the history endpoint agrees`);
    const res = await fetch(`${process.env.COLLAB_HTTP_URL}/api/${coll}/${id}/ops`);
    C.eq(res.status, 200, 'GET /api/<c>/<d>/ops status');
    const hist = await res.json();
    C.eq(hist.map((h) => [h.v, h.src, h.seq]),
         rows.map((r) => [r.v, C.publicSrc(r.src), r.seq]),
         'history (v, public src, seq)');
  }
  a.close();
  b.close();
}, { timeout: 50000 });
--- no_error_log
[crit]


=== TEST 2: an empty doc can be edited; create twice; unknown type
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const a = await C.Client.open(url, { name: 'a' });
  const b = await C.Client.open(url, { name: 'b' });

  C.stage('create with empty text');
  const da = a.doc('t40', 'empty');
  await C.within(C.create(da, '', 'text-unicode'), 5000, 'create ack');
  await C.within(C.subscribe(da), 5000, 'a subscribes');

  C.stage('another connection fetches it: it exists, text ""');
  const db = b.doc('t40', 'empty');
  await C.within(C.fetch(db), 5000, 'fetch reply');
  C.check(db.type !== null, 'a doc created with "" is not read back as '
          + 'missing (type must be set)', { v: db.version, data: db.data });
  C.eq(db.data, '', 'fetched text of the empty doc');
  C.eq(db.version, 1, 'fetched version of the empty doc');

  C.stage('edit the empty doc');
  await C.within(C.submit(db, ['abc😀']), 5000, 'ack of the first insert');
  await C.converge([da, db], 5000, 'the subscriber sees the insert');
  C.eq(da.data, 'abc😀', 'text after editing the empty doc');
  C.eq(C.replay(await C.opLog('t40', 'empty'), 'empty').text, 'abc😀',
       'op log replay of the empty doc');

  C.stage('create twice');
  const c = await C.Client.open(url, { name: 'c' });
  const dc = c.doc('t40', 'empty');
  const err = await C.within(C.rejects(C.create(dc, 'again', C.URI),
                                       'second create'), 5000,
                             'the error for the second create');
  C.eq(err.code, 'ERR_DOC_ALREADY_CREATED', 'second create error code');
  await C.converge([da, db, dc], 5000, 'the rolled-back doc refetches');
  C.eq(dc.data, 'abc😀', 'the second create changed nothing');
  C.eq((await C.opLog('t40', 'empty')).length, 2, 'op log rows after the '
       + 'failed create');

  C.stage('create with an unknown type (raw: the stock client refuses)');
  const raw = await C.RawClient.open(url);
  raw.send({ a: 'op', c: 't40', d: 'typeless', v: 0, seq: 1,
             create: { type: 'http://example.com/types/nope', data: 'x' } });
  const rep = await raw.next((m) => m.a === 'op' && m.d === 'typeless', 5000,
                             'a reply to the create with an unknown type');
  C.check(rep.error, 'the create with an unknown type is an error', rep);
  C.eq(rep.error.code, 'ERR_DOC_TYPE_NOT_RECOGNIZED', 'unknown type code');
  C.eq(await C.docRow('t40', 'typeless'), null, 'no document row created');
  C.eq((await C.opLog('t40', 'typeless')).length, 0, 'no op logged');
  raw.close();
  for (const x of [a, b, c]) x.close();
}, { timeout: 40000 });
--- no_error_log
[crit]


=== TEST 3: badly formed ops are refused and nothing is committed; a raw valid op is acked
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const a = await C.Client.open(url, { name: 'a' });
  const da = a.doc('t40', 'bad');
  await C.within(C.create(da, 'abc', C.URI), 5000, 'create ack');
  await C.within(C.subscribe(da), 5000, 'subscribe');

  const raw = await C.RawClient.open(url);
  // each of these is rejected by the ot-text-unicode reference
  const bad = [[{ d: 0 }], 'nope', {}, [10, 'x'], [1, 2, 'x'], [1], [''],
               [0, 'x'], [{ x: 1 }]];
  let seq = 1;
  for (const op of bad) {
    C.stage(`bad op ${JSON.stringify(op)}`);
    raw.send({ a: 'op', c: 't40', d: 'bad', v: 1, seq, op });
    const s = seq++;
    const rep = await raw.next((m) => m.a === 'op' && m.seq === s, 5000,
                               `the reply to bad op ${JSON.stringify(op)}`);
    C.check(rep.error && typeof rep.error.message === 'string',
            `bad op ${JSON.stringify(op)} gets an error with a message`, rep);
    C.check(['ERR_OT_OP_BADLY_FORMED', 'ERR_OT_OP_NOT_APPLIED']
              .includes(rep.error.code),
            `bad op ${JSON.stringify(op)}: code ERR_OT_OP_BADLY_FORMED `
            + 'or ERR_OT_OP_NOT_APPLIED', rep.error);
  }

  C.stage('an op on a version newer than the document');
  raw.send({ a: 'op', c: 't40', d: 'bad', v: 99, seq: seq, op: ['x'] });
  const s99 = seq++;
  const r99 = await raw.next((m) => m.a === 'op' && m.seq === s99, 5000,
                             'the reply to an op at v99');
  C.check(r99.error, 'an op at v99 of a v1 doc is an error', r99);
  C.eq(r99.error.code, 'ERR_OP_VERSION_NEWER_THAN_CURRENT_SNAPSHOT',
       'code for an op newer than the snapshot');

  C.stage('nothing was committed');
  const rows = await C.opLog('t40', 'bad');
  C.eq(rows.length, 1, 'op log has only the create');
  C.eq(await C.headVersion('t40', 'bad'), 1, 'head version');
  C.eq(da.version, 1, 'the subscriber saw no op');
  C.eq(da.data, 'abc', 'the subscriber text');

  C.stage('the same connection can still submit a valid op');
  raw.send({ a: 'op', c: 't40', d: 'bad', v: 1, seq: 100, op: [3, 'd'] });
  const ack = await raw.next((m) => m.a === 'op' && m.seq === 100, 5000,
                             'the ack of a valid raw op');
  C.check(!ack.error, 'the valid op is acked, not refused', ack);
  C.eq([ack.c, ack.d, ack.v, ack.src], ['t40', 'bad', 1, raw.id],
       'ack carries c, d, the version it was committed at and src');
  await C.converge([da], 5000, 'the subscriber gets the op',
                   () => C.headVersion('t40', 'bad'));
  C.eq(da.data, 'abcd', 'the subscriber text after the valid op');
  C.eq(da.version, 2, 'the subscriber version after the valid op');
  const rows2 = await C.opLog('t40', 'bad');
  C.checkLog(rows2, 'bad');
  C.eq([rows2[1].src, rows2[1].seq, rows2[1].op], [raw.id, 100, [3, 'd']],
       'the logged op');
  raw.close();
  a.close();
}, { timeout: 40000 });
--- no_error_log
[crit]


=== TEST 4: fetchSnapshot at a version; queries fail clearly
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const a = await C.Client.open(url, { name: 'a' });
  const da = a.doc('t40', 'hist');
  C.stage('build a history');
  const texts = [undefined, 'a'];
  await C.within(C.create(da, 'a', C.URI), 5000, 'create ack');
  const ops = [[1, 'b😀'], [{ d: 1 }], [2, '字'], [1, { d: 2 }, 'Z'],
               ['🎉'], [3, '\n\n']];
  for (const op of ops) {
    await C.within(C.submit(da, op), 5000, `ack of ${JSON.stringify(op)}`);
    texts.push(C.TYPE.apply(texts[texts.length - 1], op));
  }

  C.stage('fetchSnapshot at every version from another connection');
  const b = await C.Client.open(url, { name: 'b' });
  for (let v = 1; v < texts.length; v++) {
    const s = await C.within(C.fetchSnapshot(b.conn, 't40', 'hist', v), 5000,
                             `fetchSnapshot v${v}`);
    C.eq([s.v, s.data, s.type && (s.type.uri || s.type)],
         [v, texts[v], C.URI], `snapshot at v${v}`);
  }
  const s0 = await C.within(C.fetchSnapshot(b.conn, 't40', 'hist', 0), 5000,
                            'fetchSnapshot v0');
  C.eq([s0.v, s0.type], [0, null], 'snapshot at v0 is the missing doc');
  const sl = await C.within(C.fetchSnapshot(b.conn, 't40', 'hist', null),
                            5000, 'fetchSnapshot latest');
  C.eq([sl.v, sl.data], [texts.length - 1, texts[texts.length - 1]],
       'snapshot without a version is the latest');

  C.stage('a fetch query fails with an error code and message');
  const qerr = await C.within(new Promise((res) => {
    b.conn.createFetchQuery('t40', {}, {}, (err, results) =>
      res(err || { unexpected: results && results.length }));
  }), 5000, 'the query reply');
  C.check(typeof qerr.code === 'string' && /^ERR_/.test(qerr.code)
          && typeof qerr.message === 'string' && qerr.message.length > 0,
          'a query is refused with an ERR_ code and a message', qerr);

  C.stage('the connection still works after the refused query');
  const db = b.doc('t40', 'hist');
  await C.within(C.fetch(db), 5000, 'fetch after the query');
  C.eq(db.data, texts[texts.length - 1], 'fetch after the query');
  a.close();
  b.close();
}, { timeout: 40000 });
--- no_error_log
[crit]


=== TEST 5: delete: subscribers see it, the log records it, later ops fail
--- node
const C = require(process.cwd() + '/lib/collab-client');
const url = process.env.COLLAB_WS_URL;

C.main(async () => {
  const a = await C.Client.open(url, { name: 'a' });
  const b = await C.Client.open(url, { name: 'b' });
  const da = a.doc('t40', 'gone');
  const db = b.doc('t40', 'gone');
  await C.within(C.create(da, 'bye 👋', C.URI), 5000, 'create ack');
  await C.within(C.subscribe(db), 5000, 'b subscribes');
  C.eq(db.data, 'bye 👋', 'b text before the delete');
  let sawDel = false;
  db.on('del', () => { sawDel = true; });

  C.stage('delete');
  await C.within(C.del(da), 5000, 'the delete ack');
  C.eq(da.type, null, 'a: no type after the delete');
  C.eq(da.version, 2, 'a: version after the delete');
  await C.waitFor(() => sawDel, 5000, 'b receives the delete');
  C.eq([db.type, db.version], [null, 2], 'b after the delete');

  C.stage('a fresh fetch sees a deleted doc');
  const c = await C.Client.open(url, { name: 'c' });
  const dc = c.doc('t40', 'gone');
  await C.within(C.fetch(dc), 5000, 'fetch reply');
  C.eq([dc.type, dc.version], [null, 2], 'fetched deleted doc (type, v)');

  C.stage('the op log records the delete');
  const rows = await C.opLog('t40', 'gone');
  C.checkLog(rows, 'gone');
  C.eq(rows.map((r) => r.kind), ['create', 'del'], 'op log kinds');
  C.eq(C.replay(rows, 'gone').deleted, true, 'replay ends deleted');
  const row = await C.docRow('t40', 'gone');
  C.eq([row.version, row.deleted], [2, true], 'collab_docs row');

  C.stage('an op on the deleted doc is refused');
  const raw = await C.RawClient.open(url);
  raw.send({ a: 'op', c: 't40', d: 'gone', v: 2, seq: 1, op: ['x'] });
  const rep = await raw.next((m) => m.a === 'op' && m.seq === 1, 5000,
                             'the reply to an op on a deleted doc');
  C.check(rep.error && ['ERR_DOC_WAS_DELETED', 'ERR_DOC_DOES_NOT_EXIST']
            .includes(rep.error.code),
          'an op on a deleted doc: ERR_DOC_WAS_DELETED or '
          + 'ERR_DOC_DOES_NOT_EXIST', rep);
  C.eq((await C.opLog('t40', 'gone')).length, 2, 'nothing more logged');
  raw.close();
  for (const x of [a, b, c]) x.close();
}, { timeout: 40000 });
--- no_error_log
[crit]
