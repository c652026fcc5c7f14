# The editor in headless Chromium (Debian's chromium driven by playwright-core):
# two pages (own contexts, so own names and colours) open one document,
# type concurrently (emoji included), converge to the server's snapshot,
# show each other's caret, selection and name; a reload keeps the text; edits
# made offline (the page's "Go offline" button, then the network cut under
# an open socket) survive the reconnect; when the server reloads the
# document from PostgreSQL (close 4001, here after an op forged on its Redis
# channel) the pages load it again and resend what was not acknowledged.
# Saves build/screenshot-editors.png
# (`make screenshot` copies it to docs/ for the README).
# Needs web/dist (make web) and /usr/bin/chromium (.ci/deps.sh).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];

run_tests();

__DATA__

=== TEST 1: two browsers edit one document
--- http_config
    include /etc/nginx/mime.types;
    collab_postgres "$TEST_COLLAB_PG";
    collab_commit_wait 2s;
    collab_redis $TEST_COLLAB_REDIS;
    collab_src_secret $TEST_COLLAB_SRC_SECRET;
--- config
    location /ws { collab_websocket; }
    location /api/ { collab_api; }
    location / {
        root $TEST_COLLAB_ROOT/web/dist;
        index index.html;
        add_header Cache-Control "no-cache";
    }
--- node_timeout: 150
--- node
const crypto = require('crypto');
const path = require('path');
const {chromium} = require('playwright-core');
const sharedb = require('sharedb/lib/client');
const WebSocket = require('ws');
const textUnicode = require('ot-text-unicode');

sharedb.types.register(textUnicode.type);

const HTTP = process.env.COLLAB_HTTP_URL;
const WS = process.env.COLLAB_WS_URL;
const SHOT = process.env.COLLAB_SCREENSHOT
    || path.join(process.env.COLLAB_ROOT, 'build/screenshot-editors.png');
const ID = 'team-notes';
const A_TEXT = '- try it with emoji 😀 ';
const B_TEXT = 'Weekly sync 🎉\n';
const MIDDLE = 'Agenda\n- ship the editor\n- write the docs\n';
const OFFLINE_TEXT = ' typed offline ✈️';
const CUT_TEXT = ' typed while cut off 🌧';
const RELOAD_TEXT = ' and after a reload';
const KEPT_TEXT = ' typed while the database was down 🛠';

function run(cmd, args) {
    return new Promise((res, rej) => execFile(cmd, args,
        (e, out, err) => (e ? rej(new Error(err || e.message))
                            : res(out.trim()))));
}
const pgCtl = (...a) => run('bash',
    [path.join(process.env.COLLAB_ROOT, '.ci/pg.sh'), ...a]);
const {execFile} = require('child_process');

function redisCli(...args) {
    const [host, port] = process.env.COLLAB_REDIS.split(':');
    return new Promise((res, rej) => execFile('redis-cli',
        ['-h', host, '-p', port, ...args],
        (e, out) => (e ? rej(e) : res(out.trim()))));
}

let failures = 0;
function check(ok, what) {
    console.log((ok ? 'ok: ' : 'NOT OK: ') + what);
    if (!ok) failures++;
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function until(fn, what, ms = 15000) {
    const end = Date.now() + ms;
    let last;
    for (;;) {
        last = await fn();
        if (last) return last;
        if (Date.now() > end) throw new Error('timed out waiting for ' + what);
        await sleep(100);
    }
}

/* the server's view of the document, via the stock sharedb client */
function serverDoc(fn) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(WS);
        const c = new sharedb.Connection(ws);
        const d = c.get('docs', ID);
        fn(d, (err) => {
            const out = {v: d.version, data: d.data};
            c.close();
            err ? reject(err) : resolve(out);
        });
    });
}

const fetchServer = () => serverDoc((d, cb) => d.fetch(cb));

async function state(page) {
    return page.evaluate(() => {
        const c = window.collab;
        return {
            text: c.view ? c.view.state.doc.toString() : null,
            v: c.doc ? c.doc.version : null,
            pending: c.doc ? c.doc.hasWritePending() : null,
            conn: document.getElementById('conn').dataset.state,
            carets: [...document.querySelectorAll('.cm-remote-name')]
                .map((e) => e.textContent),
        };
    });
}

