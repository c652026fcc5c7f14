const WebSocket = require('ws');
const ws = new WebSocket('ws://127.0.0.1:24010/ws');
ws.on('open', () => {
  ws.send(JSON.stringify({a:'hs',id:null,protocol:1,protocolMinor:2}));
  ws.send(JSON.stringify({a:'op',c:'t',d:'bad'+Date.now(),v:0,seq:1,create:{type:'text-unicode',data:'abc'}}));
  ws.send(JSON.stringify({a:'op',c:'t',d:'bad',v:1,seq:2,op:[{d:0}]}));
});
ws.on('message', (m) => console.log(String(m)));
setTimeout(() => process.exit(0), 1000);
