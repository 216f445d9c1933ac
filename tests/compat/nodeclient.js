// nodeclient.js: the compatibility matrix's Node client, the ssh2 module
// from npm (installed under the build tree by the runner).
//   node nodeclient.js CHECK     (NODE_PATH=<build>/compat/node/node_modules)
// The rest from the environment the runner sets (CX_*).  Exit 0 works,
// 1 fails (reason on stderr).
'use strict';
const { Client, utils } = require('ssh2');
const fs = require('fs');
const net = require('net');
const crypto = require('crypto');
const E = process.env;
const check = process.argv[2];

function fail(msg) { console.error(msg); process.exit(1); }
const sha = (p) => crypto.createHash('sha256').update(fs.readFileSync(p)).digest('hex');

// The host key: the one the runner names for this path, compared whole.
const want = Buffer.from(fs.readFileSync(E.CX_HOSTPUB, 'utf8').split(' ')[1], 'base64');
const opts = {
  host: E.CX_HOST, port: +E.CX_PORT, username: E.CX_USER,
  privateKey: fs.readFileSync(E.CX_KEY), readyTimeout: 15000,
  hostVerifier: (key) => Buffer.compare(key, want) === 0,
};
if (check === 'agent') { opts.agent = E.SSH_AUTH_SOCK; opts.agentForward = true; }
const PROBE = '/usr/bin/python3 ' + E.CX_ECHO_PY + ' probe ';
const c = new Client();

function run(cmd, o, stdin, cb) {
  c.exec(cmd, o, (err, st) => {
    if (err) fail('exec: ' + err.message);
    let out = '';
    st.on('data', (d) => { out += d; });
    st.stderr.on('data', () => {});
    st.on('close', (code) => cb(code, out));
    if (stdin) st.end(stdin); else st.end();
  });
}

c.on('error', (e) => fail('client: ' + e.message));
c.on('ready', () => {
  const done = () => { c.end(); process.exit(0); };
  switch (check) {
  case 'exec':
    return run('echo compat-out; exit 3', {}, null, (code, out) => {
      if (code !== 3 || out.trim() !== 'compat-out') fail(`exec: ${code} ${out}`);
      done();
    });
  case 'pty':
    return run('tty', { pty: { term: 'xterm' } }, null, (code, out) => {
      if (code !== 0 || !out.trim().startsWith('/dev/pts/')) fail(`pty: ${code} ${out}`);
      done();
    });
  case 'sftp':
  case 'symlink':
    return c.sftp((err, s) => {
      if (err) fail('sftp: ' + err.message);
      const up = E.CX_WORK + '/up-' + E.CX_TAG, down = E.CX_LOCAL + '/down-' + E.CX_TAG;
      if (check === 'symlink') {
        // ssh2: symlink(targetPath, linkPath)
        return s.symlink(E.CX_WORK + '/tgt-' + E.CX_TAG, E.CX_WORK + '/lnk-' + E.CX_TAG, (e) => {
          if (e) fail('symlink: ' + e.message);
          done();
        });
      }
      s.fastPut(E.CX_DATA, up, (e) => {
        if (e) fail('put: ' + e.message);
        s.fastGet(up, down, (e2) => {
          if (e2) fail('get: ' + e2.message);
          if (sha(E.CX_DATA) !== sha(up) || sha(up) !== sha(down)) fail('sftp: sha256 differs');
          done();
        });
      });
    });
  case 'fwd_l':
    return c.forwardOut('127.0.0.1', 0, '127.0.0.1', +E.CX_ECHO, (err, st) => {
      if (err) fail('direct-tcpip: ' + err.message);
      let got = '';
      st.on('data', (d) => {
        got += d;
        if (got === 'ping-L\n') done();
      });
      st.write('ping-L\n');
    });
  case 'fwd_r':
    c.on('tcp connection', (info, accept) => {
      const ch = accept();
      const s = net.connect(+E.CX_ECHO, '127.0.0.1');
      ch.pipe(s).pipe(ch);
    });
    return c.forwardIn('127.0.0.1', 0, (err, port) => {
      if (err) fail('tcpip-forward: ' + err.message);
      run(PROBE + port, {}, null, (code, out) => {
        if (code !== 0) fail(`fwd_r: port ${port}: ${code} ${out}`);
        done();
      });
    });
  case 'agent':
    return run('ssh-add -l', {}, null, (code, out) => {
      if (code !== 0 || !out.includes(E.CX_AGENT_FP)) fail(`agent: ${code} ${out}`);
      done();
    });
  case 'rekey': {
    // ssh2 1.x has no byte limit and no public rekey(): its protocol
    // object's rekey() starts a key exchange, and every completed one
    // emits 'handshake'.  Ten of them, each followed by a command.
    let n = 0;
    c.on('handshake', () => {
      n++;
      run('echo k' + n, {}, null, (code, out) => {
        if (code !== 0 || out.trim() !== 'k' + n) fail(`after rekey ${n}: ${code} ${out}`);
        if (n === 10) return done();
        c._protocol.rekey();
      });
    });
    c._protocol.rekey();
    return;
  }
  default:
    process.exit(3);
  }
});
c.connect(opts);
setTimeout(() => fail('timeout'), 90000).unref();
