# The editor in headless Chromium with auth on (Debian's chromium driven by
# playwright-core): two users sign in through the page's own form (alice
# creates her account there, bob's was made by a sign-up call), on a
# document that carol created (so carol owns it), where alice was granted
# editor and bob viewer by SQL (docs/access.md) and the change announced on
# Redis.  Each page shows who is signed in and the other's name; alice's
# page is editable, bob's shows the read-only badge and its editor is not
# editable.  Bob sees alice's typing live; his own typing changes nothing
# on the page and sends no op; an op forced through his page's sharedb
# connection is refused with ERR_FORBIDDEN and rolled back.  The server's
# snapshot (fetched with alice's token) is exactly carol's text plus
# alice's, and the op log holds carol's create and alice's ops only.
# Needs web/dist (make web) and /usr/bin/chromium (.ci/deps.sh).
use lib 't/lib';
use Test::Collab with => [qw(postgres redis)];
use File::Temp qw(tempdir);

my $keys = tempdir('collab-keys-XXXXXX', TMPDIR => 1, CLEANUP => 1);
system("openssl rand -out $keys/hs.key -hex 32") == 0 or die 'openssl';
$ENV{TEST_COLLAB_KEYS} = $keys;

run_tests();

__DATA__

=== TEST 1: an editor and a viewer: the viewer sees the typing live and cannot type
--- http_config
    include /etc/nginx/mime.types;
    collab_postgres "$TEST_COLLAB_PG";
    collab_commit_wait 2s;
    collab_redis $TEST_COLLAB_REDIS;
    collab_redis_prefix t62:;
    collab_auth_jwt_key_file HS256 $TEST_COLLAB_KEYS/hs.key local;
    collab_auth_jwt_issuer collab-t62;
    collab_auth_jwt_cookie collab_token;
    collab_allowed_origins http://127.0.0.1:$TEST_NGINX_PORT;
--- config
    location /auth/ { collab_auth_login; collab_auth_login_signup on; }
    location /ws { collab_websocket; collab_auth_jwt on; }
    location /api/ { collab_api; collab_auth_jwt on; }
    location / {
        root $TEST_COLLAB_ROOT/web/dist;
        index index.html;
        add_header Cache-Control "no-cache";
    }
--- node_timeout: 120
--- node
const path = require('path');
const {chromium} = require('playwright-core');
const sharedb = require('sharedb/lib/client');
const WebSocket = require('ws');
const textUnicode = require('ot-text-unicode');
const C = require(process.cwd() + '/lib/collab-client');

sharedb.types.register(textUnicode.type);

const HTTP = process.env.COLLAB_HTTP_URL;
const WS = process.env.COLLAB_WS_URL;
const ISS = 'collab-t62';
const ID = `roles-${process.pid}`;
const INITIAL = 'Minutes of the meeting\n';
const PART1 = '- alice opens the meeting 🎬';
const PART2 = '\n- bob watches, read only 👀';
const EXPECTED = INITIAL + PART1 + PART2;
const USERS = {
    alice: {password: 'alice password', name: 'Alice Liddell'},
    bob: {password: 'bob password', name: 'Bob Builder'},
    carol: {password: 'carol password', name: 'Carol Owner'},
};

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
        await sleep(50);
    }
}

async function signUp(user) {
    const res = await fetch(`${HTTP}/auth/signup`, {
        method: 'POST', headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({user, password: USERS[user].password,
                              name: USERS[user].name}),
    });
    const j = await res.json();
    if (res.status !== 200) throw new Error(`signup ${user}: ${JSON.stringify(j)}`);
    return j.token;
}

/* a stock sharedb client with a user's token; fn(doc, cb) */
function asUser(token, fn) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(WS, {headers: {
            Authorization: `Bearer ${token}`,
            Origin: HTTP,
        }});
        const c = new sharedb.Connection(ws);
        const d = c.get('docs', ID);
        fn(d, (err) => {
            const out = {v: d.version, data: d.data};
            c.close();
            err ? reject(err) : resolve(out);
        });
    });
}