async function open(page) {
    await page.goto(`${HTTP}/#/d/${ID}`);
    await until(async () => (await state(page)).text !== null
                && (await state(page)).conn === 'connected', 'editor');
    await page.click('.cm-content');
}

/* both pages idle, equal, and equal to a fresh fetch from the server */
async function converged(pages, what) {
    let s;
    await until(async () => {
        s = await Promise.all(pages.map(state));
        return s.every((x) => !x.pending && x.conn === 'connected'
                       && x.text === s[0].text && x.v === s[0].v);
    }, what + ': pages converge', 20000);
    const srv = await fetchServer();
    check(srv.data === s[0].text && srv.v === s[0].v,
          `${what}: pages equal the server snapshot (v${srv.v})`);
    return srv.data;
}

(async () => {
    const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });
    const pages = [];
    const errors = [];

    for (const [name, hue] of [['Alice', 210], ['Bob', 15]]) {
        const ctx = await browser.newContext({
            viewport: {width: 720, height: 460}, deviceScaleFactor: 1,
        });
        await ctx.addInitScript(([n, h]) => {
            localStorage.setItem('collab.name', n);
            localStorage.setItem('collab.hue', String(h));
        }, [name, hue]);
        const page = await ctx.newPage();
        page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
        pages.push(page);
    }
    const [a, b] = pages;

    try {
        /* a document made by another client, then opened by both pages */
        await serverDoc((d, cb) => d.create(MIDDLE, textUnicode.type.uri, cb));
        await open(a);
        await open(b);
        check((await state(a)).text === MIDDLE, 'page A loads the text');

        /* concurrent typing, emoji included: B at the start, A at the end */
        await a.keyboard.press('Control+End');
        await b.keyboard.press('Control+Home');
        await Promise.all([a.keyboard.type(A_TEXT, {delay: 25}),
                           b.keyboard.type(B_TEXT, {delay: 25})]);
        let text = await converged(pages, 'concurrent typing');
        check(text === B_TEXT + MIDDLE + A_TEXT,
              'both edits kept, in place: ' + JSON.stringify(text));

        /* each page shows the other's caret with the other's name */
        await b.evaluate(() => {
            const v = window.collab.view;
            const at = v.state.doc.toString().indexOf('editor');
            v.dispatch({selection: {anchor: at, head: at + 6}});
            v.focus();
        });
        await until(async () => (await state(a)).carets.includes('Bob')
                    && (await state(b)).carets.includes('Alice'), 'carets');
        check(true, "each page shows the other's caret and name");
        check(await a.evaluate(() => getComputedStyle(
                  document.querySelector('.cm-remote-name')).position)
              === 'absolute', 'the stylesheet is applied');
        await until(() => a.evaluate(() =>
            !!document.querySelector('.cm-remote-selection')),
            "B's selection on A");
        check(true, "page A shows B's selection");

        /* the screenshot for the README: both editors side by side */
        await sleep(400);
        const shots = await Promise.all(pages.map((p) => p.screenshot(
            {animations: 'disabled', caret: 'hide'})));
        const board = await browser.newPage({
            viewport: {width: 1476, height: 482}, deviceScaleFactor: 1,
        });
        await board.setContent(`<body style="margin:0;padding:10px;
            background:#d0d7de;display:flex;gap:10px">${shots.map((s) =>
            `<img style="border:1px solid #8c959f" src="data:image/png;base64,${
            s.toString('base64')}">`).join('')}</body>`);
        await board.screenshot({path: SHOT, animations: 'disabled'});
        await board.close();
        console.log('screenshot: ' + SHOT);

        /* reloading keeps the text */
        await b.reload();
        await open(b);
        check((await state(b)).text === text, 'reloaded page has the text');

        /* offline: A goes offline, both type, A comes back */
        await a.click('#conn-toggle');
        await until(async () => (await state(a)).conn === 'offline', 'offline');
        await a.click('.cm-content');
        await a.keyboard.press('Control+End');
        await a.keyboard.type(OFFLINE_TEXT, {delay: 10});
        await b.click('.cm-content');
        await b.keyboard.press('Control+Home');
        await b.keyboard.type('Agreed. ', {delay: 10});
        await sleep(500);
        check(!(await fetchServer()).data.includes(OFFLINE_TEXT),
              'offline edits stay in the page while offline');
        await a.click('#conn-toggle');
        text = await converged(pages, 'back online');
        check(text === 'Agreed. ' + B_TEXT + MIDDLE + A_TEXT + OFFLINE_TEXT,
              'offline edits survive the reconnect: ' + JSON.stringify(text));

        /* the network drops under an open socket: automatic reconnect */
        const ctxA = a.context();
        await a.click('.cm-content');
        await ctxA.setOffline(true);
        await a.evaluate(() => window.collab.socket.reconnect());
        await until(async () => (await state(a)).conn !== 'connected',
                    'connection lost');
        await a.keyboard.press('Control+End');
        await a.keyboard.type(CUT_TEXT, {delay: 10});
        await sleep(1000);
        await ctxA.setOffline(false);
        text = await converged(pages, 'automatic reconnect');
        check(text.endsWith(OFFLINE_TEXT + CUT_TEXT),
              'edits made while cut off survive the automatic reconnect');

        /*
         * the server throws its copy away: an op forged on the document's
         * Redis channel at the head, then an edit that meets the real
         * head.  The pages are closed with 4001, load the document again
         * from the server (no forged text) and send the edit again.
         */
        const head = (await fetchServer()).v;
        const forged = {a: 'op', c: 'docs', d: ID, v: head, src: 'forger',
                        seq: 1, op: ['FORGED ']};
        // signed with the deployment's key: only a host sharing
        // collab_src_secret can do this (anyone else is dropped)
        const channel = `collab:doc:4:docs/${ID}`;
        const key = crypto.createHmac('sha256', 'collab-test-src-secret')
            .update('collab redis bus v1').digest();
        const payload = `O6 forger${JSON.stringify(forged)}`;
        const sig = crypto.createHmac('sha256', key).update(channel)
            .update(Buffer.from([0])).update(payload).digest('base64url');
        await redisCli('PUBLISH', channel, `${sig}.${payload}`);
        await until(async () => (await state(a)).text.startsWith('FORGED'),
                    'the forged op reaches page A');
        await a.click('.cm-content');
        await a.keyboard.press('Control+End');
        await a.keyboard.type(RELOAD_TEXT, {delay: 10});
        await until(() => a.evaluate(() =>
            Number(document.body.dataset.reloads || 0) > 0),
            'page A is told the document was reloaded');
        text = await converged(pages, 'after the server reloaded');
        check(!text.includes('FORGED'),
              'the pages dropped the forged text: ' + JSON.stringify(text));
        check(text.endsWith(CUT_TEXT + RELOAD_TEXT),
              'the edit made on the forged text was sent again and kept');

        /*
         * PostgreSQL away for longer than collab_commit_wait (2 s here):
         * the server answers the edit with an error, the page keeps the
         * text, says so, and commits it once the database is back
         */
        const pgDir = (await run('psql', ['-X', '-tA', process.env.COLLAB_PG,
            '-c', 'SHOW data_directory'])).replace(/\/data\/?$/, '');
        const pgPort = /port=(\d+)/.exec(process.env.COLLAB_PG)[1];
        await pgCtl('stop', pgDir);
        try {
            await a.click('.cm-content');
            await a.keyboard.press('Control+End');
            await a.keyboard.type(KEPT_TEXT, {delay: 10});
            await until(() => a.evaluate(() => document
                .querySelector('.status').dataset.kept === 'true'),
                'page A says its edits are kept', 15000);
            const st = await a.evaluate(() =>
                document.querySelector('.status').textContent);
            check(/offline, your edits are kept/.test(st),
                  'the status says so: ' + st);
            await sleep(3000);
            check((await state(a)).text.endsWith(KEPT_TEXT),
                  'the page still shows what was typed, past the window');
        } finally {
            await pgCtl('start', pgDir, pgPort);
        }
        text = await converged(pages, 'after the database came back');
        check(text.endsWith(KEPT_TEXT),
              'the kept edit was committed: ' + JSON.stringify(text.slice(-60)));
        check(await a.evaluate(() => document.querySelector('.status')
                               .dataset.kept === 'false'),
              'the page no longer says its edits are kept');

        check(errors.length === 0, 'no page errors ' + errors.join('; '));
    } catch (e) {
        console.log('NOT OK: ' + e.stack);
        for (const p of pages) {
            console.log(JSON.stringify(await state(p).catch((x) => String(x))));
        }
        failures++;
    }

    await browser.close();
    console.log(failures ? `${failures} failed` : 'all passed');
    process.exit(failures ? 1 : 0);
})();
--- no_error_log
[crit]
