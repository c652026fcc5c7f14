# The editor's pure parts under node's test runner (web/test/): CodeMirror
# changes <-> text-unicode ops over emoji text, the code point helpers and
# the presence transform.  Needs web/node_modules (make web).
use lib 't/lib';
use Test::Collab;

run_tests();

__DATA__

=== TEST 1: web/test passes
--- skip_nginx
--- node
const {spawnSync} = require('child_process');
const r = spawnSync(process.execPath, ['--test', 'test/'], {
    cwd: process.env.COLLAB_ROOT + '/web', encoding: 'utf8',
});
process.stdout.write(r.stdout + r.stderr);
process.exit(r.status === 0 ? 0 : 1);