async function grant(user, role) {
    const out = await C.psql(`INSERT INTO collab_members (doc, user_id, role)
        SELECT d.id, u.id, '${role}' FROM collab_docs d, collab_users u
         WHERE d.collection = 'docs' AND d.name = '${ID}'
           AND u.principal = '${ISS} ${user}'
        ON CONFLICT (doc, user_id)
           DO UPDATE SET role = EXCLUDED.role RETURNING role`);
    if (out.trim() !== role) throw new Error(`grant ${user} ${role}: ${out}`);
}

async function state(page) {
    return page.evaluate(() => {
        const c = window.collab;
        const v = c.view;
        const badge = document.querySelector('.doc-bar span.read-only');
        return {
            signin: document.body.dataset.signin,
            user: document.body.dataset.user,
            me: document.getElementById('me-name').value,
            meLocked: document.getElementById('me-name').readOnly,
            signOut: !document.getElementById('sign-out').hidden,
            text: v ? v.state.doc.toString() : null,
            data: c.doc ? c.doc.data : null,
            v: c.doc ? c.doc.version : null,
            pending: c.doc ? c.doc.hasWritePending() : null,
            localOps: window.localOps === undefined ? null : window.localOps,
            conn: document.getElementById('conn').dataset.state,
            readOnly: document.body.dataset.readOnly,
            stateReadOnly: v ? v.state.readOnly : null,
            editable: v ? v.contentDOM.getAttribute('contenteditable') : null,
            badge: badge ? !badge.hidden : null,
            peers: [...document.querySelectorAll('.peers .peer')]
                .map((e) => e.textContent),
        };
    });
}

/* the page's own form: sign in, or create the account first */
async function signInForm(page, user, create) {
    await page.goto(`${HTTP}/`);
    await until(() => page.evaluate(() => document.body.dataset.signin
                                    === 'true'), `${user}: the sign-in form`);
    if (create) {
        await page.click('form.sign-in button[type=button]');
        await page.fill('form.sign-in input[name=name]', USERS[user].name);
    }
    await page.fill('form.sign-in input[name=user]', user);
    await page.fill('form.sign-in input[name=password]',
                    USERS[user].password);
    await page.click('form.sign-in button[type=submit]');
    await until(async () => (await state(page)).signin === 'false'
                && (await state(page)).user === user, `${user}: signed in`);
}

async function openDoc(page, who) {
    await page.evaluate((id) => { location.hash = `#/d/${id}`; }, ID);
    await until(async () => {
        const s = await state(page);
        return s.text !== null && s.conn === 'connected'
            && s.readOnly !== undefined && s.badge !== null;
    }, `${who}: the editor`);
}

/* ops the page made itself, applied to its document even if refused later */
const countLocalOps = (page) => page.evaluate(() => {
    window.localOps = 0;
    window.collab.doc.on('before op', (op, source) => {
        if (source) window.localOps++;
    });
});

/* op messages a page sent on its WebSocket */
function watchOps(page, into) {
    page.on('websocket', (ws) => {
        ws.on('framesent', (f) => {
            let m;
            try { m = JSON.parse(f.payload); } catch (e) { return; }
            if (m && m.a === 'op') into.push(m);
        });
    });
}

/* every message this page sent before now has been answered */
const roundTrip = (page) => page.evaluate(() => new Promise((res) =>
    window.collab.doc.fetch(() => res())));

(async () => {
    const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
               '--no-first-run', '--disable-background-networking',
               '--disable-component-update', '--disable-sync'],
    });
    const errors = [];
    const bobOps = [];
    const pages = {};
    for (const who of ['alice', 'bob']) {
        const ctx = await browser.newContext({
            viewport: {width: 720, height: 460}, deviceScaleFactor: 1,
        });
        const page = await ctx.newPage();
        page.on('pageerror', (e) => errors.push(`${who}: ${e.message}`));
        pages[who] = page;
    }
    const {alice: a, bob: b} = pages;
    watchOps(b, bobOps);

    try {
        /* carol creates the document, so carol owns it */
        const carol = await signUp('carol');
        await signUp('bob');
        await asUser(carol, (d, cb) =>
            d.create(INITIAL, textUnicode.type.uri, cb));
        check(await C.psql(`SELECT u.principal || ' ' || m.role
            FROM collab_members m JOIN collab_users u ON u.id = m.user_id
            JOIN collab_docs d ON d.id = m.doc
            WHERE d.collection = 'docs' AND d.name = '${ID}'`)
              === `${ISS} carol owner`, 'carol owns the document');

        /* alice signs up in the form, bob signs in with his account */
        await signInForm(a, 'alice', true);
        await signInForm(b, 'bob', false);

        /* alice edits, bob views; announced to the workers */
        await grant('alice', 'editor');
        await grant('bob', 'viewer');
        await C.redis('PUBLISH', 't62:access', JSON.stringify(['docs', ID]));

        await openDoc(a, 'alice');
        await openDoc(b, 'bob');
        await countLocalOps(b);
        let sa = await state(a);
        let sb = await state(b);
        check(sa.text === INITIAL && sb.text === INITIAL,
              'both pages load the text');

        /* who is signed in: the header, and each other's name */
        check(sa.me === 'Alice Liddell' && sa.meLocked && sa.signOut,
              `alice's page shows her signed in: ${JSON.stringify(sa.me)}`);
        check(sb.me === 'Bob Builder' && sb.meLocked && sb.signOut,
              `bob's page shows him signed in: ${JSON.stringify(sb.me)}`);
        const named = async () => (await state(a)).peers.includes('Bob Builder')
            && (await state(b)).peers.includes('Alice Liddell');
        /*
         * A page's first presence can go before the server's Redis
         * subscription of the channel is active; the next caret move
         * sends it again, as any click does for a user (the names come
         * from the tokens either way).
         */
        if (!await until(named, 'the names', 5000).catch(() => false)) {
            await a.click('.cm-content');
            await b.click('.cm-content');
        }
        await until(named, "each page shows the other's name");
        check(true, "each page shows the other user's name");

        /* the roles on the page */
        check(sa.readOnly === 'false' && sa.badge === false
              && sa.stateReadOnly === false && sa.editable === 'true',
              `alice's editor is editable: ${JSON.stringify(sa)}`);
        check(sb.readOnly === 'true' && sb.badge === true
              && sb.stateReadOnly === true && sb.editable === 'false',
              `bob's editor is read only: ${JSON.stringify(sb)}`);
        check(await b.isVisible('span.read-only')
              && (await b.textContent('span.read-only')) === 'read only',
              "bob's page shows the read-only badge");
        check(!(await a.isVisible('span.read-only')),
              "alice's page has no read-only badge");

        /* bob types first: nothing changes, nothing is sent */
        await b.click('.cm-content');
        await b.keyboard.press('Control+End');
        await b.keyboard.type('bob was here', {delay: 10});
        await b.keyboard.press('Enter');
        await b.keyboard.press('Control+Home');
        await b.keyboard.press('Delete');
        await roundTrip(b);
        sb = await state(b);
        check(sb.text === INITIAL && sb.data === INITIAL && !sb.pending
              && sb.localOps === 0,
              `bob's typing changes nothing on his page: ${JSON.stringify(sb)}`);
        check(bobOps.length === 0,
              `bob's page sent no op: ${JSON.stringify(bobOps)}`);

        /* alice types; bob's page follows, part by part */
        await a.click('.cm-content');
        await a.keyboard.press('Control+End');
        const seen = new Set();
        const watch = (async () => {
            for (let i = 0; i < 200 && !seen.has(EXPECTED); i++) {
                seen.add((await state(b)).text);
                await sleep(30);
            }
        })();
        await a.keyboard.type(PART1, {delay: 30});
        await until(async () => (await state(b)).text === INITIAL + PART1,
                    "alice's first line on bob's page");
        check(true, "bob's page shows alice's first line while she types on");
        await a.keyboard.type(PART2, {delay: 30});
        await until(async () => (await state(b)).text === EXPECTED,
                    "alice's second line on bob's page");
        check(true, "bob's page shows alice's text: "
              + JSON.stringify((await state(b)).text));
        await watch;
        const partial = [...seen].filter((t) => t && t !== INITIAL
            && t !== INITIAL + PART1 && t !== EXPECTED
            && EXPECTED.startsWith(t));
        check(partial.length > 0, `bob's page followed keystroke by keystroke`
              + ` (${partial.length} texts between the lines)`);

        /* bob tries again at the end of alice's text */
        await b.click('.cm-content');
        await b.keyboard.press('Control+End');
        await b.keyboard.type(' bob again', {delay: 10});
        await b.keyboard.press('Backspace');
        await b.keyboard.press('Enter');
        await roundTrip(b);
        sb = await state(b);
        check(sb.text === EXPECTED && !sb.pending && sb.localOps === 0,
              `bob's second try changes nothing: ${JSON.stringify(sb)}`);
        check(bobOps.length === 0,
              `bob's page still sent no op: ${JSON.stringify(bobOps)}`);

        /* the server refuses an op forced through bob's connection */
        const forced = await b.evaluate(() => new Promise((res) => {
            const d = window.collab.doc;
            d.submitOp([0, 'FORCED '], (err) =>
                res(err ? {code: err.code, message: err.message} : null));
        }));
        check(forced && forced.code === 'ERR_FORBIDDEN',
              `an op forced from bob's page is refused: ${JSON.stringify(forced)}`);
        check(bobOps.length === 1 && (await state(b)).localOps === 1,
              'that op was applied on the page and sent');
        await until(async () => {
            const s = await state(b);
            return s.text === EXPECTED && s.data === EXPECTED && !s.pending;
        }, "bob's page rolls the forced op back");
        check(true, "bob's page rolled the refused op back, nothing pending");

        /* the server's snapshot, with alice's token */
        await until(async () => !(await state(a)).pending, 'alice idle');
        sa = await state(a);
        const token = (await a.context().cookies())
            .find((c) => c.name === 'collab_token');
        check(!!token && token.httpOnly, "alice's token is an HttpOnly cookie");
        const srv = await asUser(token.value, (d, cb) => d.fetch(cb));
        check(srv.data === EXPECTED,
              `the server has exactly alice's text: ${JSON.stringify(srv.data)}`);
        check(srv.v === sa.v && sa.text === EXPECTED,
              `alice's page is at the server's version (v${srv.v})`);

        /* the op log: carol's create, then alice's ops only */
        const log = (await C.psql(`SELECT o.kind || '|' || o.principal
            FROM collab_ops o JOIN collab_docs d ON d.id = o.doc
            WHERE d.collection = 'docs' AND d.name = '${ID}'
            ORDER BY o.version`)).trim().split('\n');
        check(log.length === srv.v && log[0] === `create|${ISS} carol`
              && log.length > 1
              && log.slice(1).every((r) => r === `op|${ISS} alice`),
              `the op log has carol's create and alice's ${log.length - 1} ops`
              + ` only: ${JSON.stringify([...new Set(log)])}`);

        check(errors.length === 0, 'no page errors ' + errors.join('; '));
    } catch (e) {
        console.log('NOT OK: ' + e.stack);
        for (const [who, p] of Object.entries(pages)) {
            console.log(who + ': '
                + JSON.stringify(await state(p).catch((x) => String(x))));
            await p.screenshot({path: path.join(process.env.COLLAB_ROOT,
                `build/t62-${who}.png`)}).catch(() => {});
        }
        failures++;
    }

    await browser.close();
    console.log(failures ? `${failures} failed` : 'all passed');
    process.exit(failures ? 1 : 0);
})();
--- error_log
"collab-t62 bob" may not change
--- no_error_log
[crit]
